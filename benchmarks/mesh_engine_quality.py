"""Mesh-engine quality on a real clip: emotion (face-api and fer), identity, lips and realism, per emotion.

For each destination emotion it translates the clip with the mesh engine at one intensity and prints,
source -> result: the mean p(destination) of face-api and fer over the frames (for neutral also
p(happy)), dlib's identity distance of the mean descriptors, the correlation of the re-tracked
inner-lip opening, the face sharpness ratio (variance of the Laplacian inside the source's face
outline, result over source), the flicker ratio (mean frame-to-frame change inside that outline) and
the flipped triangles.

    python benchmarks/mesh_engine_quality.py single_face [--to happy,sad,...] [--intensity 1]
    python benchmarks/mesh_engine_quality.py movie_hello
    python benchmarks/mesh_engine_quality.py path/to/clip.mp4
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import wav2lip_emotion
from wav2lip_emotion.assets import ASSETS, asset_path
from wav2lip_emotion.evaluation.measure import measure_video, pearson
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.faces.mesh import FACE_OVAL
from wav2lip_emotion.media import VideoReader
from wav2lip_emotion.perception import load_emotion_model
from wav2lip_emotion.perception.identity import FaceIdentity


def outlines(clip: Path) -> list[np.ndarray | None]:
    tracker = FaceTracker()
    out = []
    with VideoReader(clip) as reader:
        for f in reader:
            obs = tracker.update(f.rgb, f.time)
            out.append(obs.landmarks[list(FACE_OVAL), :2] if obs.found else None)
    return out


def realism(source: Path, result: Path, ovals: list[np.ndarray | None]) -> tuple[float, float]:
    sharp, flick = [], []
    prev = None
    with VideoReader(source) as ra, VideoReader(result) as rb:
        for fa, fb in zip(ra, rb, strict=False):
            oval = ovals[fa.index] if fa.index < len(ovals) else None
            ga = cv2.cvtColor(fa.rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
            gb = cv2.cvtColor(fb.rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
            if oval is not None:
                m = np.zeros(ga.shape, np.uint8)
                cv2.fillConvexPoly(m, cv2.convexHull(np.round(oval).astype(np.int32)), 1)
                inside = m > 0
                la, lb = cv2.Laplacian(ga, cv2.CV_64F)[inside], cv2.Laplacian(gb, cv2.CV_64F)[inside]
                sharp.append((la.var(), lb.var()))
                if prev is not None:
                    flick.append((np.abs(ga - prev[0])[inside].mean(), np.abs(gb - prev[1])[inside].mean()))
            prev = (ga, gb)
    s, f = np.array(sharp), np.array(flick)
    return float(s[:, 1].mean() / s[:, 0].mean()), float(f[:, 1].mean() / f[:, 0].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", help="an asset name (single_face, movie_hello) or a video file")
    ap.add_argument("--to", default="happy,sad,surprised,angry,neutral,fear,disgusted,contempt")
    ap.add_argument("--intensity", default="1")
    args = ap.parse_args()
    clip = asset_path(args.clip) if args.clip in ASSETS else Path(args.clip)
    judges = {"face-api": load_emotion_model("faceapi").eval(), "fer": load_emotion_model("fer").eval()}
    identity = FaceIdentity()
    ovals = outlines(clip)

    def measure(path: Path) -> dict:
        return {k: measure_video(path, j, identity=identity if k == "face-api" else None) for k, j in judges.items()}

    source = measure(clip)
    with tempfile.TemporaryDirectory() as tmp:
        for to in args.to.split(","):
            out = Path(tmp) / f"{to}.mp4"
            t0 = time.perf_counter()
            result = wav2lip_emotion.translate(clip, out, to, intensity=args.intensity, progress=False)
            seconds = time.perf_counter() - t0
            got = measure(out)
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
            sharp, flicker = realism(clip, out, ovals)
            line += f", sharpness x{sharp:.2f}, flicker x{flicker:.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
