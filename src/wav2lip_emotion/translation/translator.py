"""The model side of translation: a generator checkpoint that redraws batches of face crops.

:class:`EmotionTranslator` knows nothing about video. It reads what a checkpoint can do (the config our
trainer writes: stage, emotion pairs or trained emotions, mask, crop margin), refuses requests it cannot
serve with a one-line reason, prepares the network for fast inference (BatchNorm folded into the
convolutions, channels-last, no autograd) and turns uint8 face crops + mel windows into uint8 faces.
The video pipeline around it is :mod:`.pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..checkpoints import KIND_NAMES, load_generator_checkpoint, shipped_weights
from ..devices import pick_device
from ..errors import TranslationError
from ..faces import MaskMode
from ..models.fusion import prepare_for_inference
from .config import DEFAULT_CROP_PADDING

#: file name of the pretrained model shipped inside the package (``wav2lip_emotion/weights/``)
SHIPPED_MODEL = "world_conditional.safetensors"


def shipped_checkpoint() -> Path | None:
    """The package's own pretrained generator, or None when this install has none."""
    return shipped_weights(SHIPPED_MODEL)


@dataclass(frozen=True)
class GeneratorCard:
    """What a generator checkpoint says about itself (our files) or what can be read from it (official)."""

    path: Path
    #: "native" (our safetensors with a config) or "official" (.pth, or safetensors without a config)
    source: str
    #: "generator" (plain Wav2Lip layout, one emotion pair or none) or "conditional_generator"
    kind: str
    profile: str
    face_size: int
    #: training stage ("wav2lip", "emotion", "conditional"); None when not recorded
    stage: str | None = None
    #: directed (source, destination) pairs a paired model was trained on
    pairs: tuple[tuple[str, str], ...] = ()
    #: emotions a conditional model was trained on
    emotions: tuple[str, ...] = ()
    #: mask the model was trained with; None when not recorded
    mask: MaskMode | None = None
    #: crop margin of the face cache the model was trained on; None when not recorded
    crop_padding: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def conditional(self) -> bool:
        return self.kind == "conditional_generator"

    def describe(self) -> str:
        what = KIND_NAMES.get(self.kind, self.kind)
        if self.source == "official":
            return f"{what} ({self.profile} profile, {self.face_size} px, official weights)"
        trained = ""
        if self.conditional and self.emotions:
            trained = f", trained on {', '.join(self.emotions)}"
        elif self.pairs:
            trained = ", trained on " + ", ".join(f"{s} -> {d}" for s, d in self.pairs)
        elif self.stage:
            trained = f", stage {self.stage}"
        return f"{what} ({self.profile} profile, {self.face_size} px{trained})"


def read_generator_card(path: str | Path) -> tuple[GeneratorCard, nn.Module]:
    """Load a generator (plain or conditional) and what its checkpoint records. Raises CheckpointError."""
    model, ckpt = load_generator_checkpoint(path)
    extra = dict(ckpt.config.get("extra") or {})
    mask = extra.get("mask")
    padding = extra.get("crop_padding")
    card = GeneratorCard(
        path=ckpt.path,
        source="native" if ckpt.config else "official",
        kind=str(ckpt.kind),
        profile=model.profile.name,
        face_size=int(model.profile.face_size),
        stage=extra.get("stage"),
        pairs=tuple((str(s), str(d)) for s, d in (extra.get("pairs") or [])),
        emotions=tuple(str(e) for e in (extra.get("emotions") or [])),
        mask=MaskMode(mask) if mask in ("half", "full", "none") else None,
        crop_padding=float(padding) if isinstance(padding, int | float) else None,
        extra=extra,
    )
    return card, model


@dataclass(frozen=True)
class Request:
    """A translation request resolved against a checkpoint: what the generator is actually asked to do."""

    to: str
    source: str | None
    intensity: float
    #: lines worth telling the user (e.g. that an official file's emotion cannot be checked)
    notes: tuple[str, ...] = ()


