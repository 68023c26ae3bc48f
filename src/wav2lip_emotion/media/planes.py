"""Pictures as the decoder gives them: 8-bit 4:2:0 Y, U and V planes, for edits that touch a small part
of each frame.

Turning every decoded frame into RGB and every edited one back costs more than decoding it (at 1280x720,
about 8 ms and 6 ms of CPU against 3 ms to decode, on the development machine), and the round trip moves
every pixel by a rounding step. An edit that changes only a face can instead keep the decoded planes
and write back only the pixels it changed (:func:`paste_rgb`): every other pixel reaches the encoder
exactly as it was decoded, and the output is tagged with the input's own colour description
(:class:`Colour`), so that a player shows it as it shows the input. See docs/media.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

#: FFmpeg's AVColorSpace codes read with the BT.601 matrix (swscale reads an unspecified one so too) and
#: with BT.709; other matrices (BT.2020, ...) are not handled here
_BT601_SPACES = frozenset({2, 5, 6})  # unspecified, BT.470 BG, SMPTE 170M
_BT709_SPACES = frozenset({1})
#: FFmpeg's AVColorRange codes of limited ("MPEG", 16-235) range: unspecified, MPEG
_LIMITED_RANGES = frozenset({0, 1})


@dataclass(frozen=True)
class Colour:
    """A video stream's colour description: FFmpeg's codes for its matrix (AVColorSpace), primaries,
    transfer characteristics and range. The default is BT.709 with limited range, what
    :class:`~wav2lip_emotion.media.VideoWriter` writes RGB frames as."""

    space: int = 1
    primaries: int = 1
    transfer: int = 1
    range: int = 1

    @property
    def matrix(self) -> str:
        """The matrix swscale converts with: "itu709", or "itu601" (also for an unspecified one, as
        swscale and so the RGB frames of :class:`~wav2lip_emotion.media.VideoReader` read it)."""
        return "itu709" if self.space in _BT709_SPACES else "itu601"


BT709 = Colour()


def planar_colour(frame: Any) -> Colour | None:
    """The colour description of a decoded frame whose planes can be kept and written back as they are:
    8-bit 4:2:0 (``yuv420p``) of even size, limited range, with a BT.601, BT.709 or unspecified
    matrix; None for anything else (full-range ``yuvj420p``, 10-bit, 4:2:2, BT.2020, odd sizes)."""
    if frame.format.name != "yuv420p" or frame.width % 2 or frame.height % 2:
        return None
    space, rng = int(frame.colorspace or 2), int(frame.color_range or 0)
    if space not in _BT601_SPACES | _BT709_SPACES or rng not in _LIMITED_RANGES:
        return None
    return Colour(space, int(frame.color_primaries or 2), int(frame.color_trc or 2), rng)


def frame_planes(frame: Any) -> np.ndarray:
    """A decoded ``yuv420p`` frame's planes packed as FFmpeg lays them out, [h * 3 / 2, w] uint8: the
    Y plane, then U, then V (each [h / 2, w / 2], read row by row), a copy."""
    return frame.to_ndarray(format="yuv420p")


def split_planes(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y [h, w], U and V [h / 2, w / 2] planes of a packed 4:2:0 picture."""
    h = packed.shape[0] * 2 // 3
    w = packed.shape[1]
    flat = packed.reshape(-1)
    quarter = (h // 2) * (w // 2)
    y = flat[: h * w].reshape(h, w)
    u = flat[h * w : h * w + quarter].reshape(h // 2, w // 2)
    v = flat[h * w + quarter : h * w + 2 * quarter].reshape(h // 2, w // 2)
    return y, u, v


def rgb_to_planes(rgb: np.ndarray, colour: Colour) -> np.ndarray:
    """An even-sized RGB picture as packed 4:2:0 planes with ``colour``'s matrix, limited range (the
    conversion :class:`~wav2lip_emotion.media.VideoWriter` applies to the RGB frames it is given)."""
    import av

    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame.reformat(format="yuv420p", dst_colorspace=colour.matrix, dst_color_range="MPEG").to_ndarray()


def paste_rgb(
    packed: np.ndarray, box: tuple[int, int, int, int], before: np.ndarray, after: np.ndarray, colour: Colour
) -> int:
    """Write an edit of part of a picture into its planes, in place: ``after`` (RGB uint8 over ``box`` =
    x0, y0, x1, y1) where it differs from ``before`` (the same part as it was), converted with
    ``colour``'s matrix. Every pixel the edit left as it was keeps its Y value exactly; a U, V sample
    (one per 2x2 block) changes only where a pixel of its block did. Returns the pixels changed."""
    diff = cv2.split(cv2.absdiff(after, before))  # (OpenCV: several times numpy's .any(axis=2))
    changed = cv2.bitwise_or(cv2.bitwise_or(diff[0], diff[1]), diff[2])
    cx, cy, cw, ch = cv2.boundingRect(changed)
    if cw == 0:
        return 0
    x0, y0, x1, y1 = box
    y_plane, u_plane, v_plane = split_planes(packed)
    # the changed pixels' box, grown to whole 2x2 blocks and converted as a piece
    bx0, by0 = (x0 + cx) & ~1, (y0 + cy) & ~1
    bx1, by1 = x0 + cx + cw, y0 + cy + ch
    bx1, by1 = bx1 + (bx1 & 1), by1 + (by1 & 1)
    # the block's pixels outside ``box`` (at most a row or a column on a side) only fill the block:
    # they repeat their neighbour, and their Y values are not written
    ix0, iy0, ix1, iy1 = max(x0, bx0), max(y0, by0), min(x1, bx1), min(y1, by1)
    pad = ((iy0 - by0, by1 - iy1), (ix0 - bx0, bx1 - ix1), (0, 0))
    rgb = np.pad(after[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0], pad, mode="edge")
    ny, nu, nv = split_planes(rgb_to_planes(rgb, colour))
    mask = np.pad(changed[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0], pad[:2]) > 0
    np.copyto(y_plane[by0:by1, bx0:bx1], ny, where=mask)
    blocks = mask[0::2, 0::2] | mask[1::2, 0::2] | mask[0::2, 1::2] | mask[1::2, 1::2]
    np.copyto(u_plane[by0 // 2 : by1 // 2, bx0 // 2 : bx1 // 2], nu, where=blocks)
    np.copyto(v_plane[by0 // 2 : by1 // 2, bx0 // 2 : bx1 // 2], nv, where=blocks)
    return int(cv2.countNonZero(changed))


#: (Kr, Kb) of the BT.601 and BT.709 matrices
_LUMA_WEIGHTS = {"itu601": (0.299, 0.114), "itu709": (0.2126, 0.0722)}


def planes_to_rgb(packed: np.ndarray, box: tuple[int, int, int, int], colour: Colour) -> np.ndarray:
    """RGB uint8 [y1 - y0, x1 - x0, 3] of part of a packed 4:2:0 picture (``box`` = x0, y0, x1, y1),
    converted with ``colour``'s matrix from limited range, the chroma interpolated bilinearly at full
    resolution from samples sited as H.264 and MPEG-2 site them (level with the even columns, between
    two rows). Within a grey level or two of swscale's exact conversion of the whole frame, which
    :class:`~wav2lip_emotion.media.VideoReader` makes, at a fraction of its cost on a small part."""
    x0, y0, x1, y1 = box
    y_plane, u_plane, v_plane = split_planes(packed)
    ch, cw = u_plane.shape
    # the chroma rows and columns around the box (one more on each side where there is one)
    cx0, cy0 = max(x0 // 2 - 1, 0), max(y0 // 2 - 1, 0)
    cx1, cy1 = min((x1 + 1) // 2 + 1, cw), min((y1 + 1) // 2 + 1, ch)
    chroma = cv2.merge([u_plane[cy0:cy1, cx0:cx1], v_plane[cy0:cy1, cx0:cx1]]).astype(np.float32)
    # across: sample k sits on luma column 2k, so column 2k is it and 2k + 1 halfway to the next
    # (the last column repeats its sample)
    wide = np.empty((chroma.shape[0], 2 * chroma.shape[1], 2), np.float32)
    wide[:, 0::2] = chroma
    wide[:, 1:-1:2] = (chroma[:, :-1] + chroma[:, 1:]) * 0.5
    wide[:, -1] = chroma[:, -1]
    # down: sample k sits between luma rows 2k and 2k + 1, as OpenCV's linear resize by 2 takes it
    tall = cv2.resize(wide, (wide.shape[1], 2 * wide.shape[0]), interpolation=cv2.INTER_LINEAR)
    uv = tall[y0 - 2 * cy0 : y1 - 2 * cy0, x0 - 2 * cx0 : x1 - 2 * cx0]
    kr, kb = _LUMA_WEIGHTS[colour.matrix]
    kg = 1.0 - kr - kb
    ys_, cs = 255.0 / 219.0, 255.0 / 224.0
    # R, G, B from (Y, Cb, Cr) with the offsets folded in
    m = np.array(
        [
            [ys_, 0.0, 2 * (1 - kr) * cs],
            [ys_, -2 * (1 - kb) * kb / kg * cs, -2 * (1 - kr) * kr / kg * cs],
            [ys_, 2 * (1 - kb) * cs, 0.0],
        ],
        np.float32,
    )
    # (+ 0.5: the conversion to uint8 below truncates, after the clip to [0, 255], so this rounds)
    offset = 0.5 - (m @ np.array([16.0, 128.0, 128.0], np.float32))
    ycc = np.dstack([y_plane[y0:y1, x0:x1], uv[..., 0], uv[..., 1]]).astype(np.float32, copy=False)
    rgb = cv2.transform(ycc, np.column_stack([m, offset]).astype(np.float32))
    return np.clip(rgb, 0.0, 255.0, out=rgb).astype(np.uint8)
