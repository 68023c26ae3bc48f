"""One generator for every emotion: Wav2Lip's generator with FiLM conditioning in its decoder.

The condition (target emotion, optional source emotion, intensity in [0, 1]) is embedded into one
vector; each decoder block's output is then modulated, before its skip concatenation, as
``h * (1 + intensity * gamma) + intensity * beta`` with ``gamma, beta`` from a zero-initialised
linear layer. A freshly built model therefore computes exactly the plain Wav2Lip generator whose
weights it holds, and intensity 0 always does. See docs/conditional.md for the design.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..emotions import EMOTIONS, Emotion, parse_emotion
from ..errors import CheckpointError, ConfigError
from .blocks import fold_time, unfold_time
from .generator import Wav2LipGenerator
from .profiles import ModelProfile

#: index of the "unknown" row of the source-emotion embedding (source index -1 maps here)
UNKNOWN_SOURCE = len(EMOTIONS)
#: state-dict prefixes of the conditioning parameters (everything else is the Wav2Lip generator)
CONDITION_PREFIXES = ("conditioning.", "film.", "blend_mask.")

EmotionLike = str | Emotion | int
ConditionArg = EmotionLike | Sequence[EmotionLike | None] | torch.Tensor | None
IntensityArg = float | int | Sequence[float] | torch.Tensor | None


def _emotion_index(value: EmotionLike | None, what: str, allow_unknown: bool) -> int:
    if value is None:
        if allow_unknown:
            return -1
        raise ConfigError(f"{what} emotion is required (one of {', '.join(EMOTIONS)})")
    if isinstance(value, bool):
        raise ConfigError(f"{what} emotion must be a name or an index, not a bool ({value!r})")
    if isinstance(value, int):
        return value  # range checked by EmotionCondition
    return EMOTIONS.index(parse_emotion(value).value)  # ConfigError (a ValueError) for unknown names


def _index_tensor(value: ConditionArg, what: str, allow_unknown: bool, batch: int, device: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
            raise ConfigError(f"{what} emotion indices must be an integer tensor, got dtype {value.dtype}")
        t = value.to(device=device, dtype=torch.long)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        t = torch.tensor([_emotion_index(v, what, allow_unknown) for v in value], dtype=torch.long, device=device)
    else:
        t = torch.tensor(_emotion_index(value, what, allow_unknown), dtype=torch.long, device=device)
    return _broadcast(t, what, batch)


def _broadcast(t: torch.Tensor, what: str, batch: int) -> torch.Tensor:
    if t.dim() == 0:
        return t.expand(batch).clone()
    if t.dim() != 1 or t.numel() != batch:
        raise ConfigError(f"{what} must be a scalar or have shape [{batch}] (one per batch item), got {list(t.shape)}")
    return t


def condition_tensors(
    target: ConditionArg,
    source: ConditionArg = None,
    intensity: IntensityArg = None,
    batch: int = 1,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Turn convenient condition arguments into ``(target [B] int64, source [B] int64, intensity [B] float32)``.

    ``target``/``source`` may be an emotion name (``"happy"``, or a synonym such as ``"joy"``), an
    :class:`Emotion`, an index into :data:`EMOTIONS`, a sequence of those (one per batch item), or an
    integer tensor (scalar or [B]). Scalars are broadcast to the batch. ``source`` None (or a None
    element) means unknown (index -1). ``intensity`` None means 1.0. ``target`` is required.
    """
    if target is None:
        raise ConfigError(f"a target emotion is required (a name such as 'happy', or an index 0..{len(EMOTIONS) - 1})")
    tgt = _index_tensor(target, "target", False, batch, device)
    src = _index_tensor(source, "source", True, batch, device)
    if intensity is None:
        inten = torch.ones(batch, device=device)
    elif isinstance(intensity, torch.Tensor):
        if intensity.dtype == torch.bool or intensity.is_complex():
            raise ConfigError(f"intensity must be a float tensor, got dtype {intensity.dtype}")
        inten = _broadcast(intensity.to(device=device, dtype=torch.float32), "intensity", batch)
    else:
        inten = _broadcast(torch.tensor(intensity, dtype=torch.float32, device=device), "intensity", batch)
    return tgt, src, inten


