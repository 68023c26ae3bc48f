"""Draw docs/training_samples.png: a trained neutral -> happy model on the public-domain identity.

    python docs/training_figure.py --cache data/world/cache64 --run runs/world/neutral_happy_half_l1_emotion

Only the Grace Hopper identity (public domain, actor R001 of the generated world) is drawn; it is a
TRAINING actor of the world runs, so the picture shows what the model learned, not how it generalises
(docs/training.md has the held-out numbers).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from wav2lip_emotion.checkpoints import load_generator_any
from wav2lip_emotion.data.cache import FaceCache
from wav2lip_emotion.data.dataset import SampleConfig, TalkingFaceDataset
from wav2lip_emotion.data.pairing import PairIndex, PairingConfig
from wav2lip_emotion.train.logbook import sample_grid

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--run", required=True, help="run directory with generator.safetensors")
    parser.add_argument("--actor", default="R001", help="world actor to draw (R001 = Grace Hopper, public domain)")
    parser.add_argument("--out", default=str(HERE / "training_samples.png"))
    args = parser.parse_args()
    cache = FaceCache(args.cache)
    records = [r for r in cache.records() if r.actor == args.actor]
    pairs = PairIndex(records, PairingConfig.paper("neutral", "happy", mask="half", strategy="l1+emotion"))
    data = TalkingFaceDataset(cache, pairs, SampleConfig(seed=5))
    batch = torch.utils.data.default_collate(
        [data.sample(i, 0) for i in range(0, len(data), max(1, len(data) // 3))][:3]
    )
    gen = load_generator_any(Path(args.run) / "generator.safetensors")
    with torch.no_grad():
        out = gen(batch["mels"], batch["faces"])
    sample_grid(
        batch["faces"][:, 3:],
        batch["faces"][:, :3],
        out,
        batch["targets"],
        Path(args.out),
        rows=3,
        scale=3,
        labels=["neutral -> happy"] * 3,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
