"""The part of each frame that editing its face reads, and frames converted to RGB only there.

Where the face is a small part of the frame (a wide shot), the mesh engine's edit pass keeps each
frame's decoded 4:2:0 planes and converts only its face's window to RGB (:func:`in_rgb_around_faces`);
the pixels the edit changes are then written back into the planes (media/planes.py, docs/media.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from ..faces.mesh import FACE_OVAL
from ..media import Frame
from ..media.planes import Colour, planes_to_rgb
from .mesh_engine import OUTER_RING_SCALE, MeshEngine, MeshPlan, ShotPlans

#: pixels around the warp's outer ring that a lookup may still read (the luma's Lanczos support and the
#: source patch's margin, faces/warp.py)
WINDOW_MARGIN = 10


def face_window(
    landmarks: np.ndarray, mesh: np.ndarray, size: tuple[int, int], search_scale: float
) -> tuple[int, int, int, int]:
    """The part of a frame (x0, y0, x1, y1) that editing its face reads: everything the warp may look
    up (inside the warp's outer ring around ``mesh``, where the edit is placed, and a margin for the
    lookup's support) and, with ``search_scale`` > 0, 1.5 times the square the occluder detector
    searches for hands in around ``landmarks`` (the tracked face), so that a hand followed out of it
    is still seen for a while. Clipped to the frame (``size`` = width, height)."""
    w, h = size
    boxes = []
    for pts in (np.asarray(landmarks, np.float64)[:, :2], np.asarray(mesh, np.float64)[:, :2]):
        oval = pts[list(FACE_OVAL)]
        centre = oval.mean(0)
        ring = centre + OUTER_RING_SCALE * (oval - centre)
        boxes.append([*(ring.min(0) - WINDOW_MARGIN), *(ring.max(0) + WINDOW_MARGIN)])
        if search_scale > 0:
            mid = (pts.min(0) + pts.max(0)) / 2
            r = 1.5 * search_scale / 2 * float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 1.0))
            boxes.append([*(mid - r), *(mid + r)])
    b = np.array(boxes)
    x0, y0 = np.floor(b[:, :2].min(0)).astype(int)
    x1, y1 = np.ceil(b[:, 2:].max(0)).astype(int)
    return max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)


def face_windows(
    engine: MeshEngine, plan: MeshPlan | ShotPlans, landmarks: np.ndarray, size: tuple[int, int]
) -> list[tuple[int, int, int, int] | None]:
    """Each frame's :func:`face_window` (None where no face was found), for ``engine``'s occluder
    detector's search for hands."""
    config = getattr(engine.occluders, "config", None)
    search = float(config.hand_search_scale) if config is not None and config.hands else 0.0
    out: list[tuple[int, int, int, int] | None] = []
    for i in range(len(landmarks)):
        if not landmarks[i].any():
            out.append(None)
            continue
        p, j = plan.locate(i)
        mesh = landmarks[i] if p.placement is None else p.placement[j]
        out.append(face_window(landmarks[i], mesh, size, search))
    return out


#: the planes are kept (:func:`in_rgb_around_faces`) when the median face window is at most this share
#: of the frame: converting a part costs about twice as much per pixel as swscale's exact conversion of
#: the whole frame, and the pixels written back cost about as much as converting the whole frame back
#: when the face fills the frame (measured: single_face at 640x360, whose window is the whole frame,
#: ran 10% slower so, movie-hello at 1280x720, a tenth of the frame, 22% faster)
PLANES_MAX_SHARE = 0.35


def planes_pay(windows: list[tuple[int, int, int, int] | None], size: tuple[int, int]) -> bool:
    """Whether keeping the planes pays: the median window of the frames with a face is at most
    :data:`PLANES_MAX_SHARE` of the frame."""
    areas = [(x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in (w for w in windows if w is not None)]
    return bool(areas) and float(np.median(areas)) <= PLANES_MAX_SHARE * size[0] * size[1]


def in_rgb_around_faces(
    frames: Iterable[Frame], colour: Colour | None, windows: list[tuple[int, int, int, int] | None]
) -> Iterator[Frame]:
    """``frames`` handed on, those that came as planes only (``VideoReader(planes_only=True)``) given an
    RGB frame that holds only their ``windows`` (:func:`face_windows`), converted with
    :func:`~wav2lip_emotion.media.planes.planes_to_rgb`; elsewhere it is black, and a frame without a
    face is all black. At 1280x720 with a 90 px face that part is about a tenth of the frame."""
    for frame in frames:
        if frame.planes is not None and frame.rgb.size == 0 and colour is not None:
            h, w = frame.planes.shape[0] * 2 // 3, frame.planes.shape[1]
            rgb = np.zeros((h, w, 3), np.uint8)  # (untouched pages cost nothing)
            box = windows[frame.index] if frame.index < len(windows) else None
            if box is not None and box[2] > box[0] and box[3] > box[1]:
                x0, y0, x1, y1 = box
                rgb[y0:y1, x0:x1] = planes_to_rgb(frame.planes, box, colour)
            frame.rgb = rgb
        yield frame
