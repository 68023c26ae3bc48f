"""Training-data loader speed against what one training step consumes.

Builds a face cache of synthetic videos (3 actors x 2 sentences x neutral/happy, 150 frames each, at
64 px for the ``small`` profile and 96 px for ``paper``), then measures

* loader samples/s: ``DataLoader(TalkingFaceDataset, batch_size=8, shuffle=True)`` with 0 and 2
  workers (full-face masking, the costlier variant: it also reads the masks), worker start-up excluded;
* training-step samples/s: 8 / the time of one generator step on a batch of 8 windows of 5 frames
  (generator forward + backward + Adam, with the frozen SyncNet expert's sync BCE and the quality
  discriminator's GAN term in the loss; the discriminator's own update is not included).

The ratio loader / step says how much headroom the loader has (target: >= 10x with 2 workers).

    python benchmarks/loader_speed.py [--samples 400] [--steps 2] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from wav2lip_emotion.data.cache import CachedVideo, CacheInfo, FaceCache, VideoWriter, write_json_atomic
from wav2lip_emotion.data.dataset import SampleConfig, TalkingFaceDataset
from wav2lip_emotion.models import build_model
from wav2lip_emotion.models.syncnet import stack_lower_halves, sync_probability

ACTORS = ("A01", "A02", "A03")
SENTENCES = ("001", "002")
EMOTIONS = ("neutral", "happy")
FRAMES = 150
FPS = 25.0
BATCH = 8
WINDOW = 5


@dataclass(frozen=True)
class Pair:
    """A pair as the dataset reads it (what data.pairing.PairIndex yields)."""

    source: SimpleNamespace
    destination: SimpleNamespace
    source_emotion: str
    destination_emotion: str
    destination_level: int | None


def video_id(actor: str, emotion: str, sentence: str) -> str:
    level = "level_1" if emotion == "neutral" else "level_3"
    return f"{actor}/front/{emotion}/{level}/{sentence}"


def synthetic_video(rng: np.random.Generator, size: int) -> tuple[list[np.ndarray | None], np.ndarray, np.ndarray]:
    """Smooth random face-like crops (a slowly drifting colour field, a moving dark 'mouth'), an
    elliptical face mask, and a smooth random mel; about 3% of frames have no face."""
    base = cv2.resize(rng.uniform(40, 220, (6, 6, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    drift = cv2.resize(rng.uniform(-30, 30, (4, 4, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, (size // 2, size // 2), (size * 3 // 8, size * 7 // 16), 0, 0, 360, 255, -1)
    crops: list[np.ndarray | None] = []
    for t in range(FRAMES):
        if rng.random() < 0.03:
            crops.append(None)
            continue
        img = base + np.sin(t / 12.0) * drift
        open_ = int(size * (0.03 + 0.05 * (1 + np.sin(t / 2.3))))
        cv2.ellipse(img, (size // 2, size * 3 // 4), (size // 6, max(1, open_)), 0, 0, 360, (40, 20, 30), -1)
        crops.append(np.clip(img, 0, 255).astype(np.uint8))
    steps = int(80 * FRAMES / FPS) + 1
    mel = cv2.resize(rng.uniform(-4, 4, (20, steps // 4)).astype(np.float32), (steps, 80))
    return crops, mask, mel


def build_cache(root: Path, size: int, seed: int = 0) -> FaceCache:
    write_json_atomic(root / "cache.json", asdict(CacheInfo(size=size, fps=FPS, padding=0.1, layout="world")))
    rng = np.random.default_rng(seed)
    for actor in ACTORS:
        for sentence in SENTENCES:
            for emotion in EMOTIONS:
                vid = video_id(actor, emotion, sentence)
                crops, mask, mel = synthetic_video(rng, size)
                writer = VideoWriter(root, vid, size)
                for crop in crops:
                    writer.add(crop, None if crop is None else mask)
                meta = CachedVideo(
                    id=vid,
                    actor=actor,
                    sentence=sentence,
                    emotion=emotion,
                    level=1 if emotion == "neutral" else 3,
                    view="front",
                    gender=None,
                    frames=FRAMES,
                    found=sum(c is not None for c in crops),
                    mel_steps=mel.shape[1],
                    source="synthetic",
                    audio_source="synthetic",
                )
                writer.commit(mel, meta)
    return FaceCache(root)


def translation_pairs() -> list[Pair]:
    """Both directions (neutral -> happy, happy -> neutral) for every actor and sentence: 12 pairs."""
    pairs = []
    for actor in ACTORS:
        for sentence in SENTENCES:
            for src, dst in (("neutral", "happy"), ("happy", "neutral")):
                pairs.append(
                    Pair(
                        source=SimpleNamespace(id=video_id(actor, src, sentence)),
                        destination=SimpleNamespace(id=video_id(actor, dst, sentence)),
                        source_emotion=src,
                        destination_emotion=dst,
                        destination_level=3 if dst == "happy" else None,
                    )
                )
    return pairs


def loader_rate(dataset: TalkingFaceDataset, workers: int) -> float:
    """Samples/s of a shuffled DataLoader over the whole dataset, timed from its second batch on."""
    loader = DataLoader(dataset, batch_size=BATCH, num_workers=workers, shuffle=True)
    it = iter(loader)
    next(it)  # worker start-up and first batch
    count = 0
    start = time.perf_counter()
    for batch in it:
        count += len(batch["faces"])
    return count / (time.perf_counter() - start)


def step_rate(profile: str, size: int, steps: int, device: str) -> float:
    """Samples/s one generator training step consumes (batch of 8 windows of 5 frames)."""
    gen = build_model("generator", profile).to(device).train()
    sync = build_model("syncnet", profile).to(device).eval()
    disc = build_model("discriminator", profile).to(device).train()
    for p in [*sync.parameters(), *disc.parameters()]:
        p.requires_grad_(False)
    opt = torch.optim.Adam(gen.parameters(), lr=1e-4, betas=(0.5, 0.999))
    faces = torch.rand(BATCH, 6, WINDOW, size, size, device=device)
    mels = torch.randn(BATCH, WINDOW, 1, 80, 16, device=device)
    mel = torch.randn(BATCH, 1, 80, 16, device=device)
    targets = torch.rand(BATCH, 3, WINDOW, size, size, device=device)

    def step() -> None:
        out = gen(mels, faces)
        audio_emb, face_emb = sync(mel, stack_lower_halves(out))
        p = sync_probability(audio_emb, face_emb)
        sync_loss = F.binary_cross_entropy(p, torch.ones_like(p))
        gan_loss = -torch.log(disc(out).clamp_min(1e-7)).mean()
        loss = 0.8 * F.l1_loss(out, targets) + 0.03 * sync_loss + 0.07 * gan_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return BATCH / float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=400, help="samples per loader measurement")
    ap.add_argument("--steps", type=int, default=2, help="timed training steps (paper profile); small gets 3x")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="device of the training step")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    rows = []
    with tempfile.TemporaryDirectory(prefix="loader-speed-") as tmp:
        for profile, size, steps in (("small", 64, 3 * args.steps), ("paper", 96, args.steps)):
            t0 = time.perf_counter()
            cache = build_cache(Path(tmp) / f"cache{size}", size)
            built = time.perf_counter() - t0
            config = SampleConfig(mask="full", samples_per_epoch=args.samples, seed=0)
            dataset = TalkingFaceDataset(cache, translation_pairs(), config)
            rates = {w: loader_rate(dataset, w) for w in (0, 2)}
            step = step_rate(profile, size, steps, args.device)
            rows.append((profile, size, rates[0], rates[2], step))
            print(
                f"{profile}: cache of {len(cache)} videos built in {built:.1f} s; {len(dataset.plans)} pairs; "
                f"loader {rates[0]:.0f} / {rates[2]:.0f} samples/s; step {step:.2f} samples/s",
                flush=True,
            )

    print(f"\ntorch threads {torch.get_num_threads()}, training step on {args.device}, batch {BATCH} x {WINDOW} frames")
    header = ("profile", "face", "loader 0 workers", "loader 2 workers", "training step", "ratio 0 / 2 workers")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for profile, size, r0, r2, step in rows:
        ratios = f"{r0 / step:.0f}x / {r2 / step:.0f}x"
        print(f"| {profile} | {size} px | {r0:.0f} /s | {r2:.0f} /s | {step:.2f} /s | {ratios} |")


if __name__ == "__main__":
    main()
