"""Making a study: sample translation groups, blind and shuffle their videos, write the study folder.

:func:`make_study` samples groups (:mod:`.clips`), names the shuffled videos ``clip_001.mp4`` ...,
renders the rating form and README (:mod:`.page`) and installs everything at once (:mod:`.install`).
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError, DataError
from .clips import KEY_COLUMNS, RATING_COLUMNS, StudyVideo, blinded_items, collect_groups, sample_groups
from .install import check_media, check_out_dir, csv_text, write_study
from .page import DEFAULT_TITLE, render_form, render_readme

_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")


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


def _clip_suffix(items: Sequence[StudyVideo]) -> str:
    """The one file extension of all the videos (a mix would tell raters which videos are real)."""
    suffixes = sorted({v.path.suffix.lower() for v in items})
    if len(suffixes) > 1:
        raise ConfigError(
            f"the videos have different file types ({', '.join(s or 'none' for s in suffixes)}): the extension "
            "would tell raters which videos are real; convert them to one format first"
        )
    suffix = suffixes[0]
    if suffix and not _SUFFIX.fullmatch(suffix):
        raise ConfigError(f"unusual video file extension {suffix!r}; use a plain one such as .mp4")
    return suffix


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
    groups = collect_groups(videos)
    pool = [g for g in groups.values() if g.generated]
    if not pool:
        raise ConfigError("no generated videos: a study rates generated videos against real ones")
    if count is not None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"count must be a whole number >= 1 (or None for all groups), got {count!r}")
        if count > len(pool):
            raise ConfigError(f"count {count} is more than the {len(pool)} translation groups with generated videos")
    for video in videos:
        check_media(video)
    check_out_dir(out_dir, overwrite)

    rng = random.Random(seed)
    items = blinded_items(sample_groups(pool, count, rng), rng)
    suffix = _clip_suffix(items)
    width = max(3, len(str(len(items))))
    clips = [(f"clip_{i:0{width}d}{suffix}", video) for i, video in enumerate(items, start=1)]

    key_text = csv_text(
        KEY_COLUMNS,
        (
            (name, v.role, v.variant or "", v.source_emotion, v.destination_emotion, v.group, str(v.path.absolute()))
            for name, v in clips
        ),
    )
    study_id = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    texts = {  # in this order: key.csv, whose presence marks a study, last
        "rating_sheet.csv": csv_text(RATING_COLUMNS, (("", name, "", "", "") for name, _ in clips)),
        "form.html": render_form(title, [name for name, _ in clips], study_id),
        "README.txt": render_readme(title, len(clips), seed, hard_links=not copy_media),
        "key.csv": key_text,
    }
    write_study(out_dir, clips, texts, link=not copy_media, overwrite=overwrite)
    return StudyFiles(
        key=out_dir / "key.csv",
        sheet=out_dir / "rating_sheet.csv",
        form=out_dir / "form.html",
        clips_dir=out_dir / "clips",
        n_items=len(clips),
    )


def study_videos_from_evaluation(evaluation: str | Path, *, include_baselines: bool = False) -> list[StudyVideo]:
    """The videos of an ``evaluate`` output directory (its ``videos.csv``) as study items: every translated
    video, with its case's real source and destination videos. The ``ground-truth`` and ``copy`` baselines
    are left out unless ``include_baselines``. DataError when the directory holds no evaluation."""
    from ..cases import BASELINES

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
