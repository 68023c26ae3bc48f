"""Is the generated world realistic enough? The checks of the world issue, measured.

Generates a world of real-photo identities in all 8 emotions at level 3 (no aligned renders), then:
1. recognition by both independent judges (fer and face-api) per frame: happy top-class rate, neutral
   median p(happy), sad-vs-neutral pairs, and the full confusion table (rows: rendered emotion);
2. identity: dlib distance between emotions of one actor (to the actor's neutral take) per frame, and
   between different real actors;
3. mouth opening (inner-lip gap from the rendered landmarks) vs the audio energy envelope, Pearson r per
   video;
4. rendering speed at a frame size whose face crop is about 96 px;
5. a contact sheet (rows = emotions, columns = time) written to docs/world_contact_sheet.png when the
   identity is public domain.

    python benchmarks/world_check.py [--actors 3] [--sentences 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from wav2lip_emotion.faces import FaceCrop, FaceTracker
from wav2lip_emotion.media import VideoReader, write_image
from wav2lip_emotion.perception import load_emotion_model
from wav2lip_emotion.perception.crops import CLASSIFIER_CROP
from wav2lip_emotion.perception.identity import FaceIdentity
from wav2lip_emotion.world.inspect import contact_sheet
from wav2lip_emotion.world.rig import FaceRig, RigFrame, emotion_aus
from wav2lip_emotion.world.speech import envelope
from wav2lip_emotion.world.synth import WorldConfig, load_manifest, synthesize

EMOTIONS = ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")
PUBLIC_DOMAIN = {"astronaut", "grace_hopper"}


def mouth_opening(lm: np.ndarray) -> np.ndarray:
    """Inner-lip opening per frame (lower lip 14 below upper lip 13 along the face's vertical), in IOD."""
    ax = lm[:, 263] - lm[:, 33]
    iod = np.linalg.norm(ax, axis=1)
    ax = ax / iod[:, None]
    down = np.stack([-ax[:, 1], ax[:, 0]], axis=1)
    return ((lm[:, 14] - lm[:, 13]) * down).sum(axis=1) / iod


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actors", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=2)
    parser.add_argument("--out", help="world directory (default: a temporary one)")
    parser.add_argument("--every", type=int, default=2, help="classify every n-th frame")
    args = parser.parse_args()
    root = Path(args.out or tempfile.mkdtemp(prefix="world_check_"))
    config = WorldConfig(
        actors=args.actors,
        sentences=args.sentences,
        emotions=EMOTIONS,
        levels=(3,),
        procedural_identities=False,
        aligned=False,
        size=160,
    )
    t0 = time.perf_counter()
    synthesize(config, root, progress=True)
    manifest = load_manifest(root)
    frames_total = sum(t["frames"] for t in manifest["takes"])
    print(
        f"world: {root}, {len(manifest['actors'])} real actors, {len(manifest['takes'])} takes, "
        f"{frames_total} frames in {time.perf_counter() - t0:.0f} s (with encoding)"
    )

    tracker = FaceTracker()
    judges = {"fer": load_emotion_model("fer"), "faceapi": load_emotion_model("faceapi")}
    ident = FaceIdentity()
    probs: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}  # (actor, sentence, emotion) -> judge -> [N, C]
    descriptors: dict[tuple[str, str, str], np.ndarray] = {}
    correlations = []
    for take in manifest["takes"]:
        key = (take["actor"], take["sentence"], take["emotion"])
        crops, frames_for_id = [], []
        tracker.reset()
        with VideoReader(root / take["video"]) as reader:
            for frame in reader:
                obs = tracker.update(frame.rgb, frame.time)
                if frame.index % args.every == 0 and obs.found:
                    crops.append(FaceCrop.from_box(obs.box, CLASSIFIER_CROP).extract(frame.rgb))
                if frame.index % 10 == 0:
                    frames_for_id.append(frame.rgb)
        x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255
        with torch.inference_mode():
            probs[key] = {name: judge(x).numpy() for name, judge in judges.items()}
        descriptors[key] = ident.descriptors(frames_for_id)
        meta = np.load(root / take["meta"])
        lm = meta["landmarks"]
        gap = mouth_opening(lm)
        from wav2lip_emotion.audio import load_audio

        env = envelope(load_audio(root / take["audio"]), 16000, 25.0, n_frames=len(gap))
        correlations.append(float(np.corrcoef(gap, env)[0, 1]))

    print("\n## Recognition by the independent judges (real-photo identities, level 3)\n")
    for name, judge in judges.items():
        cls = judge.classes
        hap = cls.index("happy")
        happy_top = np.concatenate([p[name].argmax(1) == hap for k, p in probs.items() if k[2] == "happy"])
        neutral_happy = np.concatenate([p[name][:, hap] for k, p in probs.items() if k[2] == "neutral"])
        sad = cls.index("sad")
        pairs = [
            float(np.median(probs[(a, s, "sad")][name][:, sad]) > np.median(probs[(a, s, "neutral")][name][:, sad]))
            for (a, s, e) in probs
            if e == "sad"
        ]
        print(
            f"- {name}: happy is the top class in {happy_top.mean():.0%} of happy frames; neutral frames' median "
            f"p(happy) {np.median(neutral_happy):.2f}; sad above neutral in p(sad) for {np.mean(pairs):.0%} of "
            f"(actor, sentence) pairs"
        )
    for name, judge in judges.items():
        cls = judge.classes
        print(f"\n{name}: share of frames per top class (rows: rendered emotion)\n")
        print("| rendered | " + " | ".join(cls) + " |")
        print("|---|" + "---|" * len(cls))
        for emo in EMOTIONS:
            tops = np.concatenate([p[name].argmax(1) for k, p in probs.items() if k[2] == emo])
            counts = np.bincount(tops, minlength=len(cls)) / len(tops)
            print(
                f"| {emo} | "
                + " | ".join(f"**{v:.2f}**" if cls[i] == emo else f"{v:.2f}" for i, v in enumerate(counts))
                + " |"
            )

    print("\n## Identity\n")
    same = []
    for (a, s, e), desc in descriptors.items():
        ref = descriptors[(a, s, "neutral")].mean(0)
        if e != "neutral":
            same += list(np.linalg.norm(desc - ref, axis=1))
    same = np.array(same)
    actors = sorted({k[0] for k in descriptors})
    means = {a: np.concatenate([d for k, d in descriptors.items() if k[0] == a]).mean(0) for a in actors}
    diff = [float(np.linalg.norm(means[a] - means[b])) for i, a in enumerate(actors) for b in actors[i + 1 :]]
    print(
        f"- same actor, other emotion vs its neutral take: {np.mean(same < 0.6):.0%} of frames < 0.6 "
        f"(median {np.median(same):.2f}, max {same.max():.2f})"
    )
    print(f"- different real actors: distances {', '.join(f'{d:.2f}' for d in diff)}")

    c = np.array(correlations)
    print(
        "\n## Lip sync\n\n"
        f"- mouth opening vs audio energy envelope: Pearson r min {c.min():.2f}, median {np.median(c):.2f} "
        f"over {len(c)} videos; {np.mean(c >= 0.7):.0%} of videos >= 0.7"
    )

    # speed: frames whose face crop is ~96 px (frame 160, face ~60%)
    take = manifest["takes"][0]
    from wav2lip_emotion.world.identities import identity_pool

    idn = identity_pool(1, seed=0, procedural=False)[0]
    import cv2

    img = cv2.resize(idn.image, (160, 160), interpolation=cv2.INTER_AREA)
    rig = FaceRig(img, idn.landmarks[:, :2] * 160 / idn.image.shape[0])
    aus = emotion_aus("happy", 3)
    n = 200
    t0 = time.perf_counter()
    for k in range(n):
        rig.render(RigFrame(jaw=0.5 + 0.5 * np.sin(k / 3), aus=aus, roll=np.sin(k / 20)))
    fps = n / (time.perf_counter() - t0)
    lm = rig.render(RigFrame())[1]
    face_px = float(max(np.ptp(lm[:, 0]), np.ptp(lm[:, 1])) * 1.2)
    print(
        "\n## Speed\n\n"
        f"- rig rendering at 160x160 frames (model crop of the face {face_px:.0f} px): {fps:.0f} frames/s "
        f"(one process); {take['video']}"
    )

    first = manifest["actors"][0]
    if any(p in first["source"] for p in PUBLIC_DOMAIN):
        sheet = contact_sheet(root, first["actor"], "001", columns=8, tile=112)
        path = Path(__file__).resolve().parents[1] / "docs" / "world_contact_sheet.png"
        write_image(path, sheet)
        print(f"\ncontact sheet: {path}")


if __name__ == "__main__":
    main()
