"""Training speed: steps/s at the small and paper profiles, and the share of step time spent waiting for data.

Builds a small generated world in a temporary directory, caches it at 64 px (small) and 96 px (paper),
and runs the emotion fine-tuning stage with every loss of the paper switched on (L1, sync expert, GAN with
the whole-face discriminator, fer emotion objective), batch 8 windows of 5 frames. The first step
of each run (allocation, warm-up) is not counted.

    python benchmarks/training_speed.py [--steps-small 30] [--steps-paper 4] [--workers 0 2]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import torch

from wav2lip_emotion.checkpoints import save_model
from wav2lip_emotion.data.preprocess import PreprocessConfig, preprocess
from wav2lip_emotion.models import SyncNetExpert
from wav2lip_emotion.train import Trainer, load_config, read_log
from wav2lip_emotion.world.synth import WorldConfig, synthesize


def _world(root: Path, sizes: tuple[int, ...]) -> dict[int, Path]:
    synthesize(
        WorldConfig(
            actors=3,
            sentences=1,
            emotions=("neutral", "happy"),
            levels=(3,),
            size=160,
            aligned=False,
            procedural_identities=False,
            max_seconds=3.0,
        ),
        root / "world",
    )
    out = {}
    for size in sizes:
        out[size] = root / f"cache{size}"
        preprocess(PreprocessConfig("world", root / "world", out[size], size=size, workers=2), progress=False)
    return out


def _run(cache: Path, profile: str, steps: int, workers: int, root: Path) -> dict[str, float]:
    expert = root / f"expert_{profile}.safetensors"
    if not expert.exists():
        save_model(SyncNetExpert(profile), expert)
    out = root / f"run_{profile}_{workers}"
    config = load_config(
        None,
        stage="emotion",
        model={"profile": profile, "mask": "half", "syncnet": str(expert), "discriminator": "full_face_residual"},
        data={
            "cache": str(cache),
            "pairs": [["neutral", "happy"]],
            "workers": workers,
            "val_actors": 1,
            "test_actors": 0,
        },
        loss={"strategy": "l1+emotion", "sync_warmup": False},
        optim={"batch_size": 8},
        schedule={"steps": steps + 1, "eval_every": 0, "save_every": 0, "sample_every": 0, "log_every": 1},
        runtime={"output": str(out), "progress": False, "tensorboard": False, "judge": "none"},
    )
    trainer = Trainer(config, resume=False)
    start = time.perf_counter()
    trainer.run()
    wall = time.perf_counter() - start
    lines = [e for e in read_log(out / "log.jsonl") if e["split"] == "train"][1:]  # skip the warm-up step
    per_step = [8 / e["samples_per_s"] for e in lines]
    share = sum(e["data_share"] * t for e, t in zip(lines, per_step, strict=True)) / sum(per_step)
    step_s = sum(per_step) / len(per_step)
    return {
        "step_s": step_s,
        "steps_per_s": 1 / step_s,
        "windows_per_s": 8 / step_s,
        "frames_per_s": 40 / step_s,
        "data_share": share,
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps-small", type=int, default=30)
    parser.add_argument("--steps-paper", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
    with tempfile.TemporaryDirectory(prefix="w2le-train-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        caches = _world(root, (64, 96))
        print(f"world + caches: {time.perf_counter() - t0:.0f} s")
        print(
            f"{'profile':8} {'workers':>7} {'s/step':>8} {'steps/s':>8} {'windows/s':>10} {'frames/s':>9} "
            f"{'data wait':>10}"
        )
        for profile, size, steps in (("small", 64, args.steps_small), ("paper", 96, args.steps_paper)):
            for workers in args.workers:
                r = _run(caches[size], profile, steps, workers, root)
                print(
                    f"{profile:8} {workers:>7} {r['step_s']:>8.3f} {r['steps_per_s']:>8.2f} "
                    f"{r['windows_per_s']:>10.1f} {r['frames_per_s']:>9.1f} {100 * r['data_share']:>9.1f}%"
                )
    print(
        "one step = batch 8 windows x 5 frames: L1 + sync expert + whole-face GAN (generator and "
        "discriminator updates) + fer emotion objective"
    )


if __name__ == "__main__":
    main()
