"""wav2lip-emotion: change the facial emotion in a talking-face video, keeping lip sync."""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .evaluation import evaluate
    from .translation import translate

__all__ = ["__version__", "evaluate", "translate"]


def __getattr__(name: str) -> Any:
    # ``wav2lip_emotion.translate(...)`` without importing torch on ``import wav2lip_emotion``
    if name == "translate":
        from .translation import translate

        return translate
    if name == "evaluate":
        from .evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'wav2lip_emotion' has no attribute {name!r}")
