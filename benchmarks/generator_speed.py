"""Paper-profile generator speed on this machine, against the machine's own matmul throughput.

Prints, in one run: the measured float32 matmul GFLOP/s (the practical peak), the generator's
frames/s at batch 1 and 32, and the generator's achieved GFLOP/s (7.93 GFLOP per 96x96 frame, counted
from its convolutions) as a fraction of that peak.

    python benchmarks/generator_speed.py [--threads N] [--device cpu|cuda] [--batches 1 32]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from wav2lip_emotion.models import Wav2LipGenerator
from wav2lip_emotion.models.inspection import count_flops, example_inputs


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(device: str, n: int = 2048, repeats: int = 10) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    for _ in range(2):
        a @ b
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / min(times) / 1e9


def generator_fps(model: torch.nn.Module, batch: int, device: str, seconds: float = 6.0) -> float:
    audio, faces = (x.to(device) for x in example_inputs(model, batch))
    with torch.inference_mode():
        model(audio, faces)  # warm-up
        _sync(device)
        times: list[float] = []
        start = time.perf_counter()
        while len(times) < 3 or (time.perf_counter() - start < seconds and len(times) < 50):
            t0 = time.perf_counter()
            model(audio, faces)
            _sync(device)
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = Wav2LipGenerator("paper").eval()
    flops_per_frame = count_flops(model, *example_inputs(model, 1))
    model = model.to(args.device)
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else cpu_name()
    print(f"device: {args.device} ({device_name}), torch {torch.__version__}, threads {torch.get_num_threads()}")
    peak = matmul_gflops(args.device)
    print(f"matmul float32 2048x2048: {peak:8.1f} GFLOP/s (measured peak)")
    print(f"generator (paper, 96x96): {flops_per_frame / 1e9:.3f} GFLOP per frame")
    for batch in args.batches:
        fps = generator_fps(model, batch, args.device)
        achieved = fps * flops_per_frame / 1e9
        print(
            f"batch {batch:3d}: {fps:8.1f} frames/s   {achieved:8.1f} GFLOP/s   {achieved / peak:6.1%} of matmul peak"
        )


if __name__ == "__main__":
    main()
