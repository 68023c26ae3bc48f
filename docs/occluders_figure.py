"""Draw docs/occluders.png (run from the repository root: python docs/occluders_figure.py)."""

from __future__ import annotations

import sys

import cv2
import numpy as np

sys.path.insert(0, "tests")
import test_occluders as T  # the test's compositing helpers
from wav2lip_emotion.assets import asset_path
from wav2lip_emotion.faces import FaceTracker
from wav2lip_emotion.faces.hands import HandConfig, HandDetector
from wav2lip_emotion.faces.occluders import OccluderDetector
from wav2lip_emotion.media import VideoReader, read_image, write_image

TILE = 240
tracker = FaceTracker()


def tile(rgb, lm, mask, region, label):
    x0, y0, x1, y1 = region
    crop = rgb[y0:y1, x0:x1].astype(np.float32)
    red = np.array([255, 40, 40], np.float32)
    out = crop * (1 - 0.55 * mask[..., None]) + red * 0.55 * mask[..., None]
    out = out.astype(np.uint8)
    edge = (mask >= 0.5).astype(np.uint8)
    cnts, _ = cv2.findContours(edge, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    s = TILE / max(out.shape[:2])
    out = cv2.resize(out, (round(out.shape[1] * s), round(out.shape[0] * s)), interpolation=cv2.INTER_AREA)
    cv2.drawContours(out, [np.round(c * s).astype(np.int32) for c in cnts], -1, (255, 255, 0), 1, cv2.LINE_AA)
    canvas = np.full((TILE + 34, TILE, 3), 255, np.uint8)
    py, px = (TILE - out.shape[0]) // 2, (TILE - out.shape[1]) // 2
    canvas[py : py + out.shape[0], px : px + out.shape[1]] = out
    for i, line in enumerate(label.split("\n")):
        cv2.putText(canvas, line, (4, TILE + 13 + 14 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def square(rgb, lm, margin=0.15):
    s = T._size(lm)
    c = (lm[:, :2].min(0) + lm[:, :2].max(0)) / 2
    r = (0.5 + margin) * s
    return (int(c[0] - r), int(c[1] - r), int(c[0] + r), int(c[1] + r))


tiles = []
rgb, lm = T._photo(tracker, "astronaut")
reg = square(rgb, lm)
tiles.append(tile(rgb, lm, OccluderDetector().mask(rgb, lm, reg), reg, "astronaut: clean\nnothing flagged"))
for kind, label in [
    ("grey", "grey card"),
    ("texture", "textured patch"),
    ("microphone", "dark boom over the\nmouth corner"),
]:
    frame, _ = T._composite(rgb, lm, kind)
    tiles.append(tile(frame, lm, OccluderDetector().mask(frame, lm, reg), reg, label + " (colour cue)"))

# a real hand (dlib's 2009_004587.jpg) pasted over Grace Hopper's cheek
src = read_image(asset_path("dlib_faces") / "2009_004587.jpg")
hand = max(HandDetector(HandConfig(search_every=1)).detect(src), key=lambda h: h.box[2] - h.box[0])
cut = np.zeros(src.shape[:2], np.uint8)
cv2.fillConvexPoly(cut, np.round(hand.hull()).astype(np.int32), 1)
cut = cv2.dilate(cut, np.ones((9, 9), np.uint8))
hx0, hy0, hx1, hy1 = (hand.box + np.array([-8, -8, 8, 8])).astype(int)
patch, alpha = src[hy0:hy1, hx0:hx1], cut[hy0:hy1, hx0:hx1]
rgb, lm = T._photo(tracker, "grace_hopper")
k = 0.8 * T._size(lm) / patch.shape[1]
patch = cv2.resize(patch, None, fx=k, fy=k)
alpha = cv2.resize(alpha, (patch.shape[1], patch.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
px, py = int(lm[50, 0] - 0.6 * patch.shape[1]), int(lm[50, 1] - 0.3 * patch.shape[0])
frame = rgb.copy()
view = frame[py : py + patch.shape[0], px : px + patch.shape[1]]
view[alpha] = patch[alpha]
reg = square(rgb, lm)
tiles.append(tile(frame, lm, OccluderDetector().mask(frame, lm, reg), reg, "real hand pasted\n(hand cue + colour)"))

# a real photo: the girl's hands under the woman's chin, her hair over the cheek
rgb = read_image(asset_path("dlib_faces") / "2008_001009.jpg")
tracker.reset()
lm = tracker.update(rgb).landmarks
reg = square(rgb, lm, 0.35)
tiles.append(tile(rgb, lm, OccluderDetector().mask(rgb, lm, reg), reg, "real photo: hands\nunder the chin, hair"))

# movie-hello: glasses and a headset microphone, the skin learnt over the clip
det = OccluderDetector()
tracker.reset()
shots = {}
with VideoReader(asset_path("movie_hello")) as reader:
    for frame in reader:
        obs = tracker.update(frame.rgb, frame.time)
        if obs.found:
            reg = square(frame.rgb, obs.landmarks, 0.25)
            m = det.mask(frame.rgb, obs.landmarks, reg)
            if frame.index in (60, 200):
                shots[frame.index] = tile(
                    frame.rgb, obs.landmarks, m, reg, f"movie-hello frame {frame.index}\nglasses, headset"
                )
        if frame.index >= 200:
            break
tiles += [shots[60], shots[200]]
rows = [np.hstack([np.pad(t, ((4, 4), (4, 4), (0, 0)), constant_values=255) for t in tiles[i : i + 4]]) for i in (0, 4)]
write_image("docs/occluders.png", np.vstack(rows))
print("wrote docs/occluders.png", np.vstack(rows).shape)
