"""LSE-D and LSE-C, the lip-sync metrics of the Wav2Lip and Wav2Lip-Emotion papers.

The published numbers come from the SyncNet of Chung & Zisserman as released in joonson/syncnet_python
(https://github.com/joonson/syncnet_python, files ``SyncNetInstance.py``, ``SyncNetModel.py`` and
``run_pipeline.py``) with its ``syncnet_v2.model`` weights. This module reproduces that protocol:

* **audio**: 16 kHz mono on the int16 scale, 13 MFCCs per 10 ms step (``python_speech_features.mfcc``
  with all its defaults, re-implemented with NumPy alone in :mod:`.sync_maths`);
* **video**: 25 fps, a 224x224 BGR crop of the face per frame (:func:`syncnet_crop`), 0..255 floats;
* **windows**: video window ``i`` is frames ``i .. i+4``; its audio is MFCC steps ``4i .. 4i+19`` (the
  same 0.2 s). ``min_length = min(frames, floor(samples / 640))`` and the windows scored are
  ``i in range(min_length - 5)`` (their loop leaves out the last complete window; so does ours);
* **offset search** (:func:`~.sync_maths.offset_search`, their ``calc_pdist`` + ``evaluate``): the
  audio embeddings are padded with ``max_offset`` (15) zero rows at both ends; for every video window the
  Euclidean distance to the audio windows ``i - 15 .. i + 15`` is taken, averaged over the windows per offset;
  the smallest mean is **LSE-D** and ``median(means) - min(means)`` is **LSE-C**.

Sign of the offset (``offset = max_offset - argmin``, as theirs): a **positive** offset means the audio
is **early** (it leads the video) by that many frames: video window ``i`` matches audio window
``i - offset``. Audio that is late by ``k`` frames (delayed, :meth:`LipSyncScorer.score` with
``audio_shift_frames=k``) gives ``offset == -k``.

What differs from their pipeline, and why the numbers are close but not identical to theirs:

* their face boxes come from the S3FD detector, median-filtered over 13 frames of a whole track; ours
  are the landmark boxes of :class:`~wav2lip_emotion.faces.FaceTracker` (One-Euro smoothed, causal);
  the crop geometry around the box is theirs (:func:`syncnet_crop`);
* they decode frames to JPEG files and the audio with the ``ffmpeg`` program; we decode with PyAV and
  convert the float audio to int16 values in memory (:func:`~.sync_maths.syncnet_mfcc`);
* frames before the first face are skipped (theirs start a track there too); frames where the face is
  lost later reuse the last box instead of ending the track;
* distances are computed in float64 (theirs in float32): differences are far below the printed digits.

Two scorers share the streaming loop (:class:`LipSyncScorer`): :class:`JoonsonLipSync` with the
published weights (:func:`~wav2lip_emotion.ports.syncnet_v2.load_joonson_syncnet`), the only numbers
**comparable to published LSE values**, and :class:`ExpertLipSync`, the same protocol with our own
Wav2Lip-style SyncNet expert (labelled LSE*, never to be compared with published numbers). Memory stays
bounded: frames are decoded one at a time, only the last 5 crops and one batch of windows are held.

This module runs the protocol (decode, track, crop, window, embed); the maths (MFCC, offset search) is
in :mod:`wav2lip_emotion.evaluation.sync_maths`, the syncnet_python network and the reading of its
weights are a port in :mod:`wav2lip_emotion.ports.syncnet_v2`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ..audio import MEL_WINDOW, SAMPLE_RATE, load_audio, mel_start_index, mel_window, melspectrogram
from ..errors import ConfigError, MediaError
from ..faces import CropConfig, FaceCrop, FaceTracker
from ..media import VideoReader, probe_video
from ..models.syncnet import SyncNetExpert, stack_lower_halves
from ..ports.syncnet_v2 import MFCC_WINDOW, SYNC_WINDOW, SYNCNET_CROP_SIZE, JoonsonSyncNet
from .sync_maths import MAX_OFFSET, offset_search, syncnet_mfcc

#: frame rate syncnet_python assumes (its MFCC indexing is 4 steps of 10 ms per frame)
SYNCNET_FPS = 25.0
#: MFCC steps per video frame at 25 fps
MFCC_STEPS_PER_FRAME = 4
#: syncnet_python's crop: padding scale and the grey outside the frame
SYNCNET_CROP_SCALE = 0.4
SYNCNET_CROP_FILL = 110


# --------------------------------------------------------------------------- crops


def syncnet_crop(rgb: np.ndarray, box: np.ndarray | Sequence[float]) -> np.ndarray:
    """syncnet_python's face crop (``run_pipeline.py``'s ``crop_video``) of one RGB frame: 224x224x3 uint8 BGR.

    With ``bs = max(w, h) / 2`` of the box ``[x0, y0, x1, y1]`` and its centre (cx, cy), the crop spans
    x in ``[cx - 1.4 bs, cx + 1.4 bs)`` and y in ``[cy - bs, cy + 1.8 bs)`` (crop scale 0.4: the mouth sits
    low in it), with their integer truncation of the bounds; what lies outside the frame is grey (110); it
    is resized to 224x224 with bilinear interpolation. Identical to theirs whenever the box centre lies in
    the frame (further out, their padding would cut the crop short; here the grey goes on).

    Their boxes are S3FD detections, median-filtered along a track; ours are FaceTracker landmark boxes,
    so the crops are close to theirs but not identical.
    """
    frame = np.asarray(rgb)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ConfigError(f"frame must be an HxWx3 uint8 RGB array, got shape {frame.shape} dtype {frame.dtype}")
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    cs = SYNCNET_CROP_SCALE
    bs = max(x1 - x0, y1 - y0) / 2
    if not math.isfinite(bs) or bs < 0.5:
        raise ConfigError(f"face box {[x0, y0, x1, y1]} is too small or not finite for a crop")
    bsi = int(bs * (1 + 2 * cs))  # their padding; bounds below are computed in the padded frame, as theirs
    my, mx = (y0 + y1) / 2 + bsi, (x0 + x1) / 2 + bsi
    top, bottom = int(my - bs) - bsi, int(my + bs * (1 + 2 * cs)) - bsi
    left, right = int(mx - bs * (1 + cs)) - bsi, int(mx + bs * (1 + cs)) - bsi
    h, w = frame.shape[:2]
    face = np.full((bottom - top, right - left, 3), SYNCNET_CROP_FILL, dtype=np.uint8)
    fy0, fy1, fx0, fx1 = max(top, 0), min(bottom, h), max(left, 0), min(right, w)
    if fy1 > fy0 and fx1 > fx0:
        face[fy0 - top : fy1 - top, fx0 - left : fx1 - left] = frame[fy0:fy1, fx0:fx1, ::-1]
    return cv2.resize(face, (SYNCNET_CROP_SIZE, SYNCNET_CROP_SIZE), interpolation=cv2.INTER_LINEAR)


# --------------------------------------------------------------------------- scorers


@dataclass(frozen=True)
class SyncEmbeddings:
    """Per-window embeddings of one video, row ``k`` = the window of frames ``first_frame + k .. + 4``."""

    video: np.ndarray  # [L, D]
    audio: np.ndarray  # [L, D]
    #: video index of the first window (= the frames skipped before the first face)
    first_frame: int
    #: frames decoded and tracked (reading stops once the audio ends)
    frames_read: int
    #: frames among those where the tracker found no face (skipped at the start, else the last box reused)
    frames_without_face: int
    fps: float


@dataclass(frozen=True)
class LipSyncResult:
    """LSE of one video. ``offset`` in frames (positive: audio early), ``lse_d`` / ``lse_c`` the metrics.

    ``frames_used`` is the number of 5-frame windows scored (one per starting frame, as their per-frame
    distances), ``mean_distances`` [2 * max_offset + 1] the mean distance per offset (index ``j`` is offset
    ``max_offset - j``), ``scorer`` the scorer's label and ``comparable`` whether the numbers can be set
    beside published LSE values.
    """

    offset: int
    lse_d: float
    lse_c: float
    frames_used: int
    frames_without_face: int
    mean_distances: np.ndarray
    scorer: str
    comparable: bool
    first_frame: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "lse_d": self.lse_d,
            "lse_c": self.lse_c,
            "frames_used": self.frames_used,
            "frames_without_face": self.frames_without_face,
            "first_frame": self.first_frame,
            "mean_distances": [float(v) for v in self.mean_distances],
            "scorer": self.scorer,
            "comparable": self.comparable,
        }


def shift_audio(samples: np.ndarray, frames: int, fps: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Delay (``frames`` > 0: zeros prepended) or advance (< 0: samples removed) audio by video frames.

    The number of samples is ``round(frames * sample_rate / fps)``. Advancing past the end is a
    :class:`ConfigError`.
    """
    if isinstance(frames, bool) or not isinstance(frames, int | np.integer):
        raise ConfigError(f"audio shift must be a whole number of frames, got {frames!r}")
    n = round(int(frames) * sample_rate / fps)
    if n > 0:
        return np.concatenate([np.zeros(n, dtype=samples.dtype), samples])
    if n < 0:
        if -n >= len(samples):
            raise ConfigError(f"advancing the audio by {-frames} frame(s) leaves none of its {len(samples)} samples")
        return samples[-n:]
    return samples


