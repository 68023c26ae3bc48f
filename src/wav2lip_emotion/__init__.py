"""wav2lip-emotion: change the facial emotion in a talking-face video, keeping lip sync."""

from __future__ import annotations

__version__ = "0.1.0"
