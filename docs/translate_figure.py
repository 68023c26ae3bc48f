"""Draw docs/translate_frames.png: ``translate`` on a held-out actor of the generated world.

    python docs/translate_figure.py --world data/world --checkpoint runs/world/conditional/generator.safetensors

The clip is the actor's neutral take of one sentence (video and its separate audio muxed together, as
a user's clip would come), translated by the full video pipeline (tracking, crop, generator,
paste-back, encoding) to happy at intensity 0.5 and 1 and to sad. Rows: source and translations;
columns: frames spread over the clip, cropped around the face. The default actor P006 is a procedural
face drawn from the public-domain Grace Hopper photo only (in the world of docs/training.md it is a
TRAINING actor; the held-out actors derive from photos whose terms do not allow showing them here).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np

from wav2lip_emotion import translate
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.media import VideoReader, VideoWriter, probe_video, write_image

HERE = Path(__file__).parent


def frames_at(path: Path, indices: list[int]) -> list[np.ndarray]:
    wanted, out = set(indices), {}
    with VideoReader(path) as reader:
        for frame in reader:
            if frame.index in wanted:
                out[frame.index] = frame.rgb
    return [out[i] for i in indices]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", required=True, help="a world written by `wav2lip-emotion synth`")
    parser.add_argument("--checkpoint", required=True, help="a conditional generator trained on that world")
    parser.add_argument("--actor", default="P006", help="P006 derives from a public-domain photo only")
    parser.add_argument("--sentence", default="001")
    parser.add_argument("--columns", type=int, default=6)
    parser.add_argument("--out", default=str(HERE / "translate_frames.png"))
    args = parser.parse_args()
    world = Path(args.world) / args.actor
    video = world / "video" / "front" / "neutral" / "level_1" / f"{args.sentence}.mp4"
    audio = world / "audio" / "neutral" / "level_1" / f"{args.sentence}.wav"
    rows: list[tuple[str, Path]] = []
    with tempfile.TemporaryDirectory(prefix="translate_figure_") as tmp:
        clip = Path(tmp) / "neutral.mp4"
        info = probe_video(video)
        with VideoWriter(clip, info.fps, info.width, info.height, audio_from=audio) as writer, VideoReader(video) as r:
            for frame in r:
                writer.write(frame.rgb)
        rows.append(("source (neutral)", clip))
        for label, to, intensity in (("happy, 0.5", "happy", 0.5), ("happy, 1", "happy", 1.0), ("sad, 1", "sad", 1.0)):
            out = Path(tmp) / f"{to}_{intensity}.mp4"
            result = translate(clip, out, to=to, source="neutral", intensity=intensity, checkpoint=args.checkpoint)
            print(result.describe())
            rows.append((f"-> {label}", out))
        count = probe_video(clip).frame_count
        indices = [round(float(i)) for i in np.linspace(2, count - 3, args.columns)]
        with VideoReader(clip) as reader:
            first = next(iter(reader)).rgb
        box = FaceTracker().update(first).box
        x0, y0, x1, y1 = box
        side = 1.5 * max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        top, left = int(max(0, cy - side / 2)), int(max(0, cx - side / 2))
        bottom, right = int(min(info.height, cy + side / 2)), int(min(info.width, cx + side / 2))
        tile = 160
        grid_rows = []
        for label, path in rows:
            tiles = [
                cv2.resize(f[top:bottom, left:right], (tile, tile), interpolation=cv2.INTER_AREA)
                for f in frames_at(path, indices)
            ]
            strip = np.concatenate(tiles, axis=1)
            band = np.full((22, strip.shape[1], 3), 255, np.uint8)
            cv2.putText(band, label, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
            grid_rows += [band, strip]
        write_image(args.out, np.concatenate(grid_rows, axis=0))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
