"""The built-in demonstration behind ``make demo``.

Until the translation pipeline exists it exercises what the package can already do for real: decode and
resample audio with PyAV, compute the model's mel spectrogram, build the published networks, round-trip
a checkpoint, then generate a small talking-face world (a real photo speaking a real recorded sentence,
neutral and happy), track its faces, and let the independent emotion judge tell the two apart.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np


def speech_like_waveform(seconds: float = 3.0, rate: int = 22_050, seed: int = 0) -> np.ndarray:
    """A voiced, syllable-rate modulated harmonic signal (a stand-in for speech, no recording needed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 25 * np.sin(2 * np.pi * 0.7 * t)  # intonation
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 25))
    formant = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6))  # ~4 syllables/s
    envelope = np.clip(np.sin(2 * np.pi * 2.0 * t), 0, None) ** 0.5
    y = voice * formant * envelope + 0.01 * rng.standard_normal(len(t))
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        fh.writeframes(pcm.tobytes())


def run_demo(out: Path) -> None:
    import torch

    from .audio import load_audio, mel_windows, melspectrogram, num_video_frames
    from .checkpoints import describe_checkpoint, load_generator, save_model
    from .models import build_model
    from .models.inspection import count_flops, example_inputs
    from .visual import save_mel_png

    out.mkdir(parents=True, exist_ok=True)
    print("wav2lip-emotion demo (until translation lands: audio, models, checkpoints, generated world, judges)\n")

    wav_path = out / "speech_like_22k.wav"
    write_wav(wav_path, speech_like_waveform(), 22_050)
    wav = load_audio(wav_path)
    mel = melspectrogram(wav)
    n_frames = num_video_frames(mel.shape[1], 25)
    windows = mel_windows(mel, range(n_frames), 25)
    png = save_mel_png(mel, out / "mel.png")
    print(f"1. audio   {wav_path.name}: 22.05 kHz -> {len(wav)} samples at 16 kHz (PyAV resampler)")
    print(
        f"           mel spectrogram [80, {mel.shape[1]}], {n_frames} video frames at 25 fps, "
        f"mel windows {list(windows.shape)} -> {png}"
    )

    print("2. models  (paper profile = published architecture; forward pass of one 96x96 frame)")
    with torch.inference_mode():
        for kind, opts in [("generator", {}), ("syncnet", {}), ("discriminator", {"form": "full_face_residual"})]:
            model = build_model(kind, "paper", **opts).eval()
            inputs = example_inputs(model, 1)
            model(*inputs)
            t0 = time.perf_counter()
            model(*inputs)
            ms = 1000 * (time.perf_counter() - t0)
            print(
                f"           {kind:14} {sum(p.numel() for p in model.parameters()):>11,} params "
                f"{count_flops(model, *inputs) / 1e9:6.2f} GFLOP  {ms:7.1f} ms"
            )

    ckpt = out / "tiny_generator.safetensors"
    gen = build_model("generator", "tiny").eval()
    save_model(gen, ckpt, extra={"note": "untrained, saved by the demo"})
    again = load_generator(ckpt)
    x = example_inputs(gen, 2)
    with torch.inference_mode():
        same = torch.equal(gen(*x), again(*x))
    info = describe_checkpoint(ckpt)
    print(
        f"3. checkpoint {ckpt}: {info['kind']} profile {info['profile']['name']}, "
        f"{info['parameters']:,} params; reloaded without flags, identical outputs: {same}"
    )
    _world_stage(out)
    print(f"\ndone: outputs in {out.resolve()}")


def _world_stage(out: Path) -> None:
    """Generate a tiny world, check its faces, and ask both emotion classifiers what they see."""
    from .faces.report import analyse_faces
    from .media import write_image
    from .perception.report import analyse_emotions
    from .world.inspect import contact_sheet
    from .world.synth import WorldConfig, synthesize

    world = out / "world"
    t0 = time.perf_counter()
    manifest = synthesize(
        WorldConfig(
            actors=1,
            sentences=1,
            emotions=("neutral", "happy", "sad"),
            levels=(3,),
            size=160,
            procedural_identities=False,
            aligned=False,
        ),
        world,
    )
    actor = manifest.actors[0]
    print(
        f"4. world   {world}: {actor['name']} (a real photo) speaking {manifest.takes[0]['speech']} "
        f"in {len(manifest.takes)} emotions, rendered in {time.perf_counter() - t0:.0f} s"
    )
    sheet = write_image(out / "world_contact_sheet.png", contact_sheet(world, str(actor["actor"]), "001", columns=6))
    print(f"           contact sheet (rows = emotions, columns = time) -> {sheet}")
    print("5. faces and emotions of each take (fer = training objective, faceapi = independent judge)")
    for take in manifest.takes:
        video = world / str(take["video"])
        faces = analyse_faces(video)
        tracks = analyse_emotions(video, ("fer", "faceapi"))
        judged = "; ".join(
            f"{name} p(happy) {tr.mean()['happy']:.2f} p(sad) {tr.mean()['sad']:.2f}" for name, tr in tracks.items()
        )
        print(f"           {take['emotion']:8} face in {faces.found}/{faces.frames} frames; {judged}")
