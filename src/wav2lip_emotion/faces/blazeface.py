"""BlazeFace face detection (MediaPipe's short- and full-range models) decoded in NumPy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .tflite import TFLiteModel

# Keypoint order of the model's six landmarks.
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")


@dataclass(frozen=True)
class Detection:
    """One detected face in image pixels."""

    box: np.ndarray  # [x0, y0, x1, y1]
    score: float
    keypoints: np.ndarray  # [6, 2], see KEYPOINT_NAMES

    @property
    def size(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])


def ssd_anchors(input_size: int, strides: tuple[int, ...], per_layer: int) -> np.ndarray:
    """Anchor centres [N, 2] in [0, 1] of MediaPipe's SSD set-up (fixed anchor size).

    Consecutive layers with the same stride share one grid; each layer adds ``per_layer`` anchors
    per cell.
    """
    centres = []
    i = 0
    while i < len(strides):
        stride = strides[i]
        repeats = 0
        while i < len(strides) and strides[i] == stride:
            repeats += per_layer
            i += 1
        grid = int(np.ceil(input_size / stride))
        ys, xs = np.mgrid[0:grid, 0:grid]
        cell = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(cell, repeats, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class BlazeFaceSpec:
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int


SPECS = {
    "short": BlazeFaceSpec(128, (8, 16, 16, 16), 2),
    "full": BlazeFaceSpec(192, (4,), 1),
}


class BlazeFace:
    """Detect faces in an RGB uint8 image; returns detections sorted by score.

    ``variant`` "short" is the short-range model (faces filling much of the picture), "full" the
    full-range one (smaller faces, up to about 5 m from the camera).
    """

    def __init__(
        self,
        model_path: str | Path,
        variant: str = "short",
        min_score: float = 0.5,
        iou_threshold: float = 0.3,
        num_threads: int = 1,
    ) -> None:
        self.spec = SPECS[variant]
        self.model = TFLiteModel(model_path, num_threads=num_threads)
        self.min_score = min_score
        self.iou_threshold = iou_threshold
        self.anchors = ssd_anchors(self.spec.input_size, self.spec.strides, self.spec.anchors_per_layer)

    def __call__(self, rgb: np.ndarray, region: tuple[int, int, int, int] | None = None) -> list[Detection]:
        """Detect in the whole image, or in ``region`` = (x0, y0, x1, y1) of it (coordinates stay global)."""
        x0, y0 = 0, 0
        if region is not None:
            x0, y0, x1, y1 = region
            rgb = rgb[y0:y1, x0:x1]
        h, w = rgb.shape[:2]
        side = max(h, w)
        size = self.spec.input_size
        # letterbox: scale the long side to the input size, pad the rest (centred)
        scale = size / side
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        resized = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        canvas = np.zeros((size, size, 3), np.float32)
        px, py = (size - nw) // 2, (size - nh) // 2
        canvas[py : py + nh, px : px + nw] = resized.astype(np.float32) / 127.5 - 1.0
        raw_boxes, raw_scores = self.model(canvas)
        scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1).astype(np.float64), -80, 80)))
        keep = np.flatnonzero(scores >= self.min_score)
        if keep.size == 0:
            return []
        reg = raw_boxes.reshape(-1, raw_boxes.shape[-1])[keep] / size
        anchors = self.anchors[keep]
        cx, cy = reg[:, 0] + anchors[:, 0], reg[:, 1] + anchors[:, 1]
        bw, bh = reg[:, 2], reg[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        kps = reg[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        # back from the letterboxed unit square to image pixels
        boxes = (boxes * size - np.array([px, py, px, py])) / scale + np.array([x0, y0, x0, y0])
        kps = (kps * size - np.array([px, py])) / scale + np.array([x0, y0])
        return weighted_nms(boxes, scores[keep], kps, self.iou_threshold)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, kps: np.ndarray, iou: float) -> list[Detection]:
    """MediaPipe's weighted non-maximum suppression: overlapping boxes are averaged by score."""
    order = np.argsort(-scores)
    boxes, scores, kps = boxes[order], scores[order], kps[order]
    out: list[Detection] = []
    remaining = np.arange(len(scores))
    while remaining.size:
        first = remaining[0]
        overlap = box_iou(boxes[first], boxes[remaining]) >= iou
        group = remaining[overlap]
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(0) / weights.sum()
        kp = (kps[group] * weights[:, :, None]).sum(0) / weights.sum()
        out.append(Detection(box=box, score=float(scores[first]), keypoints=kp))
        remaining = remaining[~overlap]
    return out