class EmotionCondition(nn.Module):
    """(target [B] int64, source [B] int64 with -1 = unknown, intensity [B] float) -> [B, condition_dim].

    Target and source each have their own embedding table of ``len(EMOTIONS) + 1`` rows (the last row
    is "unknown"; only the source uses it). The two embeddings and the intensity are concatenated and
    passed through Linear -> SiLU -> Linear -> SiLU.
    """

    def __init__(self, condition_dim: int = 128, embed_dim: int | None = None) -> None:
        super().__init__()
        if condition_dim < 1:
            raise ConfigError(f"condition_dim must be positive, got {condition_dim}")
        self.condition_dim = condition_dim
        self.embed_dim = embed_dim if embed_dim is not None else max(8, condition_dim // 4)
        self.target_embedding = nn.Embedding(len(EMOTIONS) + 1, self.embed_dim)
        self.source_embedding = nn.Embedding(len(EMOTIONS) + 1, self.embed_dim)
        self.mlp = nn.Sequential(
            nn.Linear(2 * self.embed_dim + 1, condition_dim),
            nn.SiLU(),
            nn.Linear(condition_dim, condition_dim),
            nn.SiLU(),
        )

    @staticmethod
    def validate(target: torch.Tensor, source: torch.Tensor, intensity: torch.Tensor) -> None:
        """Raise ConfigError naming the first bad value (indices out of range, intensity outside [0, 1])."""
        names = ", ".join(f"{i}={name}" for i, name in enumerate(EMOTIONS))
        for what, t, low in (("target", target, 0), ("source", source, -1)):
            if t.dim() != 1:
                raise ConfigError(f"{what} emotion indices must have shape [B], got {list(t.shape)}")
            if t.is_floating_point() or t.dtype == torch.bool:
                raise ConfigError(f"{what} emotion indices must be integers, got dtype {t.dtype}")
            bad = t[(t < low) | (t >= len(EMOTIONS))]
            if bad.numel():
                allowed = f"-1 (unknown) or {names}" if low < 0 else names
                raise ConfigError(f"{what} emotion index {int(bad[0])} is out of range; expected {allowed}")
        if intensity.dim() != 1:
            raise ConfigError(f"intensity must have shape [B], got {list(intensity.shape)}")
        if not (target.shape == source.shape == intensity.shape):
            raise ConfigError(
                f"target, source and intensity must have the same shape [B], got "
                f"{list(target.shape)}, {list(source.shape)}, {list(intensity.shape)}"
            )
        bad_i = intensity[~((intensity >= 0) & (intensity <= 1))]  # also catches NaN
        if bad_i.numel():
            raise ConfigError(f"intensity {float(bad_i[0])} is outside [0, 1]")

    def forward(self, target: torch.Tensor, source: torch.Tensor, intensity: torch.Tensor) -> torch.Tensor:
        self.validate(target, source, intensity)
        src = torch.where(source < 0, torch.full_like(source, UNKNOWN_SOURCE), source)
        dtype = self.target_embedding.weight.dtype
        x = torch.cat(
            (self.target_embedding(target), self.source_embedding(src), intensity.to(dtype).unsqueeze(1)), dim=1
        )
        return self.mlp(x)


class ConditionalGenerator(Wav2LipGenerator):
    """Wav2Lip's generator conditioned on (target emotion, source emotion, intensity) by FiLM in the decoder.

    ``forward(audio, faces, target, source=None, intensity=None)`` takes the parent's shapes; the
    condition is per batch item (per window for 5-D input, shared by its T frames).

    ``blend=True`` (beyond the paper, for the unmasked prior): a 3x3 convolution on the last decoder
    features predicts a per-pixel mask A in (0, 1) and the output is ``A * drawn + (1 - A) * prior``,
    GANimation's attention: what needs no change is copied from the visible source instead of being
    redrawn, which keeps identity and detail on faces the model has not seen. A starts at 0.12
    everywhere (weights 0, bias -2), i.e. close to a copy.
    """

    kind = "conditional_generator"

    def __init__(self, profile: str | ModelProfile = "paper", condition_dim: int = 128, blend: bool = False) -> None:
        super().__init__(profile)
        self.condition_dim = condition_dim
        self.blend = bool(blend)
        self.blend_mask: nn.Conv2d | None = None
        if self.blend:
            cin = int(self.output_block[0].conv_block[0].in_channels)
            self.blend_mask = nn.Conv2d(cin, 1, 3, 1, 1)
            nn.init.zeros_(self.blend_mask.weight)
            nn.init.constant_(self.blend_mask.bias, -2.0)
        self.conditioning = EmotionCondition(condition_dim)
        self.film = nn.ModuleList(
            nn.Linear(condition_dim, 2 * self.decoder_channels(i)) for i in range(len(self.face_decoder_blocks))
        )
        for layer in self.film:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def decoder_channels(self, i: int) -> int:
        """Output channels of decoder block ``i`` (before the concatenation with its skip)."""
        last = self.face_decoder_blocks[i][-1]
        return int(last.conv_block[0].out_channels)

    def build_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"condition_dim": self.condition_dim}
        if self.blend:  # older files have no such option: they load as blend=False
            options["blend"] = True
        return options

    def forward(  # type: ignore[override]
        self,
        audio: torch.Tensor,
        faces: torch.Tensor,
        target: ConditionArg = None,
        source: ConditionArg = None,
        intensity: IntensityArg = None,
    ) -> torch.Tensor:
        batch = audio.size(0)
        if faces.size(0) != batch:
            raise ConfigError(f"audio and faces have different batch sizes ({batch} and {faces.size(0)})")
        tgt, src, inten = condition_tensors(target, source, intensity, batch, faces.device)
        cond = self.conditioning(tgt, src, inten)
        gate = inten.to(faces.dtype)
        windowed = faces.dim() == 5
        if windowed:
            steps = faces.size(2)
            # time-major, like fold_time: row t*B + b holds window b's condition
            cond = cond.repeat(steps, 1)
            gate = gate.repeat(steps)
            audio = audio.transpose(0, 1).reshape(-1, *audio.shape[2:])
            faces = fold_time(faces)
        gate = gate.view(-1, 1, 1, 1)

        def film(i: int, h: torch.Tensor) -> torch.Tensor:
            gamma, beta = self.film[i](cond).to(h.dtype).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
            return h * (1 + gate * gamma) + gate * beta

        out, x = self.encode_decode(audio, faces, film)
        if self.blend_mask is not None:
            alpha = torch.sigmoid(self.blend_mask(x))
            out = alpha * out + (1 - alpha) * faces[:, :3]
        return unfold_time(out, batch) if windowed else out

    # ------------------------------------------------------------------ base (plain Wav2Lip) weights

    def base_state_dict(self) -> dict[str, torch.Tensor]:
        """The plain Wav2Lip generator's part of the state dict (no conditioning/FiLM tensors)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith(CONDITION_PREFIXES)}

    def load_base_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Load a plain Wav2Lip generator's weights (ours, or official with ``module.`` keys); FiLM untouched.

        Strict on the generator's tensors: every one must be present with this profile's shape.
        Raises CheckpointError naming the first difference.
        """
        state = {str(k).removeprefix("module."): v for k, v in state.items()}
        conditional = [k for k in state if k.startswith(CONDITION_PREFIXES)]
        if conditional:
            raise CheckpointError(
                f"not a plain Wav2Lip generator state dict: it holds conditioning tensors (e.g. {conditional[0]}); "
                "load a conditional generator's state dict with load_state_dict"
            )
        want = {k: tuple(v.shape) for k, v in self.base_state_dict().items()}
        missing = [k for k in want if k not in state]
        extra = [k for k in state if k not in want]
        if missing:
            raise CheckpointError(
                f"not a Wav2Lip generator state dict for profile {self.profile.name!r}: "
                f"{len(missing)} tensors missing (e.g. {missing[0]})"
            )
        if extra:
            raise CheckpointError(
                f"not a Wav2Lip generator state dict for profile {self.profile.name!r}: "
                f"{len(extra)} unexpected tensors (e.g. {extra[0]})"
            )
        for k, shape in want.items():
            have = tuple(state[k].shape)
            if have != shape:
                raise CheckpointError(
                    f"Wav2Lip generator weights do not fit profile {self.profile.name!r}: "
                    f"{k} is {list(have)} but the profile needs {list(shape)}"
                )
        result = self.load_state_dict(state, strict=False)
        assert not result.unexpected_keys and all(k.startswith(CONDITION_PREFIXES) for k in result.missing_keys)

    @classmethod
    def from_generator(cls, generator: Wav2LipGenerator, condition_dim: int = 128) -> ConditionalGenerator:
        """A conditional generator holding ``generator``'s weights (same profile, device, dtype and mode).

        Freshly built, it computes exactly what ``generator`` computes, for any condition.
        """
        base = generator.base_state_dict() if isinstance(generator, ConditionalGenerator) else generator.state_dict()
        model = cls(generator.profile, condition_dim)
        param = next(generator.parameters(), None)
        if param is not None:
            model = model.to(device=param.device, dtype=param.dtype)
        model.load_base_state_dict(base)
        return model.train(generator.training)
