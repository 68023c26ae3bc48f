"""A blinded user study like the paper's: build it, read the raters' answers back, score it as its Table 4.

The paper had 20 raters score 36 videos on three 1-5 scales: lip sync, visual quality, and emotion
(1 very sad, 3 neutral, 5 very happy). Its delta emotion is ``(e_g - e_s) / (e_d - e_s)``, with
``e_g``, ``e_s``, ``e_d`` the mean emotion ratings of the generated video and of the real videos of
the same actor and sentence in the source and destination emotions; ``1 - |1 - delta|`` for a
neutral destination (the same formula as :func:`...perception.affect.affect_delta`).

* :func:`make_study` (:mod:`.make`) samples translation *groups* (one actor/sentence/pair: the
  generated videos of the model variants plus the real source and destination videos; :mod:`.clips`),
  shuffles the videos, gives them blinded names (``clip_001.mp4`` ...) and writes a self-contained
  rating form (:mod:`.page`, from the templates in ``wav2lip_emotion/templates/study/``), a rating
  sheet and the secret answer key (``key.csv``), all at once (:mod:`.install`);
* :func:`read_ratings` (:mod:`.ratings`) reads the raters' CSV files (from the form or a filled
  spreadsheet), strictly;
* :func:`score_study` (:mod:`.scoring`) gives per variant the mean sync, quality and delta emotion,
  next to the paper's numbers, with the real videos as a ground-truth row.

Nothing here decodes a video: the media files are only copied (or hard-linked).
"""

from __future__ import annotations

from .clips import (
    DIMENSIONS,
    KEY_COLUMNS,
    RATING_COLUMNS,
    ROLES,
    SCALE_EMOTIONS,
    Role,
    StudyClip,
    StudyVideo,
)
from .make import StudyFiles, make_study, make_study_from_evaluation, study_videos_from_evaluation
from .page import DEFAULT_TITLE, SCALES
from .ratings import Rating, read_key, read_ratings
from .scoring import (
    GROUND_TRUTH,
    PAPER_TABLE4,
    ClipScore,
    PairScore,
    StudyScores,
    VariantScore,
    score_study,
)

__all__ = [
    "DEFAULT_TITLE",
    "DIMENSIONS",
    "GROUND_TRUTH",
    "KEY_COLUMNS",
    "PAPER_TABLE4",
    "RATING_COLUMNS",
    "ROLES",
    "SCALES",
    "SCALE_EMOTIONS",
    "ClipScore",
    "PairScore",
    "Rating",
    "Role",
    "StudyClip",
    "StudyFiles",
    "StudyScores",
    "StudyVideo",
    "VariantScore",
    "make_study",
    "make_study_from_evaluation",
    "read_key",
    "read_ratings",
    "score_study",
    "study_videos_from_evaluation",
]
