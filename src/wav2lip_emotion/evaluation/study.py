"""A blinded user study like the paper's: build it, read the raters' answers back, score it as its Table 4.

The paper had 20 raters score 36 videos on three 1-5 scales: lip sync, visual quality, and emotion
(1 very sad, 3 neutral, 5 very happy). Its delta emotion is ``(e_g - e_s) / (e_d - e_s)``, with
``e_g``, ``e_s``, ``e_d`` the mean emotion ratings of the generated video and of the real videos of
the same actor and sentence in the source and destination emotions; ``1 - |1 - delta|`` for a
neutral destination (the same formula as :func:`..perception.affect.affect_delta`).

* :func:`make_study` samples translation *groups* (one actor/sentence/pair: the generated videos of
  the model variants plus the real source and destination videos), shuffles the videos, gives them
  blinded names (``clip_001.mp4`` ...) and writes a self-contained rating form, a rating sheet and
  the secret answer key (``key.csv``);
* :func:`read_ratings` reads the raters' CSV files (from the form or a filled spreadsheet), strictly;
* :func:`score_study` gives per variant the mean sync, quality and delta emotion, next to the
  paper's numbers, with the real videos as a ground-truth row.

Nothing here decodes a video: the media files are only copied (or hard-linked).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import math
import os
import random
import re
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..atomic import atomic_path
from ..errors import ConfigError, DataError, MediaError
from ..perception.affect import affect_delta, average_deltas, read_text_file
from ..perception.emotions import parse_emotion

Role = Literal["generated", "source", "destination"]
#: the roles of a video in a translation group
ROLES: tuple[str, ...] = ("generated", "source", "destination")
#: the emotions the rating scale can express (1 very sad .. 3 neutral .. 5 very happy)
SCALE_EMOTIONS: tuple[str, ...] = ("sad", "neutral", "happy")
#: the rating dimensions, in column order
DIMENSIONS: tuple[str, ...] = ("sync", "quality", "emotion")
#: columns of rating_sheet.csv and of the form's download, in this order
RATING_COLUMNS: tuple[str, ...] = ("rater", "clip", *DIMENSIONS)
#: columns of key.csv
KEY_COLUMNS: tuple[str, ...] = ("clip", "role", "variant", "source_emotion", "destination_emotion", "group", "path")
#: per dimension: (heading, question, labels of ratings 1..5)
SCALES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sync": (
        "Lip sync",
        "Do the lip movements match the speech?",
        ("out of sync", "mostly off", "acceptable", "good", "perfect"),
    ),
    "quality": (
        "Visual quality",
        "How good does the face look?",
        ("very poor", "poor", "fair", "good", "real-looking"),
    ),
    "emotion": (
        "Emotion",
        "Which emotion does the person show?",
        ("very sad", "sad", "neutral", "happy", "very happy"),
    ),
}
#: the paper's user-study numbers (Table 4, half masks): variant -> (sync, quality, delta emotion)
PAPER_TABLE4: dict[str, tuple[float, float, float]] = {
    "half/l1+emotion": (2.467, 2.138, 0.779),
    "half/emotion": (3.492, 2.887, 0.379),
    "half/l1": (2.758, 1.85, 0.732),
}
#: the label of the real videos' row in the scores
GROUND_TRUTH = "ground truth (real videos)"
DEFAULT_TITLE = "Talking-face video rating study"

_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")
_WHOLE = re.compile(r"[+]?(\d+)(?:\.0*)?")


# ------------------------------------------------------------------------------ data model


@dataclass(frozen=True)
class StudyVideo:
    """One video to be rated.

    ``role``: ``generated`` (a model's output; ``variant`` names the model variant, e.g.
    ``half/l1+emotion``) or ``source`` / ``destination`` (a real recording, ``variant`` None).
    ``pair``: (source emotion, destination emotion) of the translation, for every role; names as
    :func:`parse_emotion` takes them, normalised, from :data:`SCALE_EMOTIONS`. ``group``: the
    translation instance (e.g. ``M003/001/sad->happy``): the generated videos of one instance and
    its real source and destination videos share it. ConfigError for an inconsistent video.
    """

    path: Path
    role: Role
    variant: str | None
    pair: tuple[str, str]
    group: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if self.role not in ROLES:
            raise ConfigError(f"{self.path}: unknown role {self.role!r}; choose one of {', '.join(ROLES)}")
        if self.role == "generated":
            if not isinstance(self.variant, str) or not self.variant.strip():
                raise ConfigError(f"{self.path}: a generated video needs a variant name, got {self.variant!r}")
        elif self.variant is not None:
            raise ConfigError(f"{self.path}: a real ({self.role}) video has no variant, got {self.variant!r}")
        if not isinstance(self.group, str) or not self.group.strip():
            raise ConfigError(f"{self.path}: empty group name")
        object.__setattr__(self, "pair", _check_pair(self.pair, str(self.path)))

    @property
    def source_emotion(self) -> str:
        return self.pair[0]

    @property
    def destination_emotion(self) -> str:
        return self.pair[1]


def _check_pair(pair: object, where: str) -> tuple[str, str]:
    """(source, destination) as our emotion names, both on the rating scale and different."""
    if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
        raise ConfigError(f"{where}: pair must be (source emotion, destination emotion), got {pair!r}")
    names = tuple(parse_emotion(e).value for e in pair)
    for name in names:
        if name not in SCALE_EMOTIONS:
            raise ConfigError(
                f"{where}: emotion {name!r} cannot be rated on the study's scale "
                f"(1 very sad .. 3 neutral .. 5 very happy); use {', '.join(SCALE_EMOTIONS)}"
            )
    if names[0] == names[1]:
        raise ConfigError(f"{where}: pair {names[0]}->{names[1]} translates to the same emotion")
    return names[0], names[1]


@dataclass(frozen=True)
class StudyFiles:
    """What :func:`make_study` wrote (paths in the final study directory)."""

    key: Path
    sheet: Path
    form: Path
    clips_dir: Path
    n_items: int

    @property
    def readme(self) -> Path:
        return self.key.parent / "README.txt"


@dataclass(frozen=True)
class StudyClip:
    """One row of key.csv: a blinded clip and the video behind it."""

    clip: str
    role: str
    variant: str | None
    pair: tuple[str, str]
    group: str
    path: str


@dataclass(frozen=True)
class Rating:
    """One rater's ratings of one clip (None: not rated), and where they were read."""

    rater: str
    clip: str
    sync: int | None
    quality: int | None
    emotion: int | None
    file: str = ""
    line: int = 0

    def get(self, dimension: str) -> int | None:
        return {"sync": self.sync, "quality": self.quality, "emotion": self.emotion}[dimension]

    @property
    def rated(self) -> bool:
        return any(self.get(d) is not None for d in DIMENSIONS)


