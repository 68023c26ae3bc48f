"""Streaming video input and output with PyAV (no ffmpeg subprocess, no frame lists in memory).

This module gathers the video API in one place; each job lives in its own module:

* :mod:`.probe`: :func:`probe_video` reads the facts a pipeline needs (display size, frame rate,
  rotation, audio) and checks that the first frame decodes.
* :mod:`.reader`: :class:`VideoReader` decodes lazily, one frame at a time, optionally resampled to a
  constant rate.
* :mod:`.writer`: :class:`VideoWriter` encodes H.264 into an MP4 written under a temporary name and
  renamed into place only when it is complete, optionally muxing the audio of another file
  (:mod:`.audio_mux`: copied bit-exact when MP4 can hold its codec, otherwise transcoded to AAC).
* :mod:`.planes`: a frame's decoded 4:2:0 planes, converted to RGB in part and written back in part,
  for edits that change a small part of each frame (the mesh engine's wide shots).
* :mod:`.avio`: opening inputs and turning FFmpeg errors into one-line messages, shared by the above.

Every failure of a media file raises :class:`~wav2lip_emotion.errors.MediaError` with a one-line message
that starts with the file's path. See ``docs/media.md``.
"""

from __future__ import annotations

from .audio_mux import MP4_AUDIO_COPY_CODECS
from .probe import VideoInfo, probe_video
from .reader import Frame, VideoReader, iter_frames
from .writer import X264_PRESETS, VideoWriter

__all__ = [
    "MP4_AUDIO_COPY_CODECS",
    "X264_PRESETS",
    "Frame",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "iter_frames",
    "probe_video",
]
