"""The blinded user study: building it (sampling, blinding, files, atomicity), reading ratings, scoring."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import subprocess
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from wav2lip_emotion.errors import ConfigError, DataError, MediaError
from wav2lip_emotion.evaluation.study import (
    GROUND_TRUTH,
    KEY_COLUMNS,
    RATING_COLUMNS,
    StudyVideo,
    install,
    make_study,
    read_key,
    read_ratings,
    score_study,
)
from wav2lip_emotion.evaluation.study.page import render_form, render_readme

A, B, C = "half/l1+emotion", "half/emotion", "full/l1+emotion"  # A, B are in the paper's table, C is not

#: group -> (pair, generated variants); distinctive names so a leak into the raters' files would show
GROUPS = {
    "M003_001_sad_happy": (("sad", "happy"), (A, B, C)),
    "M005_002_sad_happy": (("sad", "happy"), (A,)),
    "W009_003_happy_neutral": (("happy", "neutral"), (A, B)),
    "M003_004_neutral_sad": (("neutral", "sad"), (A,)),
}


def _file(root: Path, group: str, name: str, suffix: str = ".mp4") -> Path:
    path = root / "media" / group / f"{name.replace('/', '_')}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(f"not really a video: {group} {name}".encode())  # unique content per video
    return path


def make_videos(root: Path, groups: dict = GROUPS, suffix: str = ".mp4") -> list[StudyVideo]:
    videos = []
    for group, (pair, variants) in groups.items():
        for role in ("source", "destination"):
            videos.append(StudyVideo(_file(root, group, role, suffix), role, None, pair, group))  # type: ignore[arg-type]
        for variant in variants:
            videos.append(StudyVideo(_file(root, group, variant, suffix), "generated", variant, pair, group))
    return videos


def key_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------ data model


def test_study_video_normalises_and_validates(tmp_path):
    v = StudyVideo(tmp_path / "x.mp4", "generated", A, ("Sadness", "JOY"), "g")
    assert v.pair == ("sad", "happy") and v.source_emotion == "sad" and v.destination_emotion == "happy"
    with pytest.raises(ConfigError, match="needs a variant"):
        StudyVideo(tmp_path / "x.mp4", "generated", None, ("sad", "happy"), "g")
    with pytest.raises(ConfigError, match="has no variant"):
        StudyVideo(tmp_path / "x.mp4", "source", A, ("sad", "happy"), "g")
    with pytest.raises(ConfigError, match="unknown role"):
        StudyVideo(tmp_path / "x.mp4", "fake", None, ("sad", "happy"), "g")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cannot be rated"):  # the scale runs sad - neutral - happy only
        StudyVideo(tmp_path / "x.mp4", "source", None, ("angry", "happy"), "g")
    with pytest.raises(ConfigError, match="same emotion"):
        StudyVideo(tmp_path / "x.mp4", "source", None, ("sad", "sad"), "g")
    with pytest.raises(ConfigError, match="empty group"):
        StudyVideo(tmp_path / "x.mp4", "source", None, ("sad", "happy"), " ")


# ------------------------------------------------------------------------------ making a study


def test_files_blinding_and_key(tmp_path):
    videos = make_videos(tmp_path)
    files = make_study(videos, tmp_path / "study", seed=3)
    # 4 groups x (source + destination) + 7 generated
    assert files.n_items == 15
    assert {p.name for p in (tmp_path / "study").iterdir()} == {
        "clips",
        "key.csv",
        "rating_sheet.csv",
        "form.html",
        "README.txt",
    }
    names = sorted(p.name for p in files.clips_dir.iterdir())
    assert names == [f"clip_{i:03d}.mp4" for i in range(1, 16)]

    rows = key_rows(files.key)
    assert tuple(rows[0]) == KEY_COLUMNS
    assert [r["clip"] for r in rows] == names
    by_path = {str(v.path.absolute()): v for v in videos}
    for r in rows:  # every clip holds the bytes of the video the key says
        v = by_path[r["path"]]
        assert (files.clips_dir / r["clip"]).read_bytes() == v.path.read_bytes()
        assert (r["role"], r["variant"] or None, r["group"]) == (v.role, v.variant, v.group)
        assert (r["source_emotion"], r["destination_emotion"]) == v.pair
    # shuffled: roles are not in input order (all generated after their group's real videos would be)
    roles = [r["role"] for r in rows]
    assert roles != sorted(roles)

    # nothing the raters get names a group, variant, role or original file
    given = files.form.read_text() + files.sheet.read_text()
    for secret in [*GROUPS, A, B, C, "half", "generated", "source", "destination", "media", str(tmp_path)]:
        assert secret not in given, secret
    with files.sheet.open(newline="") as f:
        sheet = list(csv.reader(f))
    assert tuple(sheet[0]) == RATING_COLUMNS
    assert sheet[1:] == [["", n, "", "", ""] for n in names]
    readme = files.readme.read_text()
    assert "key.csv" in readme and "never give to raters" in readme and "form.html" in readme
    # copies carry one timestamp, not the originals' (which could tell generated from real)
    assert len({p.stat().st_mtime for p in files.clips_dir.iterdir()}) == 1
    assert read_key(files.key)[0].clip == "clip_001.mp4"


def test_seeded_and_deterministic(tmp_path):
    videos = make_videos(tmp_path)
    a = make_study(videos, tmp_path / "a", seed=7)
    b = make_study(list(reversed(videos)), tmp_path / "b", seed=7)  # input order does not matter either
    c = make_study(videos, tmp_path / "c", seed=8)
    assert a.key.read_text() == b.key.read_text()
    assert a.form.read_text() == b.form.read_text()
    order = [(r["path"]) for r in key_rows(a.key)]
    assert [(r["path"]) for r in key_rows(c.key)] != order
    assert sorted(r["path"] for r in key_rows(c.key)) == sorted(order)


def test_html_form(tmp_path):
    title = """<script>alert("x")</script> & 'quotes' <b>"""
    files = make_study(make_videos(tmp_path), tmp_path / "study", title=title)
    page = files.form.read_text()
    assert page.count("<video ") == files.n_items == 15
    srcs = re.findall(r'<video [^>]*src="([^"]+)"', page)
    assert srcs == [f"clips/clip_{i:03d}.mp4" for i in range(1, 16)]
    assert page.count('type="radio"') == 15 * 3 * 5
    # self-contained, relative paths only
    assert "http://" not in page and "https://" not in page and "<link" not in page and 'src="/' not in page
    assert str(tmp_path) not in page
    assert page.count("<script>") == 1  # the inline one; no <script src=...>
    # the title is escaped everywhere
    assert "<script>alert" not in page and "<b>" not in page.split("<body", 1)[1].split("<ul>", 1)[0]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quotes&#x27; &lt;b&gt;" in page
    # the scales' labels
    for label in ("1 very sad", "2 sad", "3 neutral", "4 happy", "5 very happy", "1 out of sync", "5 perfect"):
        assert label in page
    assert "1 very poor" in page and "5 real-looking" in page
    assert 'id="rater"' in page and "Download my ratings" in page and "Blob" in page


def test_page_templates_ship_as_package_data_and_escape():
    # the form, its style and script and the README are package data (the wheel ships templates/**)
    folder = resources.files("wav2lip_emotion") / "templates" / "study"
    for name in ("form.html", "study.css", "study.js", "README.txt"):
        assert (folder / name).is_file(), name
    assert "function ratingsCsv" in (folder / "study.js").read_text(encoding="utf-8")
    title = '</title><script>alert("x")</script>{{ 7*7 }}'
    page = render_form(title, ["clip_001.mp4", 'clip_"2".mp4'], "0123abcd")
    assert page.count("<script>") == 1 and "<script>alert" not in page and "</title><" not in page
    escaped = "&lt;/title&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;{{ 7*7 }}"
    assert f"<title>{escaped}</title>" in page and f"<h1>{escaped}</h1>" in page
    assert 'data-clip="clip_&quot;2&quot;.mp4"' in page and 'name="clip_&quot;2&quot;.mp4:sync"' in page
    assert (folder / "study.css").read_text(encoding="utf-8").strip() in page  # inlined as it is
    # the README is plain text: the title as it is, not HTML-escaped
    readme = render_readme("A & B <study>", 2, 0, hard_links=False)
    assert readme.startswith("A & B <study>\n=============\n") and "hard links" not in readme


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the form's script")
def test_form_download_matches_the_sheet_format(tmp_path):
    files = make_study(make_videos(tmp_path), tmp_path / "study")
    page = files.form.read_text()
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    rater = 'Ann, "the rater"'
    probe = (
        script
        + f"\nprocess.stdout.write(ratingsCsv({json.dumps(rater)}, "
        + '[["clip_001.mp4", "3", "", "5"], ["clip_002.mp4", "", "", ""]]));'
    )
    out = subprocess.run(["node", "-e", probe], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.splitlines()[0] == files.sheet.read_text().splitlines()[0]
    (tmp_path / "dl.csv").write_text(out)
    ratings = read_ratings([tmp_path / "dl.csv"], key=files.key)
    assert [(r.rater, r.clip, r.sync, r.quality, r.emotion) for r in ratings] == [
        (rater, "clip_001.mp4", 3, None, 5),
        (rater, "clip_002.mp4", None, None, None),
    ]


def test_every_generated_clip_has_its_real_videos_once(tmp_path):
    files = make_study(make_videos(tmp_path), tmp_path / "study", count=2, seed=1)
    rows = key_rows(files.key)
    groups = {r["group"] for r in rows}
    assert len(groups) == 2
    for g in groups:
        roles = Counter(r["role"] for r in rows if r["group"] == g)
        assert roles["source"] == 1 and roles["destination"] == 1 and roles["generated"] == len(GROUPS[g][1])


def test_balanced_over_pairs(tmp_path):
    pairs = [("sad", "happy"), ("neutral", "happy"), ("happy", "sad")]
    groups = {f"g{p}{i}": (pairs[p], (A, B, C)) for p in range(3) for i in range(4)}
    videos = make_videos(tmp_path, groups)
    for seed in range(4):
        files = make_study(videos, tmp_path / f"s{seed}", count=6, seed=seed)
        rows = [r for r in key_rows(files.key) if r["role"] == "source"]
        assert Counter((r["source_emotion"], r["destination_emotion"]) for r in rows) == dict.fromkeys(pairs, 2)
        assert files.n_items == 6 * 5
    # different seeds pick different groups
    picked = [frozenset(r["group"] for r in key_rows(tmp_path / f"s{s}" / "key.csv")) for s in range(4)]
    assert len(set(picked)) > 1


def test_balanced_over_variants(tmp_path):
    # one pair; six groups have only variant A, two only B: four groups are two of each
    groups = {f"a{i}": (("sad", "happy"), (A,)) for i in range(6)} | {
        f"b{i}": (("sad", "happy"), (B,)) for i in range(2)
    }
    videos = make_videos(tmp_path, groups)
    for seed in range(3):
        files = make_study(videos, tmp_path / f"s{seed}", count=4, seed=seed)
        gen = Counter(r["variant"] for r in key_rows(files.key) if r["role"] == "generated")
        assert gen == {A: 2, B: 2}


def test_hard_links_when_not_copying(tmp_path):
    videos = make_videos(tmp_path)
    files = make_study(videos, tmp_path / "study", copy_media=False)
    by_path = {r["clip"]: Path(r["path"]) for r in key_rows(files.key)}
    for clip, original in by_path.items():
        assert (files.clips_dir / clip).stat().st_ino == original.stat().st_ino
    assert "hard links" in files.readme.read_text()


def test_failing_copy_leaves_nothing(tmp_path, monkeypatch):
    videos = make_videos(tmp_path)
    real_copy = shutil.copyfile
    calls = []

    def flaky(src, dst, *args, **kwargs):
        calls.append(src)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(install.shutil, "copyfile", flaky)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(MediaError, match="No space left"):
        make_study(videos, tmp_path / "study")
    assert not (tmp_path / "study").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temporary directory left either

    # an existing study survives a failed overwrite untouched
    monkeypatch.setattr(install.shutil, "copyfile", real_copy)
    files = make_study(videos, tmp_path / "study", seed=1)
    key = files.key.read_text()
    calls.clear()
    monkeypatch.setattr(install.shutil, "copyfile", flaky)
    with pytest.raises(MediaError):
        make_study(videos, tmp_path / "study", seed=2, overwrite=True)
    assert files.key.read_text() == key
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "study"])


def test_out_dir_rules(tmp_path):
    videos = make_videos(tmp_path)
    first = make_study(videos, tmp_path / "study", seed=1)
    old_key = first.key.read_text()
    with pytest.raises(ConfigError, match=r"already holds a study \(key.csv\)"):
        make_study(videos, tmp_path / "study", seed=2)
    assert first.key.read_text() == old_key
    again = make_study(videos, tmp_path / "study", seed=2, overwrite=True)
    assert again.key == first.key and again.key.read_text() != old_key  # replaced by the new study
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media", "study"]
    (tmp_path / "empty").mkdir()
    make_study(videos, tmp_path / "empty")  # an empty directory is fine
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and holds no study"):
        make_study(videos, tmp_path / "busy", overwrite=True)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_make_study_refuses(tmp_path):
    videos = make_videos(tmp_path)
    out = tmp_path / "study"
    with pytest.raises(ConfigError, match="empty list"):
        make_study([], out)
    missing = videos[3].path
    missing.unlink()
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        make_study(videos, out)
    videos = make_videos(tmp_path)
    no_dest = [v for v in videos if not (v.group == "W009_003_happy_neutral" and v.role == "destination")]
    with pytest.raises(ConfigError, match=r"W009_003_happy_neutral.*no real destination"):
        make_study(no_dest, out)
    with pytest.raises(ConfigError, match="more than the 4 translation groups"):
        make_study(videos, out, count=5)
    with pytest.raises(ConfigError, match="count must be"):
        make_study(videos, out, count=0)
    with pytest.raises(ConfigError, match="two source videos"):
        make_study([*videos, StudyVideo(videos[2].path, "source", None, videos[2].pair, videos[2].group)], out)
    with pytest.raises(ConfigError, match="two videos of variant"):
        make_study([*videos, videos[2]], out)
    odd = StudyVideo(
        _file(tmp_path, "M005_002_sad_happy", "other", ".avi"), "generated", B, ("sad", "happy"), "M005_002_sad_happy"
    )
    with pytest.raises(ConfigError, match=r"different file types \(.avi, .mp4\)"):
        make_study([*videos, odd], out)
    real_only = [v for v in videos if v.role != "generated"]
    with pytest.raises(ConfigError, match="no generated videos"):
        make_study(real_only, out)
    assert not out.exists()


# ------------------------------------------------------------------------------ reading ratings


@pytest.fixture
def built(tmp_path):
    files = make_study(make_videos(tmp_path), tmp_path / "study", seed=5)
    return files


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_read_ratings_formats(built, tmp_path):
    assert read_ratings([built.sheet], key=built.key) == []  # the unfilled sheet: nothing rated yet
    sheet = write(
        tmp_path / "s.csv",
        "\ufeffEmotion;Clip;Rater;Sync;Quality;Comment\n"  # BOM, semicolons, other order, extra column
        "4.0;clip_001.mp4; Bo  B ;2;;looked odd\n"
        "\n"
        ";clip_002.mp4;;;;\n",
    )
    (r,) = read_ratings([sheet], key=built.key)
    assert (r.rater, r.clip, r.sync, r.quality, r.emotion, r.line) == ("Bo B", "clip_001.mp4", 2, None, 4, 2)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("ann,clip_001.mp4,6,3,3", r"line 3: sync 6 is outside 1\.\.5"),
        ("ann,clip_001.mp4,3,3.5,3", r"line 3: quality '3\.5' is not a whole number"),
        ("ann,clip_001.mp4,3,3,good", r"line 3: emotion 'good' is not a whole number"),
        ("ann,clip_999.mp4,3,3,3", r"line 3: unknown clip 'clip_999\.mp4' \(not in .*key\.csv\)"),
        ("ann,clip_002.mp4,3,3,3", r"line 3: rater 'ann' rated clip 'clip_002\.mp4' already \(.*line 2\)"),
        (",clip_001.mp4,3,,", r"line 3: ratings without a rater name"),
        ("ann,clip_003.mp4,3,3", r"line 3: 4 fields, the header has 5"),
    ],
)
def test_bad_rating_lines(built, tmp_path, row, message):
    path = write(tmp_path / "bad.csv", f"rater,clip,sync,quality,emotion\nann,clip_002.mp4,1,1,1\n{row}\n")
    with pytest.raises(DataError, match=r"bad\.csv, " + message):
        read_ratings([path], key=built.key)


def test_bad_rating_files(built, tmp_path):
    with pytest.raises(DataError, match=r"missing column.*emotion"):
        read_ratings([write(tmp_path / "h.csv", "rater,clip,sync,quality\nann,clip_001.mp4,1,1\n")])
    with pytest.raises(DataError, match="no such file"):
        read_ratings([tmp_path / "nope.csv"])
    with pytest.raises(DataError, match="empty file"):
        read_ratings([write(tmp_path / "e.csv", "\n\n")])
    with pytest.raises(DataError, match="no ratings files"):
        read_ratings([])
    # the same (rater, clip) in two files
    one = write(tmp_path / "1.csv", "rater,clip,sync,quality,emotion\nann,clip_001.mp4,1,1,1\n")
    two = write(tmp_path / "2.csv", "rater,clip,sync,quality,emotion\nann,clip_001.mp4,2,2,2\n")
    with pytest.raises(DataError, match=r"2\.csv, line 2: rater 'ann' rated clip 'clip_001\.mp4' already \(.*1\.csv"):
        read_ratings([one, two])


# ------------------------------------------------------------------------------ scoring

#: per video (group, variant or role): per rater (sync, quality, emotion); None = left empty
RATINGS: dict[tuple[str, str], dict[str, tuple[int | None, int | None, int | None]]] = {
    # g1 sad->happy: e_s = (1+2)/2 = 1.5, e_d = (5+4)/2 = 4.5, gap 3
    ("M003_001_sad_happy", "source"): {"r1": (4, 5, 1), "r2": (5, 5, 2)},
    ("M003_001_sad_happy", "destination"): {"r1": (5, 4, 5), "r2": (5, 4, 4), "r3": (5, None, None)},
    ("M003_001_sad_happy", A): {"r1": (3, 2, 4), "r2": (4, 3, 3)},  # e_g 3.5: (3.5-1.5)/3 = 2/3
    ("M003_001_sad_happy", B): {"r1": (4, 1, 2), "r2": (5, 2, 2)},  # e_g 2: (2-1.5)/3 = 1/6
    ("M003_001_sad_happy", C): {"r1": (3, 3, 3), "r2": (3, 3, 3)},  # e_g 3: (3-1.5)/3 = 0.5
    # g2 sad->happy: e_s = 2, e_d = 4.5, gap 2.5
    ("M005_002_sad_happy", "source"): {"r1": (5, 5, 2), "r2": (5, 5, 2)},
    ("M005_002_sad_happy", "destination"): {"r1": (5, 5, 4), "r2": (5, 5, 5)},
    ("M005_002_sad_happy", A): {"r1": (2, 3, 3), "r2": (2, 3, 4)},  # e_g 3.5: 1.5/2.5 = 0.6
    # g3 happy->neutral: e_s = 5, e_d = 4, gap -1
    ("W009_003_happy_neutral", "source"): {"r1": (5, 5, 5), "r2": (5, 5, 5)},
    ("W009_003_happy_neutral", "destination"): {"r1": (5, 5, 4), "r2": (5, 5, 4)},
    ("W009_003_happy_neutral", A): {"r1": (5, 4, 3), "r2": (4, 4, 4)},  # e_g 3.5: raw 1.5 (overshoot) -> 0.5
    ("W009_003_happy_neutral", B): {"r1": (3, 2, 4), "r2": (3, 2, 4)},  # e_g 4: raw 1.0 -> 1.0
    # g4 neutral->sad: e_s = e_d = 2.5: nothing to measure, skipped and counted
    ("M003_004_neutral_sad", "source"): {"r1": (5, 5, 3), "r2": (5, 5, 2)},
    ("M003_004_neutral_sad", "destination"): {"r1": (5, 5, 2), "r2": (5, 5, 3)},
    ("M003_004_neutral_sad", A): {"r1": (1, 1, 2), "r2": (2, None, 2)},
}


def _cell(v: int | None) -> str:
    return "" if v is None else str(v)


@pytest.fixture
def rated(built, tmp_path):
    clip_of = {(r["group"], r["variant"] or r["role"]): r["clip"] for r in key_rows(built.key)}
    assert set(clip_of) == set(RATINGS)
    files = []
    for name, raters in (("r1.csv", ("r1",)), ("r23.csv", ("r2", "r3"))):
        lines = ["rater,clip,sync,quality,emotion"]
        for video, by_rater in RATINGS.items():
            for rater in raters:
                if rater in by_rater:
                    lines.append(",".join([rater, clip_of[video], *map(_cell, by_rater[rater])]))
        files.append(write(tmp_path / name, "\n".join(lines) + "\n"))
    return built, files, clip_of


def test_score_study_by_hand(rated, tmp_path):
    built, files, clip_of = rated
    scores = score_study(built.key, files)
    rows = {v.variant: v for v in scores.variants}
    assert list(rows) == [C, B, A]  # sorted by name

    a = rows[A]
    assert a.n_clips == 4
    assert a.sync == pytest.approx((3.5 + 2 + 4.5 + 1.5) / 4)  # 2.875
    assert a.quality == pytest.approx((2.5 + 3 + 4 + 1) / 4)  # 2.625 (g4: r2 left quality empty -> 1)
    # micro-average over A's three scored clips, whatever their pair: (2/3 + 0.6 + 0.5) / 3 = 0.58889
    assert a.delta == pytest.approx((2 / 3 + 0.6 + 0.5) / 3)
    assert (a.n_delta, a.n_equal, a.n_unrated) == (3, 1, 0)
    assert a.paper == (2.467, 2.138, 0.779)

    b = rows[B]
    assert (b.sync, b.quality) == (pytest.approx((4.5 + 3) / 2), pytest.approx((1.5 + 2) / 2))  # 3.75, 1.75
    assert b.delta == pytest.approx((1 / 6 + 1.0) / 2)  # 7/12
    assert b.paper == (3.492, 2.887, 0.379)
    c = rows[C]
    assert (c.sync, c.quality, c.delta, c.paper) == (3.0, 3.0, pytest.approx(0.5), None)

    gt = scores.ground_truth
    assert gt.variant == GROUND_TRUTH and gt.n_clips == 8
    assert gt.sync == pytest.approx((4.5 + 7 * 5) / 8)  # 4.9375: only g1's source has a 4
    assert gt.quality == pytest.approx((4 + 7 * 5) / 8)  # 4.875: only g1's destination has 4s
    assert math.isnan(gt.delta)

    pairs = {(p.variant, p.pair): p for p in scores.pairs}
    sad_happy = pairs[A, ("sad", "happy")]
    assert (sad_happy.n_clips, sad_happy.delta) == (2, pytest.approx((2 / 3 + 0.6) / 2))  # 0.63333
    assert pairs[A, ("happy", "neutral")].delta == pytest.approx(0.5)  # the overshoot case
    skipped = pairs[A, ("neutral", "sad")]
    assert math.isnan(skipped.delta) and (skipped.n_clips, skipped.n_delta, skipped.n_equal) == (1, 0, 1)
    # the micro-average is not the mean of the pair means: (0.63333 + 0.5) / 2 = 0.56667 != 0.58889
    pair_means = [p.delta for p in scores.pairs if p.variant == A and math.isfinite(p.delta)]
    assert sum(pair_means) / len(pair_means) == pytest.approx(0.566667, abs=1e-6)
    assert a.delta != pytest.approx(sum(pair_means) / len(pair_means))

    clips = {c.clip: c for c in scores.clips}
    over = clips[clip_of["W009_003_happy_neutral", A]]
    assert (over.emotion, over.delta, over.delta_status) == (3.5, pytest.approx(0.5), "scored")
    eq = clips[clip_of["M003_004_neutral_sad", A]]
    assert math.isnan(eq.delta) and eq.delta_status == "equal"
    assert clips[clip_of["M003_001_sad_happy", "source"]].delta is None
    assert clips[clip_of["M003_001_sad_happy", "destination"]].n_raters == 3

    assert (scores.n_raters, scores.n_clips, scores.n_clips_rated, scores.ratings_per_clip) == (3, 15, 15, (2, 3))


def test_score_outputs(rated, tmp_path):
    built, files, _ = rated
    scores = score_study(built.key, files)
    md = scores.to_markdown()
    assert md.startswith("| variant | sync | quality | delta emotion | n clips | paper sync | paper quality |")
    assert f"| {A} | 2.875 | 2.625 | 0.589 | 4 | 2.467 | 2.138 | 0.779 |" in md
    assert f"| {B} | 3.750 | 1.750 | 0.583 | 2 | 3.492 | 2.887 | 0.379 |" in md
    assert f"| {C} | 3.000 | 3.000 | 0.500 | 1 | - | - | - |" in md
    assert f"| {GROUND_TRUTH} | 4.938 | 4.875 | - | 8 | - | - | - |" in md
    assert f"| {A} | neutral->sad | - | 1 | 0 | 1 | 0 |" in md
    assert f"| {A} | sad->happy | 0.633 | 2 | 2 | 0 | 0 |" in md
    assert "3 raters; 15 of 15 clips rated; 2-3 raters per clip" in md

    data = scores.as_dict()
    json.dumps(data, allow_nan=False)  # NaN became None
    assert data["counts"] == {
        "raters": 3,
        "clips": 15,
        "clips_rated": 15,
        "ratings_per_clip_min": 2,
        "ratings_per_clip_max": 3,
    }
    assert data["ground_truth"]["delta"] is None

    out = scores.to_csv(tmp_path / "out" / "scores.csv")
    rows = key_rows(out)
    levels = Counter(r["level"] for r in rows)
    assert levels == {"variant": 3, "ground_truth": 1, "pair": 6, "clip": 15}  # pairs: A 3, B 2, C 1
    a = next(r for r in rows if r["level"] == "variant" and r["variant"] == A)
    assert float(a["sync"]) == pytest.approx(2.875) and a["paper_delta_emotion"] == "0.779"
    assert [p.name for p in out.parent.iterdir()] == ["scores.csv"]  # no temporary file left


def test_unrated_clips_are_counted(built, tmp_path):
    # only one generated clip rated: its real clips have no emotion mean, so its delta is "unrated" (as is
    # that of B's other clip, which nobody rated)
    clip = next(r["clip"] for r in key_rows(built.key) if r["role"] == "generated" and r["variant"] == B)
    path = write(tmp_path / "r.csv", f"rater,clip,sync,quality,emotion\nann,{clip},4,2,3\n")
    scores = score_study(built.key, [path])
    b = next(v for v in scores.variants if v.variant == B)
    assert (b.sync, b.quality, b.n_delta, b.n_unrated) == (4.0, 2.0, 0, 2)
    assert math.isnan(b.delta)
    a = next(v for v in scores.variants if v.variant == A)
    assert math.isnan(a.sync) and a.n_unrated == 4
    assert (scores.n_clips_rated, scores.ratings_per_clip) == (1, (0, 1))
    assert "| - | - | - | 4 | 2.467" in scores.to_markdown()


def test_bad_key(tmp_path):
    with pytest.raises(DataError, match="missing column"):
        read_key(write(tmp_path / "k.csv", "clip,role\nclip_001.mp4,source\n"))
    head = ",".join(KEY_COLUMNS)
    with pytest.raises(DataError, match="line 3: clip 'c1' repeats line 2"):
        read_key(write(tmp_path / "k.csv", f"{head}\nc1,source,,sad,happy,g,x\nc1,destination,,sad,happy,g,y\n"))
    with pytest.raises(DataError, match="group 'g' has 0 destination clips"):
        read_key(write(tmp_path / "k.csv", f"{head}\nc1,source,,sad,happy,g,x\nc2,generated,v,sad,happy,g,y\n"))
