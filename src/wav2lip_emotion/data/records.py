"""The small description of one cached video that splits and pairing work on.

Ids are relative-path-like: MEAD and the generated world ``<actor>/<view>/<emotion>/level_<n>/<clip>``
(``M003/front/happy/level_3/001``), LRS2 ``<folder>/<clip>`` (``5535415699068794046/00001``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import DataError

#: MEAD actor ids: M (male) or W (female) and three digits, e.g. M003, W009
MEAD_ACTOR = re.compile(r"[MW]\d{3}")
_LEVEL_DIR = re.compile(r"level_(\d+)")


@dataclass(frozen=True)
class VideoRecord:
    """One video of the preprocessed cache."""

    #: unique, relative-path-like: "M003/front/happy/level_3/001" (MEAD/world), "5535415699068794046/00001" (LRS2)
    id: str
    #: "M003"; LRS2: the first path component (the folder)
    actor: str
    #: "001" (MEAD: the clip number within emotion/level); LRS2: the clip name
    sentence: str
    #: MEAD emotion name, or None (LRS2)
    emotion: str | None
    #: intensity 1..3, or None
    level: int | None
    #: camera view ("front", ...), or None
    view: str | None
    #: number of frames
    frames: int
    #: "female" / "male" when known
    gender: str | None = None

    @classmethod
    def from_id(cls, video_id: str, frames: int = 0, gender: str | None = None) -> VideoRecord:
        """A record from its id alone: the MEAD/world form (5 parts) or the LRS2 form (2 parts).

        The gender of a MEAD actor id (M.../W...) is inferred when not given.
        """
        parts = video_id.split("/")
        if len(parts) == 5:
            actor, view, emotion, level_dir, clip = parts
            m = _LEVEL_DIR.fullmatch(level_dir)
            if m is None:
                raise DataError(f"video id {video_id!r}: the 4th part must be level_<n>, got {level_dir!r}")
            if gender is None:
                gender = mead_gender(actor)
            return cls(video_id, actor, clip, emotion, int(m.group(1)), view, frames, gender)
        if len(parts) == 2 and all(parts):
            return cls(video_id, parts[0], parts[1], None, None, None, frames, gender)
        raise DataError(
            f"video id {video_id!r} is neither <actor>/<view>/<emotion>/level_<n>/<clip> (MEAD) "
            "nor <folder>/<clip> (LRS2)"
        )


def mead_gender(actor: str) -> str | None:
    """ "male" for M###, "female" for W### (MEAD's actor naming), None for any other id."""
    if MEAD_ACTOR.fullmatch(actor) is None:
        return None
    return "male" if actor[0] == "M" else "female"


__all__ = ["MEAD_ACTOR", "VideoRecord", "mead_gender"]