# ------------------------------------------------------------------------------ making a study


@dataclass
class _Group:
    name: str
    pair: tuple[str, str]
    source: StudyVideo | None = None
    destination: StudyVideo | None = None
    generated: list[StudyVideo] = field(default_factory=list)

    @property
    def variants(self) -> list[str]:
        return [v.variant or "" for v in self.generated]


def _collect(videos: Sequence[StudyVideo]) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for video in videos:
        if not isinstance(video, StudyVideo):
            raise ConfigError(f"expected StudyVideo items, got {type(video).__name__}")
        group = groups.setdefault(video.group, _Group(video.group, video.pair))
        if video.pair != group.pair:
            raise ConfigError(
                f"{video.path}: group {video.group!r} mixes pairs {'->'.join(group.pair)} and {'->'.join(video.pair)}"
            )
        if video.role == "generated":
            for other in group.generated:
                if other.variant == video.variant:
                    raise ConfigError(
                        f"group {video.group!r} has two videos of variant {video.variant!r}: "
                        f"{other.path} and {video.path}"
                    )
            group.generated.append(video)
            continue
        existing: StudyVideo | None = getattr(group, video.role)
        if existing is not None:
            raise ConfigError(f"group {video.group!r} has two {video.role} videos: {existing.path} and {video.path}")
        setattr(group, video.role, video)
    for group in groups.values():
        if group.generated:
            missing = [r for r in ("source", "destination") if getattr(group, r) is None]
            if missing:
                raise ConfigError(
                    f"{group.generated[0].path}: group {group.name!r} has no real {' and no '.join(missing)} video "
                    "(delta emotion needs both)"
                )
    return groups


def _sample_groups(pool: list[_Group], count: int | None, rng: random.Random) -> list[_Group]:
    """``count`` groups, balanced over pairs first, then over variants; all when None.

    Greedy: the next group is one of the pair chosen least so far, preferring groups whose variants
    have been chosen least (mean count), ties broken by a seeded shuffle.
    """
    pool = sorted(pool, key=lambda g: g.name)
    if count is None:
        return pool
    rng.shuffle(pool)
    pair_rank: dict[tuple[str, str], int] = {}
    for g in pool:
        pair_rank.setdefault(g.pair, len(pair_rank))
    pair_n: dict[tuple[str, str], int] = defaultdict(int)
    variant_n: dict[str, int] = defaultdict(int)
    remaining = list(enumerate(pool))
    chosen: list[_Group] = []
    for _ in range(count):

        def priority(item: tuple[int, _Group]) -> tuple[int, float, int, int]:
            index, g = item
            variants = g.variants
            return pair_n[g.pair], sum(variant_n[v] for v in variants) / len(variants), pair_rank[g.pair], index

        best = min(remaining, key=priority)
        remaining.remove(best)
        group = best[1]
        chosen.append(group)
        pair_n[group.pair] += 1
        for v in group.variants:
            variant_n[v] += 1
    return chosen


def _check_media(video: StudyVideo) -> None:
    if not video.path.exists():
        raise ConfigError(f"{video.path}: no such video file ({video.role} of group {video.group!r})")
    if not video.path.is_file():
        raise ConfigError(f"{video.path}: is not a file ({video.role} of group {video.group!r})")


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: exists and is not a directory")
    if (out_dir / "key.csv").exists():
        if not overwrite:
            raise ConfigError(f"{out_dir}: already holds a study (key.csv); choose another directory or overwrite it")
        return
    if any(out_dir.iterdir()):
        raise ConfigError(f"{out_dir}: exists, is not empty and holds no study; choose a new or empty directory")


