"""Mesh-engine quality on a real clip: emotion (face-api and fer), identity, lips and realism, per emotion.

For each destination emotion it translates the clip with the mesh engine at one intensity and prints,
source -> result: the mean p(destination) of face-api and fer over the frames (for neutral also
p(happy)), dlib's identity distance of the mean descriptors, the correlation of the re-tracked
inner-lip opening, the evaluation's realism ratios (face sharpness and face-aligned flicker, result over
source; evaluation/realism.py) and the flipped triangles.

    python benchmarks/mesh_engine_quality.py single_face [--to happy,sad,...] [--intensity 1]
    python benchmarks/mesh_engine_quality.py movie_hello [--glasses on]
    python benchmarks/mesh_engine_quality.py path/to/clip.mp4
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import wav2lip_emotion
from wav2lip_emotion.assets import ASSETS, asset_path
from wav2lip_emotion.evaluation.measure import measure_video, pearson
from wav2lip_emotion.evaluation.realism import realism_scores
from wav2lip_emotion.perception import load_emotion_model
from wav2lip_emotion.perception.identity import FaceIdentity


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", help="an asset name (single_face, movie_hello) or a video file")
    ap.add_argument("--to", default="happy,sad,surprised,angry,neutral,fear,disgusted,contempt")
    ap.add_argument("--intensity", default="1")
    ap.add_argument("--glasses", default="auto", choices=["auto", "on", "off"], help="translate's --glasses")
    args = ap.parse_args()
    clip = asset_path(args.clip) if args.clip in ASSETS else Path(args.clip)
    judges = {"face-api": load_emotion_model("faceapi").eval(), "fer": load_emotion_model("fer").eval()}
    identity = FaceIdentity()

    def measure(path: Path, align_to: dict | None = None) -> dict:
        return {
            k: measure_video(
                path,
                j,
                identity=identity if k == "face-api" else None,
                align_to=None if align_to is None else align_to[k],
            )
            for k, j in judges.items()
        }

    source = measure(clip)
    with tempfile.TemporaryDirectory() as tmp:
        for to in args.to.split(","):
            out = Path(tmp) / f"{to}.mp4"
            t0 = time.perf_counter()
            result = wav2lip_emotion.translate(
                clip, out, to, intensity=args.intensity, glasses=args.glasses, progress=False
            )
            seconds = time.perf_counter() - t0
            got = measure(out, source)
            line = f"{to:10s} {seconds:5.1f} s, {result.flipped_triangles} flipped"
            for name, judge in judges.items():
                if not judge.has(to):
                    continue
                a = np.nanmean(source[name].class_probability(judge, to))
                b = np.nanmean(got[name].class_probability(judge, to))
                line += f" | {name} p({to}) {a:.2f} -> {b:.2f} ({b - a:+.2f})"
                if to == "neutral":
                    a = np.nanmean(source[name].class_probability(judge, "happy"))
                    b = np.nanmean(got[name].class_probability(judge, "happy"))
                    line += f" p(happy) {a:.2f} -> {b:.2f}"
            line += f" | mouth r {pearson(source['face-api'].opening, got['face-api'].opening):.3f}"
            ids = source["face-api"].identity, got["face-api"].identity
            if ids[0] is not None and ids[1] is not None:
                line += f", identity {np.linalg.norm(ids[0] - ids[1]):.3f}"
            r = realism_scores(got["face-api"].realism, source["face-api"].realism)
            line += f", sharpness x{r.sharpness_ratio:.2f}, flicker x{r.flicker_ratio:.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
