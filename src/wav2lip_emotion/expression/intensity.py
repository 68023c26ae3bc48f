"""How strong an edit is, over time: a constant, a MEAD level, or a schedule of keyframes.

``IntensitySchedule.parse`` reads

* a number in [0, 1.5]: 0 leaves the face unchanged, 1 is the prototype, above 1 exaggerates it;
* ``level1`` .. ``level3`` (or the bare numbers 2 and 3, as earlier versions took them): a MEAD level,
  ``level / 3`` (so level 3 = 1);
* keyframes ``"0s:0,2s:1,5.5s:1,6s:0"`` (seconds, ``s`` optional; also ``1.5:0.5``): the intensity
  eases smoothly (smoothstep) from one keyframe to the next, holds the first value before the first
  key and the last value after the last one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

#: the largest intensity accepted (exaggerated)
MAX_INTENSITY = 1.5
_LEVEL = re.compile(r"^(?:level|l)\s*([123])$", re.IGNORECASE)


def _number(text: str, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise ConfigError(f"{what}: {text!r} is not a finite number")
    return v


def _intensity(v: float, text: object) -> float:
    if v in (2.0, 3.0):  # MEAD levels, as `--intensity 2` always meant
        return v / 3.0
    if not 0.0 <= v <= MAX_INTENSITY:
        raise ConfigError(
            f"intensity must be in 0..{MAX_INTENSITY} (or level1..level3, or a schedule like '0s:0,2s:1'), got {text!r}"
        )
    return v


@dataclass(frozen=True)
class IntensitySchedule:
    """Intensity as a function of time (seconds): keyframes eased with smoothstep."""

    #: (time in seconds, intensity) pairs in increasing time; one pair = a constant
    keys: tuple[tuple[float, float], ...]

    @classmethod
    def constant(cls, value: float) -> IntensitySchedule:
        return cls(((0.0, _intensity(float(value), value)),))

    @classmethod
    def parse(cls, value: float | str | IntensitySchedule | None) -> IntensitySchedule:
        """A schedule from a number, a level name or keyframe text (see the module docstring)."""
        if value is None:
            return cls.constant(1.0)
        if isinstance(value, IntensitySchedule):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(float(value)):
                raise ConfigError(f"intensity must be a finite number, got {value!r}")
            return cls.constant(float(value))
        text = str(value).strip()
        level = _LEVEL.match(text)
        if level:
            return cls(((0.0, int(level.group(1)) / 3.0),))
        if ":" not in text:
            return cls.constant(_number(text, "intensity"))
        keys: list[tuple[float, float]] = []
        for part in text.split(","):
            if not part.strip():
                continue
            if part.count(":") != 1:
                raise ConfigError(f"intensity schedule: {part.strip()!r} is not TIME:VALUE (e.g. '2s:1')")
            t_text, v_text = (p.strip() for p in part.split(":"))
            t = _number(t_text[:-1] if t_text.lower().endswith("s") else t_text, "intensity schedule time")
            if t < 0:
                raise ConfigError(f"intensity schedule: time {t_text!r} is negative")
            v = _intensity(_number(v_text, "intensity schedule value"), v_text)
            if keys and t <= keys[-1][0]:
                raise ConfigError(f"intensity schedule: times must increase, {t_text!r} comes after {keys[-1][0]}s")
            keys.append((t, v))
        if not keys:
            raise ConfigError(f"intensity schedule {text!r} has no keyframes")
        return cls(tuple(keys))

    @property
    def is_constant(self) -> bool:
        return len({v for _, v in self.keys}) == 1

    @property
    def peak(self) -> float:
        return max(v for _, v in self.keys)

    def __call__(self, t: float | np.ndarray) -> np.ndarray:
        """Intensity at time(s) ``t`` (seconds)."""
        t = np.asarray(t, dtype=np.float64)
        times = np.array([k[0] for k in self.keys])
        values = np.array([k[1] for k in self.keys])
        if len(times) == 1:
            return np.full(t.shape, values[0])
        i = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
        t0, t1 = times[i], times[i + 1]
        u = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
        ease = u * u * (3.0 - 2.0 * u)  # smoothstep: zero slope at every keyframe
        return values[i] + (values[i + 1] - values[i]) * ease

    def describe(self) -> str:
        if self.is_constant:
            return f"{self.keys[0][1]:.2f}"
        return ",".join(f"{t:g}s:{v:g}" for t, v in self.keys)