def _place(src: Path, dst: Path, link: bool, stamp: float) -> None:
    """Copy ``src`` to ``dst`` with timestamp ``stamp`` (or hard-link it when ``link``, else copy)."""
    if link:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    try:
        shutil.copyfile(src, dst)
        os.utime(dst, (stamp, stamp))
    except OSError as exc:
        raise MediaError(f"{src}: cannot be copied into the study ({exc.strerror or exc})") from None


def _install(tmp: Path, out_dir: Path, overwrite: bool) -> None:
    """Rename the finished study ``tmp`` to ``out_dir``, replacing an old study there when allowed."""
    _check_out_dir(out_dir, overwrite)
    if not out_dir.exists():
        os.rename(tmp, out_dir)
        return
    if not (out_dir / "key.csv").exists():  # an empty directory
        out_dir.rmdir()
        os.rename(tmp, out_dir)
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    try:
        os.rename(out_dir, trash / "study")
        try:
            os.rename(tmp, out_dir)
        except BaseException:
            os.rename(trash / "study", out_dir)
            raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def _write(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def make_study(
    videos: Sequence[StudyVideo],
    out_dir: str | Path,
    *,
    count: int | None = None,
    seed: int = 0,
    title: str = DEFAULT_TITLE,
    copy_media: bool = True,
    overwrite: bool = False,
) -> StudyFiles:
    """Build a blinded rating study of ``videos`` in ``out_dir``.

    Samples ``count`` translation groups (None: all groups with a generated video; real-only groups
    are left out), balanced over emotion pairs first and variants second, seeded and deterministic.
    Every sampled group contributes its generated videos and, once each, its real source and
    destination videos. The items are shuffled with ``seed`` and named ``clip_001<ext>`` ... in
    shuffled order (the names tell nothing about role or variant; all videos must share one file
    type, since the extension would otherwise tell real from generated). Written:

    * ``clips/``: the media. ``copy_media=True``: byte copies, all with the same timestamp;
      ``False``: hard links where possible (no extra disk space, falling back to a copy), which keep
      the originals' timestamps and so may reveal which videos are generated: for local use only.
    * ``form.html``: a self-contained rating page (no external resources) that downloads the
      ratings as a CSV in the ``rating_sheet.csv`` format;
    * ``rating_sheet.csv``: ``rater, clip, sync, quality, emotion``, one row per clip, to fill in;
    * ``key.csv``: the SECRET answer key (clip -> role, variant, pair, group, original path);
    * ``README.txt``: what goes to the raters and what stays with the experimenter.

    Everything is written to a temporary sibling directory renamed into place at the end: on any
    error no partial study is left. ConfigError for: no videos, no generated video, a generated
    video whose group lacks its real source or destination, inconsistent groups, a missing media
    file, mixed file types, ``count`` out of range, or an ``out_dir`` that already holds a study
    (unless ``overwrite``) or other files. MediaError when a file cannot be copied.
    """
    out_dir = Path(out_dir)
    if not videos:
        raise ConfigError("no videos for the study (an empty list)")
    groups = _collect(videos)
    pool = [g for g in groups.values() if g.generated]
    if not pool:
        raise ConfigError("no generated videos: a study rates generated videos against real ones")
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"count must be a whole number >= 1 (or None for all groups), got {count!r}")
        if count > len(pool):
            raise ConfigError(f"count {count} is more than the {len(pool)} translation groups with generated videos")
    for video in videos:
        _check_media(video)
    _check_out_dir(out_dir, overwrite)

    rng = random.Random(seed)
    chosen = _sample_groups(pool, count, rng)
    order = {role: i for i, role in enumerate(ROLES)}
    items: list[StudyVideo] = []
    for group in chosen:
        assert group.source is not None and group.destination is not None
        items.extend([*group.generated, group.source, group.destination])
    items.sort(key=lambda v: (v.group, order[v.role], v.variant or ""))
    rng.shuffle(items)

    suffixes = sorted({v.path.suffix.lower() for v in items})
    if len(suffixes) > 1:
        raise ConfigError(
            f"the videos have different file types ({', '.join(s or 'none' for s in suffixes)}): the extension "
            "would tell raters which videos are real; convert them to one format first"
        )
    suffix = suffixes[0]
    if suffix and not _SUFFIX.fullmatch(suffix):
        raise ConfigError(f"unusual video file extension {suffix!r}; use a plain one such as .mp4")
    width = max(3, len(str(len(items))))
    clips = [(f"clip_{i:0{width}d}{suffix}", video) for i, video in enumerate(items, start=1)]

    key_text = _csv_text(
        KEY_COLUMNS,
        (
            (name, v.role, v.variant or "", v.source_emotion, v.destination_emotion, v.group, str(v.path.absolute()))
            for name, v in clips
        ),
    )
    sheet_text = _csv_text(RATING_COLUMNS, (("", name, "", "", "") for name, _ in clips))
    study_id = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    form_text = _form_html(title, [name for name, _ in clips], study_id)
    readme_text = _readme(title, len(clips), seed, link=not copy_media)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        tmp.chmod(0o755)
        clips_dir = tmp / "clips"
        clips_dir.mkdir()
        stamp = float(int(time.time()))
        for name, video in clips:
            _place(video.path, clips_dir / name, link=not copy_media, stamp=stamp)
        _write(tmp / "rating_sheet.csv", sheet_text)
        _write(tmp / "form.html", form_text)
        _write(tmp / "README.txt", readme_text)
        _write(tmp / "key.csv", key_text)
        _install(tmp, out_dir, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return StudyFiles(
        key=out_dir / "key.csv",
        sheet=out_dir / "rating_sheet.csv",
        form=out_dir / "form.html",
        clips_dir=out_dir / "clips",
        n_items=len(clips),
    )


def _readme(title: str, n: int, seed: int, link: bool) -> str:
    lines = [
        title,
        "=" * max(len(title), 1),
        "",
        f"A blinded rating study of {n} video clips (shuffled with seed {seed}).",
        "",
        "GIVE TO THE RATERS (copy these into a new folder, keeping the layout):",
        "  form.html         open it in a web browser: watch each clip, rate it, enter a name and press",
        '                    "Download my ratings"; the rater sends back the downloaded CSV file',
        "  clips/            the videos, named clip_001 ... in random order (form.html plays them from here)",
        "  rating_sheet.csv  the same ratings as a spreadsheet, for raters who do not use the form:",
        "                    fill in rater, sync, quality and emotion on every row (1-5, empty = not rated)",
        "",
        "KEEP WITH THE EXPERIMENTER (never give to raters):",
        "  key.csv           the answer key: which clip is which video (real or generated, model variant,",
        "                    emotion pair, group, original file)",
        "  README.txt        this file",
        "",
        "Scales, 1 to 5: lip sync 1 = out of sync .. 5 = perfect; visual quality 1 = very poor ..",
        "5 = real-looking; emotion 1 = very sad, 2 = sad, 3 = neutral, 4 = happy, 5 = very happy.",
        "",
        "Scoring: collect the raters' CSV files and call",
        "wav2lip_emotion.evaluation.study.score_study(<this folder>/key.csv, [<ratings files>]).",
    ]
    if link:
        lines += [
            "",
            "NOTE: clips/ holds hard links to the original videos; they keep the originals' timestamps,",
            "which may tell generated from real videos. Make the study again with copies before giving",
            "the clips to raters.",
        ]
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 0 auto; padding: 1rem 1rem 6rem; }
section.clip { border-top: 1px solid #bbb; padding: 1rem 0; }
video { width: 100%; max-height: 60vh; background: #000; }
fieldset { border: 1px solid #ddd; margin: .5rem 0; }
fieldset label { display: inline-block; margin: .2rem .8rem .2rem 0; white-space: nowrap; }
.bar { position: fixed; bottom: 0; left: 0; right: 0; background: #f4f4f4; border-top: 1px solid #bbb;
       padding: .6rem 1rem; text-align: center; }
.bar button { font-size: 1rem; margin-left: 1rem; }
""".strip()

# Pure helpers first (ratingsCsv builds exactly the rating_sheet.csv format), then the page wiring.
_JS = """
"use strict";
var FIELDS = ["sync", "quality", "emotion"];
function csvCell(value) {
  var s = String(value);
  return /[",\\r\\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}
function ratingsCsv(rater, rows) {
  var lines = ["rater,clip,sync,quality,emotion"];
  rows.forEach(function (row) { lines.push([rater].concat(row).map(csvCell).join(",")); });
  return lines.join("\\n") + "\\n";
}
if (typeof document !== "undefined") {
  (function () {
    var form = document.getElementById("ratings");
    var raterInput = document.getElementById("rater");
    var progress = document.getElementById("progress");
    var store = "wav2lip-emotion-study:" + document.body.getAttribute("data-study");
    var clips = Array.prototype.map.call(document.querySelectorAll("section.clip"), function (s) {
      return s.getAttribute("data-clip");
    });
    function field(clip, name) { return form.elements.namedItem(clip + ":" + name); }
    function rows() {
      return clips.map(function (clip) {
        return [clip].concat(FIELDS.map(function (f) { var el = field(clip, f); return el ? el.value : ""; }));
      });
    }
    function complete() {
      return rows().filter(function (r) { return r[1] && r[2] && r[3]; }).length;
    }
    function save() {
      var values = {};
      rows().forEach(function (r) { values[r[0]] = r.slice(1); });
      try { localStorage.setItem(store, JSON.stringify({ rater: raterInput.value, values: values })); } catch (e) {}
      progress.textContent = complete() + " of " + clips.length + " clips fully rated";
    }
    function restore() {
      var saved = null;
      try { saved = JSON.parse(localStorage.getItem(store) || "null"); } catch (e) {}
      if (saved && saved.values) {
        raterInput.value = saved.rater || "";
        clips.forEach(function (clip) {
          var v = saved.values[clip] || [];
          FIELDS.forEach(function (f, i) { var el = field(clip, f); if (el && v[i]) { el.value = v[i]; } });
        });
      }
    }
    function download() {
      var rater = raterInput.value.trim();
      if (!rater) { alert("Please enter your name or rater code first."); raterInput.focus(); return; }
      var missing = clips.length - complete();
      if (missing && !confirm(missing + " clips are not fully rated. Download anyway?")) { return; }
      var blob = new Blob([ratingsCsv(rater, rows())], { type: "text/csv;charset=utf-8" });
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = "ratings_" + (rater.replace(/[^A-Za-z0-9_-]+/g, "_") || "rater") + ".csv";
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }
    restore();
    form.addEventListener("change", save);
    raterInput.addEventListener("input", save);
    document.getElementById("download").addEventListener("click", download);
    save();
  })();
}
""".strip()


def _form_html(title: str, clips: Sequence[str], study_id: str) -> str:
    e = html.escape
    n = len(clips)
    scale_items = "\n".join(
        f"<li><b>{e(heading)}</b>: {e(question)} "
        + ", ".join(f"{k} = {e(label)}" for k, label in enumerate(labels, start=1))
        + ".</li>"
        for heading, question, labels in SCALES.values()
    )
    sections = []
    for index, clip in enumerate(clips, start=1):
        fieldsets = []
        for dim, (heading, question, labels) in SCALES.items():
            name = e(f"{clip}:{dim}")
            radios = "".join(
                f'<label><input type="radio" name="{name}" value="{k}"> {k} {e(label)}</label>'
                for k, label in enumerate(labels, start=1)
            )
            fieldsets.append(f"<fieldset><legend>{e(heading)}: {e(question)}</legend>{radios}</fieldset>")
        sections.append(
            f'<section class="clip" data-clip="{e(clip)}" id="{e(clip)}">\n'
            f"<h2>Clip {index} of {n}</h2>\n"
            f'<video controls preload="metadata" playsinline src="{e("clips/" + clip)}"></video>\n'
            + "\n".join(fieldsets)
            + "\n</section>"
        )
    body = "\n".join(sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)}</title>
<style>
{_CSS}
</style>
</head>
<body data-study="{e(study_id)}">
<h1>{e(title)}</h1>
<p>You will see {n} short videos of people speaking. Watch each one with sound (replay it as often as you
like) and rate it on three scales from 1 to 5:</p>
<ul>
{scale_items}
</ul>
<p>Rate every video on its own. If you cannot judge something, leave that rating empty. When you are done,
enter your name (or the code you were given) and press <b>Download my ratings</b>, then send the downloaded
CSV file to the experimenter. Your answers are kept in this browser until then.</p>
<p><label>Your name or rater code: <input id="rater" type="text" autocomplete="off"></label></p>
<form id="ratings" onsubmit="return false">
{body}
</form>
<div class="bar"><span id="progress"></span><button type="button" id="download">Download my ratings</button></div>
<script>
{_JS}
</script>
</body>
</html>
"""


# ------------------------------------------------------------------------------ reading files


def _csv_rows(path: Path, expected: Sequence[str]) -> Iterable[tuple[int, dict[str, str]]]:
    """(line number, {column: stripped cell}) per data row; the header must have the ``expected`` columns.

    The header is the first non-blank line; blank lines are skipped; the delimiter is ``,`` (``;`` or
    tab when the header has no comma, as some spreadsheets write); extra columns are ignored.
    """
    lines = read_text_file(path, DataError).splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip())
    head = lines[start]
    delimiter = "," if "," in head else ";" if ";" in head else "\t" if "\t" in head else ","
    reader = csv.reader(lines[start:], delimiter=delimiter)
    header = [c.strip().lower() for c in next(reader)]
    for name in header:
        if name and header.count(name) > 1:
            raise DataError(f"{path}, line {start + 1}: column {name!r} appears twice")
    missing = [c for c in expected if c not in header]
    if missing:
        found = ", ".join(repr(h) for h in header) or "none"
        raise DataError(
            f"{path}, line {start + 1}: missing column(s) {', '.join(missing)} "
            f"(expected {', '.join(expected)}; found {found})"
        )
    index = {c: header.index(c) for c in expected}
    for row in reader:
        line = start + reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: {len(row)} fields, the header has {len(header)}")
        yield line, {c: row[i].strip() for c, i in index.items()}


def read_key(path: str | Path) -> list[StudyClip]:
    """The clips of a study's ``key.csv``, validated (DataError naming the file and line)."""
    path = Path(path)
    clips: list[StudyClip] = []
    seen: dict[str, int] = {}
    for line, row in _csv_rows(path, KEY_COLUMNS):
        where = f"{path}, line {line}"
        clip = row["clip"]
        if not clip:
            raise DataError(f"{where}: empty clip name")
        if clip in seen:
            raise DataError(f"{where}: clip {clip!r} repeats line {seen[clip]}")
        seen[clip] = line
        role = row["role"]
        if role not in ROLES:
            raise DataError(f"{where}: unknown role {role!r}")
        variant = row["variant"] or None
        if (role == "generated") != (variant is not None):
            raise DataError(f"{where}: a {role} clip {'needs' if role == 'generated' else 'has no'} variant")
        try:
            pair = _check_pair((row["source_emotion"], row["destination_emotion"]), where)
        except ConfigError as exc:
            raise DataError(str(exc)) from None
        if not row["group"]:
            raise DataError(f"{where}: empty group")
        clips.append(StudyClip(clip, role, variant, pair, row["group"], row["path"]))
    if not clips:
        raise DataError(f"{path}: no clips under the header")
    groups: dict[str, list[StudyClip]] = defaultdict(list)
    for c in clips:
        groups[c.group].append(c)
    for name, members in groups.items():
        pairs = {c.pair for c in members}
        if len(pairs) > 1:
            raise DataError(f"{path}: group {name!r} mixes pairs {', '.join('->'.join(p) for p in sorted(pairs))}")
        for role in ("source", "destination"):
            n = sum(c.role == role for c in members)
            if n > 1 or (n == 0 and any(c.role == "generated" for c in members)):
                raise DataError(f"{path}: group {name!r} has {n} {role} clips, expected 1")
    return clips


def _rating_cell(where: str, column: str, text: str) -> int | None:
    if not text:
        return None
    m = _WHOLE.fullmatch(text)
    if m is None:
        raise DataError(f"{where}: {column} {text!r} is not a whole number from 1 to 5")
    value = int(m.group(1))
    if not 1 <= value <= 5:
        raise DataError(f"{where}: {column} {value} is outside 1..5")
    return value


def _read_ratings(paths: Sequence[str | Path], known: Mapping[str, object] | None, key_name: str) -> list[Rating]:
    if isinstance(paths, str | Path):
        paths = [paths]
    if not paths:
        raise DataError("no ratings files")
    ratings: list[Rating] = []
    seen: dict[tuple[str, str], str] = {}
    for p in paths:
        path = Path(p)
        for line, row in _csv_rows(path, RATING_COLUMNS):
            where = f"{path}, line {line}"
            rater = " ".join(row["rater"].split())
            values = {d: _rating_cell(where, d, row[d]) for d in DIMENSIONS}
            if not rater:
                if all(v is None for v in values.values()):
                    continue  # an unfilled row of the rating sheet
                raise DataError(f"{where}: ratings without a rater name")
            clip = row["clip"]
            if not clip:
                raise DataError(f"{where}: empty clip")
            if known is not None and clip not in known:
                raise DataError(f"{where}: unknown clip {clip!r} (not in {key_name})")
            if (rater, clip) in seen:
                raise DataError(f"{where}: rater {rater!r} rated clip {clip!r} already ({seen[rater, clip]})")
            seen[rater, clip] = where
            ratings.append(Rating(rater, clip, values["sync"], values["quality"], values["emotion"], str(path), line))
    return ratings


def read_ratings(paths: Sequence[str | Path], *, key: str | Path | None = None) -> list[Rating]:
    """The ratings in one or more returned CSV files (the form's downloads or filled rating sheets).

    Each file: a header with the columns ``rater, clip, sync, quality, emotion`` (any order, any
    case; other columns ignored), then one row per (rater, clip). Ratings are whole numbers 1..5;
    an empty cell is "not rated". Rows with no rater and no ratings (unfilled sheet rows) are
    skipped. With ``key`` (a key.csv), clip names must be the study's. DataError in one line naming
    the file and line for: a bad header, a rating that is not a whole number or outside 1..5,
    ratings without a rater, an unknown clip, the same (rater, clip) twice (across all files).
    """
    known = {c.clip: c for c in read_key(key)} if key is not None else None
    return _read_ratings(paths, known, str(key))


# ------------------------------------------------------------------------------ scoring


@dataclass(frozen=True)
class ClipScore:
    """Mean ratings of one clip; ``delta`` for generated clips (None for real ones, NaN when skipped)."""

    clip: str
    role: str
    variant: str | None
    pair: tuple[str, str]
    group: str
    n_raters: int
    sync: float
    quality: float
    emotion: float
    delta: float | None = None
    #: "scored", "equal" (e_d == e_s: nothing to measure) or "unrated" (a missing emotion mean)
    delta_status: str = ""


@dataclass(frozen=True)
class VariantScore:
    """One row of the Table 4 form: a variant (or the real videos) over its clips."""

    variant: str
    n_clips: int
    sync: float
    quality: float
    delta: float
    n_delta: int = 0
    n_equal: int = 0
    n_unrated: int = 0
    paper: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class PairScore:
    """Delta emotion of one variant on one emotion pair."""

    variant: str
    pair: tuple[str, str]
    n_clips: int
    delta: float
    n_delta: int
    n_equal: int
    n_unrated: int


def _mean(values: Iterable[float]) -> float:
    good = [v for v in values if math.isfinite(v)]
    return sum(good) / len(good) if good else math.nan


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@dataclass
class StudyScores:
    """The scores of a rated study: per variant, per (variant, pair), per clip, and counts."""

    variants: list[VariantScore]
    ground_truth: VariantScore
    pairs: list[PairScore]
    clips: list[ClipScore]
    n_raters: int
    n_clips: int
    n_clips_rated: int
    ratings_per_clip: tuple[int, int]

    def to_markdown(self) -> str:
        """The paper's Table 4 form next to its numbers, a per-pair delta-emotion table, and the counts."""
        lines = [
            "| variant | sync | quality | delta emotion | n clips | paper sync | paper quality | paper delta emotion |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in [*self.variants, self.ground_truth]:
            paper = row.paper or (None, None, None)
            cells = [_md(row.variant), _fmt(row.sync), _fmt(row.quality), _fmt(row.delta), str(row.n_clips)]
            cells += [_fmt(p) for p in paper]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            "| variant | pair | delta emotion | n clips | n scored | skipped (e_d = e_s) | unrated |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for p in self.pairs:
            cells = [_md(p.variant), "->".join(p.pair), _fmt(p.delta), str(p.n_clips), str(p.n_delta)]
            lines.append("| " + " | ".join([*cells, str(p.n_equal), str(p.n_unrated)]) + " |")
        lo, hi = self.ratings_per_clip
        lines += [
            "",
            f"{self.n_raters} raters; {self.n_clips_rated} of {self.n_clips} clips rated; "
            f"{lo}-{hi} raters per clip. Sync and quality: mean over clips of each clip's mean rating. "
            "Delta emotion: (e_g - e_s) / (e_d - e_s) of each generated clip's mean emotion rating against "
            "its real source and destination clips (1 - |1 - delta| for a neutral destination), averaged "
            "over all clips of a variant (every clip weighs the same); clips with e_d = e_s are skipped.",
        ]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        """Plain data (NaN as None) for JSON."""
        return _clean(
            {
                "counts": {
                    "raters": self.n_raters,
                    "clips": self.n_clips,
                    "clips_rated": self.n_clips_rated,
                    "ratings_per_clip_min": self.ratings_per_clip[0],
                    "ratings_per_clip_max": self.ratings_per_clip[1],
                },
                "variants": [asdict(v) for v in self.variants],
                "ground_truth": asdict(self.ground_truth),
                "pairs": [asdict(p) for p in self.pairs],
                "clips": [asdict(c) for c in self.clips],
            }
        )

    def to_csv(self, path: str | Path) -> Path:
        """One tidy CSV (written atomically): a row per variant, the real videos, (variant, pair) and clip."""
        header = (
            "level",
            "variant",
            "source_emotion",
            "destination_emotion",
            "clip",
            "role",
            "group",
            "n_clips",
            "n_raters",
            "sync",
            "quality",
            "emotion",
            "delta_emotion",
            "n_delta",
            "n_equal",
            "n_unrated",
            "paper_sync",
            "paper_quality",
            "paper_delta_emotion",
        )

        def num(x: float | None) -> str:
            return "" if x is None or not math.isfinite(x) else repr(float(x))

        rows: list[dict[str, object]] = []
        for level, v in [*(("variant", v) for v in self.variants), ("ground_truth", self.ground_truth)]:
            paper = v.paper or (None, None, None)
            rows.append(
                {
                    "level": level,
                    "variant": v.variant,
                    "n_clips": v.n_clips,
                    "sync": num(v.sync),
                    "quality": num(v.quality),
                    "delta_emotion": num(v.delta),
                    "n_delta": v.n_delta,
                    "n_equal": v.n_equal,
                    "n_unrated": v.n_unrated,
                    "paper_sync": num(paper[0]),
                    "paper_quality": num(paper[1]),
                    "paper_delta_emotion": num(paper[2]),
                }
            )
        for p in self.pairs:
            rows.append(
                {
                    "level": "pair",
                    "variant": p.variant,
                    "source_emotion": p.pair[0],
                    "destination_emotion": p.pair[1],
                    "n_clips": p.n_clips,
                    "delta_emotion": num(p.delta),
                    "n_delta": p.n_delta,
                    "n_equal": p.n_equal,
                    "n_unrated": p.n_unrated,
                }
            )
        for c in self.clips:
            rows.append(
                {
                    "level": "clip",
                    "variant": c.variant or "",
                    "source_emotion": c.pair[0],
                    "destination_emotion": c.pair[1],
                    "clip": c.clip,
                    "role": c.role,
                    "group": c.group,
                    "n_clips": 1,
                    "n_raters": c.n_raters,
                    "sync": num(c.sync),
                    "quality": num(c.quality),
                    "emotion": num(c.emotion),
                    "delta_emotion": num(c.delta),
                }
            )
        table = ([r.get(h, "") for h in header] for r in rows)
        path = Path(path)
        _write(path, _csv_text(header, table))
        return path


def score_study(key_path: str | Path, rating_paths: Sequence[str | Path]) -> StudyScores:
    """Score a rated study: the paper's Table 4 (sync, quality, delta emotion per variant) and more.

    Per clip: the mean over raters of each rating (empty cells skipped). Per variant: the mean over
    its generated clips of the clip means (clips nobody rated skipped); the real videos (source and
    destination) make the ground-truth row. Delta emotion per generated clip:
    :func:`affect_delta` of its mean emotion against its group's real source and destination clips
    (neutral-destination rule when the destination is neutral); clips whose source and destination
    means are equal, or that lack a mean, are skipped and counted. Per (variant, pair): the mean over
    its clips; per variant: the mean over all its clips (micro-average: each clip weighs the same,
    whatever its pair). The paper's numbers sit beside the variants named as in :data:`PAPER_TABLE4`.
    """
    key_path = Path(key_path)
    key = read_key(key_path)
    by_clip = {c.clip: c for c in key}
    ratings = _read_ratings(rating_paths, by_clip, str(key_path))

    values: dict[str, dict[str, list[int]]] = {c.clip: {d: [] for d in DIMENSIONS} for c in key}
    raters_of: dict[str, set[str]] = {c.clip: set() for c in key}
    for r in ratings:
        if not r.rated:
            continue
        raters_of[r.clip].add(r.rater)
        for d in DIMENSIONS:
            v = r.get(d)
            if v is not None:
                values[r.clip][d].append(v)
    means = {clip: {d: _mean(map(float, vs[d])) for d in DIMENSIONS} for clip, vs in values.items()}
    real_of: dict[tuple[str, str], str] = {(c.group, c.role): c.clip for c in key if c.role != "generated"}

    clips: list[ClipScore] = []
    for c in sorted(key, key=lambda c: c.clip):
        m = means[c.clip]
        delta: float | None = None
        status = ""
        if c.role == "generated":
            e_g = m["emotion"]
            e_s = means[real_of[c.group, "source"]]["emotion"]
            e_d = means[real_of[c.group, "destination"]]["emotion"]
            if not all(math.isfinite(x) for x in (e_g, e_s, e_d)):
                delta, status = math.nan, "unrated"
            elif e_d == e_s:
                delta, status = math.nan, "equal"
            else:
                delta, status = affect_delta(e_g, e_s, e_d, neutral_destination=c.pair[1] == "neutral"), "scored"
        clips.append(
            ClipScore(
                c.clip,
                c.role,
                c.variant,
                c.pair,
                c.group,
                len(raters_of[c.clip]),
                m["sync"],
                m["quality"],
                m["emotion"],
                delta,
                status,
            )
        )

    def row(name: str, members: list[ClipScore], paper: tuple[float, float, float] | None) -> VariantScore:
        mean_delta, n_delta = average_deltas(c.delta for c in members if c.delta is not None)
        return VariantScore(
            variant=name,
            n_clips=len(members),
            sync=_mean(c.sync for c in members),
            quality=_mean(c.quality for c in members),
            delta=mean_delta,
            n_delta=n_delta,
            n_equal=sum(c.delta_status == "equal" for c in members),
            n_unrated=sum(c.delta_status == "unrated" for c in members),
            paper=paper,
        )

    generated = [c for c in clips if c.role == "generated"]
    variant_names = sorted({c.variant or "" for c in generated})
    variants = [row(v, [c for c in generated if c.variant == v], PAPER_TABLE4.get(v)) for v in variant_names]
    real = [c for c in clips if c.role != "generated"]
    ground_truth = VariantScore(
        GROUND_TRUTH, len(real), _mean(c.sync for c in real), _mean(c.quality for c in real), math.nan
    )

    pairs: list[PairScore] = []
    for v in variant_names:
        for pair in sorted({c.pair for c in generated if c.variant == v}):
            members = [c for c in generated if c.variant == v and c.pair == pair]
            r = row(v, members, None)
            pairs.append(PairScore(v, pair, r.n_clips, r.delta, r.n_delta, r.n_equal, r.n_unrated))

    counts = [len(raters_of[c.clip]) for c in key]
    return StudyScores(
        variants=variants,
        ground_truth=ground_truth,
        pairs=pairs,
        clips=clips,
        n_raters=len({r.rater for r in ratings if r.rated}),
        n_clips=len(key),
        n_clips_rated=sum(n > 0 for n in counts),
        ratings_per_clip=(min(counts), max(counts)),
    )


def study_videos_from_evaluation(evaluation: str | Path, *, include_baselines: bool = False) -> list[StudyVideo]:
    """The videos of an ``evaluate`` output directory (its ``videos.csv``) as study items: every translated
    video, with its case's real source and destination videos. The ``ground-truth`` and ``copy`` baselines
    are left out unless ``include_baselines``. DataError when the directory holds no evaluation."""
    from .cases import BASELINES

    table = Path(evaluation) / "videos.csv"
    if not table.is_file():
        raise DataError(f"{evaluation}: no videos.csv here; give the --out directory of 'wav2lip-emotion evaluate'")
    with table.open(newline="") as f:
        rows = list(csv.DictReader(f))
    out: list[StudyVideo] = []
    real_added: set[tuple[str, str]] = set()
    for row in rows:
        if not row.get("destination_video"):
            raise DataError(f"{table}: an in-the-wild evaluation (no destination takes); a study needs a dataset's")
        if row["variant"] in BASELINES and not include_baselines:
            continue
        pair = (row["source_emotion"], row["destination_emotion"])
        group = row["case"]
        out.append(StudyVideo(Path(row["video"]), "generated", row["variant"], pair, group))
        for role, key in (("source", "source_video"), ("destination", "destination_video")):
            if (group, role) not in real_added:
                real_added.add((group, role))
                out.append(StudyVideo(Path(row[key]), role, None, pair, group))  # type: ignore[arg-type]
    if not any(v.role == "generated" for v in out):
        raise DataError(f"{table}: no translated videos to rate (only baselines?)")
    return out


def make_study_from_evaluation(
    evaluation: str | Path,
    out_dir: str | Path,
    *,
    count: int | None = None,
    seed: int = 0,
    overwrite: bool = False,
    include_baselines: bool = False,
) -> StudyFiles:
    """:func:`make_study` over the videos of an ``evaluate`` output directory."""
    videos = study_videos_from_evaluation(evaluation, include_baselines=include_baselines)
    return make_study(videos, out_dir, count=count, seed=seed, overwrite=overwrite)
