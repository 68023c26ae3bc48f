"""What a translation did: :class:`TranslateResult`, printed by the command and returned by the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..messages import listing


@dataclass
class TranslateResult:
    """What a translation did (printed by the command, returned by the API)."""

    input: str
    output: str
    side_by_side: str | None
    model: str
    to: str
    source: str | None
    intensity: float
    mask: str
    frames: int = 0
    faces: int = 0
    #: frames written untouched because no face was found in them
    passed_through: int = 0
    #: [first, last] ranges of passed-through frames
    missing_ranges: list[tuple[int, int]] = field(default_factory=list)
    #: frames whose mel window had to be clamped to the end of the audio (audio shorter than video)
    beyond_audio: int = 0
    width: int = 0
    height: int = 0
    fps: float = 0.0
    audio: str = ""
    seconds: float = 0.0
    #: seconds spent inside the generator (the rest is decoding, faces, paste-back and encoding)
    generator_seconds: float = 0.0
    mask_probe: str | None = None
    notes: list[str] = field(default_factory=list)
    #: mesh (training-free warp) or model (a learned generator)
    engine: str = "model"
    #: the mesh engine's intensity schedule, triangles flipped by its warp (always 0), control points
    #: its fold guard damped, frames where an occluder covered part of the face, and the resting
    #: expression it removed (AU coefficients)
    schedule: str | None = None
    flipped_triangles: int = 0
    damped_points: int = 0
    occluded_frames: int = 0
    resting: dict[str, float] = field(default_factory=dict)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["missing_ranges"] = [list(r) for r in self.missing_ranges]
        out["frames_per_second"] = round(self.frames_per_second, 2)
        return out

    def describe(self) -> str:
        change = f"{self.source or 'any'} -> {self.to}"
        strength = self.schedule if self.schedule and ":" in self.schedule else f"{self.intensity:.2f}"
        lines = [
            f"{self.output}: {self.frames} frames {self.width}x{self.height} at {self.fps:.3f} fps, {change}"
            + (f" (intensity {strength})" if strength != "1.00" else "")
            + f", {self.mask} mask; audio {self.audio}",
            f"  faces translated in {self.faces}/{self.frames} frames; {self.passed_through} passed through untouched"
            + (f"; {self.beyond_audio} frames beyond the end of the audio" if self.beyond_audio else ""),
        ]
        if self.missing_ranges:
            shown = listing([f"{a}" if a == b else f"{a}-{b}" for a, b in self.missing_ranges], 10)
            lines.append(f"  no face in frames {shown}")
        lines.append(
            f"  {self.seconds:.1f} s, {self.frames_per_second:.1f} frames/s "
            + (
                f"({self.generator_seconds:.1f} s in the generator); model: {self.model}"
                if self.engine == "model"
                else f"engine: {self.model}; {self.flipped_triangles} flipped triangles, "
                f"{self.occluded_frames} frames with an occluder"
            )
        )
        if self.side_by_side:
            lines.append(f"  side by side (source | translated): {self.side_by_side}")
        if self.mask_probe:
            lines.append(f"  {self.mask_probe}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def frame_ranges(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted frame indices as [first, last] runs of consecutive frames: [3, 4, 5, 9] -> [(3, 5), (9, 9)]."""
    out: list[tuple[int, int]] = []
    for i in indices:
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out
