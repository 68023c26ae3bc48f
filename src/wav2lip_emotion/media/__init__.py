"""Media input/output: streaming video reading and writing (PyAV) and still images (Pillow)."""

from __future__ import annotations

from .images import IMAGE_SUFFIXES, is_image_path, read_image, write_image
from .video import (
    MP4_AUDIO_COPY_CODECS,
    Frame,
    VideoInfo,
    VideoReader,
    VideoWriter,
    iter_frames,
    probe_video,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "MP4_AUDIO_COPY_CODECS",
    "Frame",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "is_image_path",
    "iter_frames",
    "probe_video",
    "read_image",
    "write_image",
]
