"""Detection rates of the face pipeline on the real media of the model store.

Prints: per clip, the share of frames with a tracked face; per photo, whether the main face is found;
on dlib's annotated group photos, the share of annotated faces that the detectors find and the mesh
verifies (recall) and how many verified faces match no annotation; on scikit-image's LFW subset, faces
found out of 100 and non-faces taken for faces out of 100.

    python benchmarks/faces_detection_rates.py
"""

from __future__ import annotations

import cv2
import numpy as np

from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.cli.face_report import analyse_faces
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.faces.annotations import dlib_face_boxes
from wav2lip_emotion.faces.blazeface import box_iou
from wav2lip_emotion.media import read_image


def main() -> None:
    tracker = FaceTracker()
    print("clips (share of frames with the face tracked):")
    for name in ("movie_hello", "kphotoalbum_movie", "single_face"):
        s = analyse_faces(asset_path(name), tracker=tracker)
        print(f"  {name:20} {s.found}/{s.frames} = {s.found_ratio:.1%}")

    print("photos (main face found):")
    for name in (
        "astronaut",
        "grace_hopper",
        "feat_surprise",
        "feat_happy",
        "feat_anger",
        "feat_disgust",
        "einstein",
        "breakingbad",
        "lenna",
    ):
        tracker.reset()
        obs = tracker.update(read_image(asset_path(name)))
        print(f"  {name:20} {'found' if obs.found else 'NOT FOUND'}")

    faces_dir = asset_path("dlib_faces")
    annotated = dlib_face_boxes(faces_dir)
    total = hit = extra = 0
    for name, boxes in sorted(annotated.items()):
        rgb = read_image(faces_dir / name)
        verified = [d for d in tracker.candidates(rgb) if tracker._verify(rgb, d) is not None]
        matched = set()
        for det in verified:
            ious = [float(box_iou(det.box, b[None])[0]) for b in boxes]
            best = int(np.argmax(ious)) if ious else -1
            if best >= 0 and ious[best] > 0.2:
                matched.add(best)
            else:
                extra += 1
        total += len(boxes)
        hit += len(matched)
        print(f"  dlib {name:28} annotated {len(boxes):2d}  found {len(matched):2d}")
    print(f"dlib group photos: {hit}/{total} annotated faces found ({hit / total:.1%}), {extra} unmatched detections")

    data = np.load(asset_path("lfw_subset"))
    found = []
    for img in data:
        grey = cv2.resize((img * 255).astype(np.uint8), None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
        tracker.reset()
        found.append(tracker.update(np.repeat(grey[..., None], 3, 2)).found)
    faces, non_faces = sum(found[:100]), sum(found[100:])
    print(f"LFW subset (25x25 upscaled x4): faces found {faces}/100, non-faces flagged {non_faces}/100")


if __name__ == "__main__":
    main()
