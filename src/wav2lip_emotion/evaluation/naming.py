"""Names of an evaluation's files: variant and clip names as single path components."""

from __future__ import annotations


def safe_name(name: str) -> str:
    """``name`` as one file or directory name: every character but a letter, a digit or one of ``-_.+``
    becomes ``_`` (``"mesh@0.5"`` -> ``"mesh_0.5"``). The generated videos and the measurement cache of a
    variant live under ``safe_name(variant)``, so evaluate, the wild evaluation and the demos agree."""
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)
