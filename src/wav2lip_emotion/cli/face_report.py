"""Run face tracking over a video or image and report it: per-frame JSON and a drawn preview.

The back-end of ``wav2lip-emotion faces``; users run it to see why a clip fails.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..atomic import write_json_atomic
from ..faces import CropConfig, FaceCrop, FaceObservation, FaceTracker, TrackerConfig
from ..faces.glasses import GlassesSampler
from ..media import VideoReader, VideoWriter, is_image_path, probe_video, read_image, write_image


@dataclass
class FacesSummary:
    """What a faces run found."""

    input: str
    frames: int = 0
    found: int = 0
    methods: dict[str, int] = field(default_factory=dict)
    #: [first, last] frame index ranges where no face was found
    missing_ranges: list[tuple[int, int]] = field(default_factory=list)
    seconds: float = 0.0
    width: int = 0
    height: int = 0
    fps: float | None = None

    @property
    def found_ratio(self) -> float:
        return self.found / self.frames if self.frames else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "input": self.input,
            "frames": self.frames,
            "found": self.found,
            "found_ratio": round(self.found_ratio, 4),
            "methods": self.methods,
            "missing_ranges": [list(r) for r in self.missing_ranges],
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "seconds": round(self.seconds, 3),
        }

    def describe(self) -> str:
        lines = [
            f"{self.input}: face found in {self.found}/{self.frames} frames ({100 * self.found_ratio:.1f}%)"
            + (f", {self.frames / self.seconds:.1f} frames/s" if self.seconds > 0 else ""),
        ]
        if self.missing_ranges:
            shown = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.missing_ranges[:10])
            more = f" and {len(self.missing_ranges) - 10} more ranges" if len(self.missing_ranges) > 10 else ""
            lines.append(f"  no face in frames {shown}{more} (these frames are passed through untouched)")
        return "\n".join(lines)


def draw_observation(rgb: np.ndarray, obs: FaceObservation, crop_config: CropConfig | None = None) -> np.ndarray:
    """A copy of the frame with the tracked box (green), mesh points, model crop (blue) and candidates."""
    img = np.ascontiguousarray(rgb.copy())
    scale = max(1, round(max(img.shape[:2]) / 640))
    for det in obs.candidates:
        x0, y0, x1, y1 = (round(v) for v in det.box)
        cv2.rectangle(img, (x0, y0), (x1, y1), (255, 200, 0), scale)
    if obs.found and obs.box is not None and obs.landmarks is not None:
        for x, y in obs.landmarks[:, :2]:
            cv2.circle(img, (round(x), round(y)), 0, (255, 255, 255), scale)
        x0, y0, x1, y1 = (round(v) for v in obs.box)
        cv2.rectangle(img, (x0, y0), (x1, y1), (0, 220, 0), 2 * scale)
        crop = FaceCrop.from_box(obs.box, crop_config or CropConfig())
        cx0, cy0, cx1, cy1 = (round(v) for v in crop.box)
        cv2.rectangle(img, (cx0, cy0), (cx1, cy1), (60, 120, 255), scale)
        label = f"{obs.method} {obs.score:.2f}"
    else:
        label = "no face"
    cv2.putText(
        img,
        f"#{obs.index} {label}",
        (8, 20 * scale),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.6 * scale,
        (255, 60, 60) if not obs.found else (0, 220, 0),
        max(1, scale),
        cv2.LINE_AA,
    )
    return img


def analyse_faces(
    input_path: str | Path,
    *,
    json_out: str | Path | None = None,
    preview_out: str | Path | None = None,
    tracker: FaceTracker | None = None,
    config: TrackerConfig | None = None,
    landmarks_in_json: bool = True,
    progress: bool = False,
) -> FacesSummary:
    """Detect and track the main face in every frame of a video (or in an image) and report it."""
    input_path = Path(input_path)
    tracker = tracker or FaceTracker(config)
    tracker.reset()
    summary = FacesSummary(input=str(input_path))
    records: list[dict[str, object]] = []
    start = time.perf_counter()
    missing_start: int | None = None
    # glasses looked for as translate's tracking pass looks, for translate --faces to use
    glasses = GlassesSampler() if json_out is not None and landmarks_in_json else None

    def note(obs: FaceObservation) -> None:
        nonlocal missing_start
        summary.frames += 1
        summary.found += int(obs.found)
        summary.methods[obs.method] = summary.methods.get(obs.method, 0) + 1
        if not obs.found and missing_start is None:
            missing_start = obs.index
        if obs.found and missing_start is not None:
            summary.missing_ranges.append((missing_start, obs.index - 1))
            missing_start = None
        if json_out is not None:
            records.append(obs.to_json(landmarks=landmarks_in_json))

    if is_image_path(input_path):
        rgb = read_image(input_path)
        summary.height, summary.width = rgb.shape[:2]
        obs = tracker.update(rgb)
        note(obs)
        if preview_out is not None:
            write_image(preview_out, draw_observation(rgb, obs))
    else:
        info = probe_video(input_path)
        summary.width, summary.height, summary.fps = info.width, info.height, info.fps
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=info.frame_count or None, unit="frame", desc="faces", leave=False)
        # the writer renames its temporary file into place only when the whole run succeeded
        with contextlib.ExitStack() as stack:
            if bar is not None:
                stack.callback(bar.close)
            writer = (
                stack.enter_context(VideoWriter(preview_out, info.fps, info.width, info.height))
                if preview_out is not None
                else None
            )
            # decoded as translate's tracking pass decodes (fast colour), so that a face track written
            # here is the one translate would find
            reader = stack.enter_context(VideoReader(input_path, fast_colour=True))
            for frame in reader:
                obs = tracker.update(frame.rgb, frame.time)
                note(obs)
                if glasses is not None and obs.found and obs.landmarks is not None:
                    glasses(obs.index, frame.rgb, obs.landmarks.astype(np.float32))
                if writer is not None:
                    writer.write(draw_observation(frame.rgb, obs))
                if bar is not None:
                    bar.update(1)
    if missing_start is not None:
        summary.missing_ranges.append((missing_start, summary.frames - 1))
    summary.seconds = time.perf_counter() - start
    if json_out is not None:
        data: dict[str, object] = {"summary": summary.to_json(), "frames": records}
        verdict = glasses.verdict() if glasses is not None else None
        if verdict is not None:
            data["glasses"] = verdict.to_json()
        write_json_atomic(json_out, data)
    return summary