def resolve_request(card: GeneratorCard, to: str, source: str | None, intensity: float | None) -> Request:
    """Check that ``card``'s model can translate ``source`` -> ``to`` at ``intensity``; TranslationError if not."""
    where = str(card.path)
    if card.conditional:
        trained = card.emotions
        if trained and to not in trained:
            raise TranslationError(
                f"{where}: this conditional model was trained on {', '.join(trained)}; it cannot make {to} faces"
            )
        if source is not None and trained and source not in trained:
            raise TranslationError(
                f"{where}: this conditional model was trained on {', '.join(trained)}; "
                f"--from {source} is not one of them (leave --from out if unsure)"
            )
        notes = () if trained else ("the checkpoint does not record its trained emotions; they were not checked",)
        return Request(to, source, 1.0 if intensity is None else intensity, notes)

    if intensity is not None and intensity != 1.0:
        raise TranslationError(
            f"{where}: a paired model has no intensity control (it was trained for one strength); "
            "use a conditional checkpoint for --intensity"
        )
    if card.source == "official" or card.stage is None:
        note = (
            "the checkpoint does not record which emotions it translates (official Wav2Lip / Wav2Lip-Emotion "
            f"files never do): it is trusted to produce {to}"
        )
        return Request(to, source, 1.0, (note,))
    if not card.pairs:
        raise TranslationError(
            f"{where}: is a {card.stage}-stage lip-sync model trained without emotion pairs; it cannot make {to} "
            "faces (use a checkpoint from the emotion or conditional stage)"
        )
    pairs = ", ".join(f"{s} -> {d}" for s, d in card.pairs)
    sources = [s for s, d in card.pairs if d == to]
    if not sources:
        raise TranslationError(f"{where}: translates {pairs}; it cannot make {to} faces")
    if source is not None and source not in sources:
        raise TranslationError(f"{where}: translates {pairs}; it was not trained for {source} -> {to}")
    if source is None and len(sources) == 1:
        source = sources[0]
    return Request(to, source, 1.0)


@dataclass
class MaskProbe:
    """How the mask mode of a checkpoint that does not record it was inferred (see :meth:`infer_mask`)."""

    mask: MaskMode
    #: 1 - mean(output) / mean(original) over the upper face when the whole face is blanked: how much
    #: darker the model leaves the part a half-mask model never had to draw
    darkening: float
    #: mean absolute error (0..1) of the upper face with the whole face blanked / with only the lower half
    upper_error_full: float
    upper_error_half: float
    faces: int

    def describe(self) -> str:
        return (
            f"mask inferred as {self.mask.value} from {self.faces} faces: with the whole face blanked the model "
            f"leaves the upper face {100 * self.darkening:+.1f}% darker (a half-mask model leaves it darker "
            f"than {100 * EmotionTranslator.PROBE_DARKENING:.0f}%); pass --mask to override"
        )