class LipSyncScorer(ABC):
    """LSE-D / LSE-C of whole videos with one SyncNet, syncnet_python's protocol (see the module docstring).

    Subclasses say how a face is cropped, what the audio features are and how a batch of windows is
    embedded; the streaming (decode, track, crop, window, batch) is shared.
    """

    #: short id ("syncnet_v2", "expert")
    name: str
    #: True only where the numbers can be set beside published LSE values (syncnet_python's weights)
    comparable: bool
    #: how tables should label the numbers
    label: str

    def __init__(self, max_offset: int = MAX_OFFSET) -> None:
        if isinstance(max_offset, bool) or not isinstance(max_offset, int) or max_offset < 0:
            raise ConfigError(f"max_offset must be an integer >= 0, got {max_offset!r}")
        self.max_offset = max_offset

    # ----------------------------------------------------------------- what subclasses provide

    def check_fps(self, video: Path, fps: float) -> None:
        """Raise :class:`ConfigError` when the protocol cannot score video at ``fps`` (any rate by default)."""
        return None

    @abstractmethod
    def audio_features(self, samples: np.ndarray, fps: float) -> tuple[np.ndarray, int]:
        """(features of the whole 16 kHz float audio, how many video frames the audio covers)."""

    @abstractmethod
    def crop(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        """The uint8 HxWx3 crop one frame contributes to a window."""

    @abstractmethod
    def embed_windows(
        self, windows: Sequence[Sequence[np.ndarray]], starts: Sequence[int], features: np.ndarray, fps: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(video embeddings, audio embeddings) [B, D] of windows of 5 crops starting at frames ``starts``."""

    # ----------------------------------------------------------------- shared

    def embed(
        self,
        video: str | Path,
        *,
        audio: str | Path | None = None,
        audio_shift_frames: int = 0,
        tracker: FaceTracker | None = None,
        batch_size: int = 32,
        progress: bool = False,
    ) -> SyncEmbeddings:
        """Per-window video and audio embeddings of ``video`` (the first step of :meth:`score`).

        Windows start at every frame ``i`` from the first frame with a face up to
        ``min(frames, audio frames) - 6`` (their ``range(min_length - 5)``). Raises :class:`MediaError`
        for an unreadable video or audio, or when no window can be scored (too short, or no face found).
        """
        video = Path(video)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        info = probe_video(video)
        fps = info.fps
        self.check_fps(video, fps)
        samples = load_audio(audio if audio is not None else video)
        samples = shift_audio(samples, audio_shift_frames, fps)
        features, audio_frames = self.audio_features(samples, fps)
        tracker = tracker or FaceTracker()
        tracker.reset()

        video_out: list[torch.Tensor] = []
        audio_out: list[torch.Tensor] = []
        window: deque[np.ndarray] = deque(maxlen=SYNC_WINDOW)
        pending: list[tuple[np.ndarray, ...]] = []
        starts: list[int] = []
        box: np.ndarray | None = None
        first: int | None = None
        without_face = 0
        read = 0

        def flush() -> None:
            if pending:
                v, a = self.embed_windows(pending, starts, features, fps)
                video_out.append(v.detach().float().cpu())
                audio_out.append(a.detach().float().cpu())
            pending.clear()
            starts.clear()

        with torch.inference_mode(), VideoReader(video) as reader:
            frames: Iterable[Any] = reader
            if progress:
                from tqdm import tqdm

                frames = tqdm(reader, total=info.frame_count or None, unit="frame", desc=self.name, leave=False)
            for index, frame in enumerate(frames):
                if index >= audio_frames:
                    break  # windows need index - 5 < min(frames, audio frames) - 5
                if first is not None and index - SYNC_WINDOW >= first:
                    pending.append(tuple(window))  # frames index-5 .. index-1: the window at index - 5
                    starts.append(index - SYNC_WINDOW)
                    if len(pending) >= batch_size:
                        flush()
                read = index + 1
                obs = tracker.update(frame.rgb, frame.time)
                if obs.found and obs.box is not None:
                    box = np.asarray(obs.box, dtype=np.float64)
                else:
                    without_face += 1
                if box is None:
                    continue  # no face yet: the windows begin at the first face
                if first is None:
                    first = index
                window.append(self.crop(frame.rgb, box))
            flush()
            if progress:
                frames.close()  # type: ignore[attr-defined]

        if not video_out:
            if first is None:
                raise MediaError(f"{video}: no face found in the {read} frame(s) read; cannot score lip sync")
            raise MediaError(
                f"{video}: too short to score lip sync: {read} frame(s) read, audio for {audio_frames}, first face at "
                f"frame {first}; a window needs {SYNC_WINDOW + 1} frames from there"
            )
        return SyncEmbeddings(
            video=torch.cat(video_out).numpy(),
            audio=torch.cat(audio_out).numpy(),
            first_frame=int(first) if first is not None else 0,
            frames_read=read,
            frames_without_face=without_face,
            fps=fps,
        )

    def score(
        self,
        video: str | Path,
        *,
        audio: str | Path | None = None,
        audio_shift_frames: int = 0,
        tracker: FaceTracker | None = None,
        batch_size: int = 32,
        progress: bool = False,
    ) -> LipSyncResult:
        """LSE-D, LSE-C and the offset of ``video`` (its own audio, or the file ``audio``).

        ``audio_shift_frames`` delays (> 0) or advances (< 0) the audio by that many video frames first
        (``round(shift * 16000 / fps)`` samples); a clip in sync then scores ``offset == -audio_shift_frames``
        when the network recognises the speech. Faces are tracked with ``tracker`` (a new
        :class:`FaceTracker` when None; it is reset). ``batch_size`` windows are embedded at a time, on
        the CPU, under ``torch.inference_mode()``; ``progress`` shows a bar over the frames.
        """
        emb = self.embed(
            video,
            audio=audio,
            audio_shift_frames=audio_shift_frames,
            tracker=tracker,
            batch_size=batch_size,
            progress=progress,
        )
        search = offset_search(emb.video, emb.audio, self.max_offset)
        return LipSyncResult(
            offset=search.offset,
            lse_d=search.min_distance,
            lse_c=search.confidence,
            frames_used=len(emb.video),
            frames_without_face=emb.frames_without_face,
            mean_distances=search.mean_distances,
            scorer=self.label,
            comparable=self.comparable,
            first_frame=emb.first_frame,
        )


def _windows_tensor(windows: Sequence[Sequence[np.ndarray]]) -> torch.Tensor:
    """B windows of 5 uint8 HxWx3 crops -> float32 [B, 3, 5, H, W] (values 0..255)."""
    return torch.from_numpy(np.stack([np.stack(w) for w in windows])).permute(0, 4, 1, 2, 3).float()


class JoonsonLipSync(LipSyncScorer):
    """LSE with syncnet_python's SyncNet and weights: the numbers of the Wav2Lip papers (25 fps video only).

    Crops by :func:`syncnet_crop` (BGR 224 px), audio by :func:`syncnet_mfcc`; window ``i`` uses MFCC
    steps ``4i .. 4i+19``; the audio covers ``floor(samples / 640)`` frames.
    """

    name = "syncnet_v2"
    comparable = True
    label = "LSE (SyncNet v2, syncnet_python protocol)"

    def __init__(self, model: JoonsonSyncNet, max_offset: int = MAX_OFFSET) -> None:
        super().__init__(max_offset)
        self.model = model.cpu().eval()

    def check_fps(self, video: Path, fps: float) -> None:
        if abs(fps - SYNCNET_FPS) > 0.01:
            raise ConfigError(
                f"{video}: {fps:.3f} fps; syncnet_python's protocol needs 25 fps video (4 MFCC steps per frame): "
                "resample it to 25 fps first (e.g. VideoReader(path, fps=25) into a VideoWriter)"
            )

    def audio_features(self, samples: np.ndarray, fps: float) -> tuple[np.ndarray, int]:
        per_frame = SAMPLE_RATE // int(SYNCNET_FPS)  # 640 samples
        return syncnet_mfcc(samples).T.astype(np.float32), len(samples) // per_frame

    def crop(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        return syncnet_crop(rgb, box)

    def embed_windows(
        self, windows: Sequence[Sequence[np.ndarray]], starts: Sequence[int], features: np.ndarray, fps: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        frames = _windows_tensor(windows)
        steps = [features[:, MFCC_STEPS_PER_FRAME * i : MFCC_STEPS_PER_FRAME * i + MFCC_WINDOW] for i in starts]
        mfccs = torch.from_numpy(np.stack(steps)[:, None]).float()
        return self.model.embed_lips(frames), self.model.embed_audio(mfccs)


class ExpertLipSync(LipSyncScorer):
    """LSE* with our own Wav2Lip-style SyncNet expert, syncnet_python's protocol otherwise (any frame rate).

    Crops: :class:`~wav2lip_emotion.faces.FaceCrop` of the tracked box with ``crop_padding`` at the
    expert's face size (RGB, [0, 1]); lower halves of the 5 frames stacked on channels; audio window of
    frame ``i``: :func:`~wav2lip_emotion.audio.mel_window` of Wav2Lip's mel spectrogram; the expert's
    unit-norm embeddings, Euclidean distances. The audio covers ``floor(samples * fps / 16000)`` frames
    (and no more than the mel spectrogram has whole windows for). Never comparable to published numbers.
    """

    name = "expert"
    comparable = False
    label = "LSE* (our world SyncNet expert, same protocol; NOT comparable to published numbers)"

    def __init__(self, expert: SyncNetExpert, crop_padding: float = 0.1, max_offset: int = MAX_OFFSET) -> None:
        super().__init__(max_offset)
        self.expert = expert.cpu().eval()
        self.crop_config = CropConfig(size=expert.profile.face_size, padding=crop_padding)

    def audio_features(self, samples: np.ndarray, fps: float) -> tuple[np.ndarray, int]:
        if len(samples) <= 400:  # the centred STFT needs more than n_fft / 2 samples
            return np.zeros((80, 0), dtype=np.float32), 0
        mel = melspectrogram(samples).astype(np.float32)
        covered = math.floor(len(samples) * fps / SAMPLE_RATE)
        steps = mel.shape[1]
        last = math.floor((steps - MEL_WINDOW) * fps / 80) + 1  # the last start with a whole window (checked below)
        while last >= 0 and mel_start_index(last, fps) + MEL_WINDOW > steps:
            last -= 1
        return mel, min(covered, last + SYNC_WINDOW + 1)

    def crop(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        return FaceCrop.from_box(box, self.crop_config).extract(rgb)

    def embed_windows(
        self, windows: Sequence[Sequence[np.ndarray]], starts: Sequence[int], features: np.ndarray, fps: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        faces = stack_lower_halves(_windows_tensor(windows) / 255.0)
        mels = torch.from_numpy(np.stack([mel_window(features, i, fps)[None] for i in starts])).float()
        audio_emb, face_emb = self.expert(mels, faces)
        return face_emb, audio_emb
