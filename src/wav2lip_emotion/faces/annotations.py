"""Reading dlib's example face annotations (``training.xml`` / ``testing.xml`` of its ``faces`` folder)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

DLIB_ANNOTATION_FILES = ("training.xml", "testing.xml")


def dlib_face_boxes(directory: str | Path) -> dict[str, list[np.ndarray]]:
    """{image file name: [x0, y0, x1, y1] face boxes}, training.xml then testing.xml, in file order."""
    directory = Path(directory)
    out: dict[str, list[np.ndarray]] = {}
    for name in DLIB_ANNOTATION_FILES:
        for image in ET.parse(directory / name).getroot().iter("image"):
            boxes = out.setdefault(image.get("file", ""), [])
            for box in image.iter("box"):
                left, top = float(box.get("left", 0)), float(box.get("top", 0))
                w, h = float(box.get("width", 0)), float(box.get("height", 0))
                boxes.append(np.array([left, top, left + w, top + h]))
    return out
