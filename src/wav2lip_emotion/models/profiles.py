"""Model profiles: the face size and channel width a network is built with.

``paper`` is the published architecture (96 px faces, full width) and loads the official
checkpoints. The smaller profiles keep the same topology with fewer channels and/or smaller faces so
that training and tests fit on a CPU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError

# Face sizes the U-Net topology supports: size = bottom * 2**levels with bottom in {2, 3}, where the
# encoder halves the image ``levels`` times and a final valid convolution maps bottom x bottom -> 1.
SUPPORTED_FACE_SIZES = (32, 48, 64, 96, 128, 192)


@dataclass(frozen=True)
class ModelProfile:
    """How big a network is. Every model kind is built from one of these."""

    name: str
    #: side of the square face crop in pixels (the paper uses 96)
    face_size: int = 96
    #: multiplier on every channel count (1.0 = the published widths)
    width: float = 1.0

    def __post_init__(self) -> None:
        if self.face_size not in SUPPORTED_FACE_SIZES:
            raise ConfigError(
                f"profile {self.name!r}: face_size {self.face_size} is not supported; "
                f"choose one of {', '.join(map(str, SUPPORTED_FACE_SIZES))}"
            )
        if not 0.0 < self.width <= 4.0:
            raise ConfigError(f"profile {self.name!r}: width must be in (0, 4], got {self.width}")

    def channels(self, c: int) -> int:
        """Scale a published channel count by this profile's width (at least 2 channels)."""
        return max(2, round(c * self.width))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ModelProfile:
        try:
            return cls(name=str(d["name"]), face_size=int(d["face_size"]), width=float(d["width"]))  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a model profile: {d!r} ({exc})") from exc


PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile("paper", face_size=96, width=1.0),
        ModelProfile("small", face_size=64, width=0.25),
        ModelProfile("tiny", face_size=48, width=0.125),
    )
}


def get_profile(profile: str | ModelProfile) -> ModelProfile:
    """Look up a named profile (``paper``, ``small``, ``tiny``) or pass a custom one through."""
    if isinstance(profile, ModelProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ConfigError(f"unknown model profile {profile!r}; known profiles: {', '.join(PROFILES)}") from None
