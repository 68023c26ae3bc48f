"""Media input/output: streaming video probing (``probe``), reading (``reader``) and writing (``writer``,
with ``audio_mux``; in resumable pieces: ``segments``) with PyAV, decoded 4:2:0 planes kept and written
back in part (``planes``), and still images (``images``, Pillow). ``video`` gathers the video API."""

from __future__ import annotations

from .audio_mux import MP4_AUDIO_COPY_CODECS
from .images import IMAGE_SUFFIXES, is_image_path, read_image, read_image_alpha, write_image
from .probe import VideoInfo, probe_video
from .reader import Frame, VideoReader, iter_frames
from .segments import SegmentedVideoWriter
from .writer import VideoWriter

__all__ = [
    "IMAGE_SUFFIXES",
    "MP4_AUDIO_COPY_CODECS",
    "Frame",
    "SegmentedVideoWriter",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "is_image_path",
    "iter_frames",
    "probe_video",
    "read_image",
    "read_image_alpha",
    "write_image",
]