class EmotionTranslator:
    """A generator ready to translate face crops: model + resolved request + mask + device.

    ``generate(mels, crops, masks)`` takes float32 mel windows [B, 1, 80, 16], uint8 RGB crops
    [B, S, S, 3] (the face at the model size; they are also the reference frames) and the pose-prior
    masks [B, S, S] (True where the face is blanked out) and returns the generated uint8 crops.
    """

    #: mask inference: a model that leaves a blanked upper face darker than this (relative) is a
    #: half-mask model (measured on world models: half-mask 0.06-0.17, full-mask -0.01-0.0)
    PROBE_DARKENING = 0.03

    def __init__(
        self,
        model: nn.Module,
        card: GeneratorCard,
        request: Request,
        *,
        mask: MaskMode | str | None = None,
        device: torch.device | str = "cpu",
        fold: bool = True,
        channels_last: bool = True,
    ) -> None:
        self.card = card
        self.request = request
        self.device = torch.device(device)
        self.mask: MaskMode | None = MaskMode(mask) if mask is not None else card.mask
        self.mask_probe: MaskProbe | None = None
        self.model = prepare_for_inference(model, self.device, channels_last=channels_last, fold=fold)
        self.channels_last = channels_last
        self.face_size = card.face_size

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path | None,
        to: str,
        source: str | None = None,
        intensity: float | None = None,
        *,
        mask: MaskMode | str | None = None,
        device: str = "auto",
    ) -> EmotionTranslator:
        """Load ``path`` (None = the shipped model) and check that it can do ``source`` -> ``to``."""
        from ..perception.emotions import parse_emotion
        from .config import parse_intensity

        if path is None:
            path = shipped_checkpoint()
            if path is None:
                raise TranslationError(
                    "no --checkpoint was given and this install ships no pretrained model; pass a generator "
                    "checkpoint (ours or an official Wav2Lip / Wav2Lip-Emotion .pth)"
                )
        card, model = read_generator_card(path)
        to = parse_emotion(to).value
        source = parse_emotion(source).value if source is not None else None
        request = resolve_request(card, to, source, parse_intensity(intensity))
        if mask is not None and card.mask is not None and MaskMode(mask) is not card.mask:
            raise TranslationError(
                f"{card.path}: was trained with the {card.mask.value} mask; --mask {MaskMode(mask).value} would "
                "feed it faces it has never seen"
            )
        return cls(model, card, request, mask=mask, device=pick_device(device, setting="--device"))

    @property
    def crop_padding(self) -> float:
        return self.card.crop_padding if self.card.crop_padding is not None else DEFAULT_CROP_PADDING

    def describe(self) -> str:
        req = self.request
        change = f"{req.source or 'any emotion'} -> {req.to}"
        if self.card.conditional:
            change += f" at intensity {req.intensity:.2f}"
        mask = self.mask.value if self.mask is not None else "to be inferred"
        return f"{self.card.describe()}: {change}, {mask} mask, on {self.device.type}"

    # ------------------------------------------------------------------ inference

    def _faces_tensor(self, crops: np.ndarray, masks: np.ndarray) -> torch.Tensor:
        ref = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device, non_blocking=True)
        ref = ref.permute(0, 3, 1, 2).float().div_(255.0)
        keep = torch.from_numpy(~np.asarray(masks, dtype=bool)).to(self.device)[:, None]
        faces = torch.cat((ref * keep, ref), dim=1)
        if self.channels_last:
            faces = faces.contiguous(memory_format=torch.channels_last)
        return faces

    @torch.inference_mode()
    def generate_float(self, mels: np.ndarray, crops: np.ndarray, masks: np.ndarray) -> torch.Tensor:
        """Generated faces as float [B, 3, S, S] in [0, 1] on the model's device."""
        n = len(crops)
        if crops.ndim != 4 or crops.shape[1:] != (self.face_size, self.face_size, 3):
            raise ValueError(f"crops must be [B, {self.face_size}, {self.face_size}, 3], got {crops.shape}")
        if mels.shape != (n, 1, 80, 16) or masks.shape != crops.shape[:3]:
            raise ValueError(f"mels {mels.shape} / masks {masks.shape} do not fit {n} crops")
        audio = torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32)).to(self.device)
        faces = self._faces_tensor(crops, masks)
        if self.card.conditional:
            req = self.request
            return self.model(audio, faces, req.to, req.source, req.intensity)
        return self.model(audio, faces)

    def generate(self, mels: np.ndarray, crops: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Generated faces as uint8 [B, S, S, 3]."""
        out = self.generate_float(mels, crops, masks)
        out = out.mul(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        return out.cpu().numpy()

    def prior_masks(self, hulls: np.ndarray) -> np.ndarray:
        """Pose-prior masks [B, S, S] (True = blanked) for this translator's mask mode from face hulls."""
        if self.mask is None:
            raise TranslationError(f"{self.card.path}: the mask mode is not known yet (call infer_mask first)")
        if self.mask is MaskMode.FULL:
            return np.asarray(hulls, dtype=bool)
        if self.mask is MaskMode.NONE:
            return np.zeros((len(hulls), self.face_size, self.face_size), dtype=bool)
        masks = np.zeros((len(hulls), self.face_size, self.face_size), dtype=bool)
        masks[:, self.face_size // 2 :] = True
        return masks

    def infer_mask(self, mels: np.ndarray, crops: np.ndarray, hulls: np.ndarray) -> MaskProbe:
        """Tell a half-mask model from a full-mask one by how it treats a blanked upper face.

        A half-mask model (Wav2Lip's) learnt to copy the upper half of its pose prior; with the whole face
        blanked it carries some of the black into the upper face, which comes out darker. A full-mask
        model learnt to redraw the whole face from the reference, so its upper face keeps its brightness.
        The result is kept in :attr:`mask_probe` and used for the rest of the video.
        """
        s = self.face_size
        hulls = np.asarray(hulls, dtype=bool)
        upper = hulls.copy()
        upper[:, s // 2 :] = False
        if upper.sum() < 16 * len(crops):
            raise TranslationError(f"{self.card.path}: too little face to infer the mask mode; pass --mask")
        half = np.zeros_like(hulls)
        half[:, s // 2 :] = True
        truth = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        weight = torch.from_numpy(upper).to(self.device)[:, None].float()
        total = 3 * weight.sum()

        def upper_face(prior: np.ndarray) -> tuple[float, float]:
            out = self.generate_float(mels, crops, prior).float()
            error = float(((out - truth).abs() * weight).sum() / total)
            brightness = float((out * weight).sum() / max(float((truth * weight).sum()), 1e-6))
            return error, brightness

        (err_full, bright_full), (err_half, _) = upper_face(hulls), upper_face(half)
        darkening = 1.0 - bright_full
        mask = MaskMode.HALF if darkening > self.PROBE_DARKENING else MaskMode.FULL
        probe = MaskProbe(mask, darkening, err_full, err_half, len(crops))
        self.mask, self.mask_probe = probe.mask, probe
        return probe
