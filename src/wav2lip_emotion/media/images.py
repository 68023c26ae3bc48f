"""Still images with Pillow: read as HxWx3 uint8 RGB in display orientation, write PNG/JPEG/... by suffix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..errors import MediaError
from ..messages import first_line

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".webp", ".tif", ".tiff"})
_PIL_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".ppm": "PPM",
    ".pgm": "PPM",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def is_image_path(path: str | Path) -> bool:
    """True when the suffix names a still image (.jpg .jpeg .png .bmp .ppm .pgm .webp .tif .tiff)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


#: suffixes of the formats that :func:`write_image` can give an alpha channel
ALPHA_SUFFIXES = frozenset({".png", ".webp", ".tif", ".tiff", ".bmp"})


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as an HxWx3 uint8 RGB array (C-contiguous).

    The EXIF orientation is applied (the array is what a viewer shows). Greyscale, palette, CMYK and
    16-bit images are converted to 8-bit RGB; an alpha channel is dropped (not blended), as OpenCV's
    ``imread`` does (:func:`read_image_alpha` keeps it). Raises :class:`MediaError` naming the file
    when it is missing, not an image, truncated or too large for Pillow's decompression-bomb limit.
    """
    return _load(Path(path), _to_rgb)


def read_image_alpha(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`read_image`'s RGB array and the image's alpha channel (HxW uint8; a palette's or a
    colour key's transparency included), or None when it has none."""
    return _load(Path(path), _rgb_and_alpha)


def _load(path: Path, convert: Callable[[Any], Any]) -> Any:
    """``convert`` of the opened, EXIF-turned image at ``path``; one-line MediaError when it cannot be read."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.exists():
        raise MediaError(f"{path}: no such image file")
    if not path.is_file():
        raise MediaError(f"{path}: is not a file")
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            return convert(img)
    except UnidentifiedImageError:
        raise MediaError(f"{path}: not an image file Pillow can read, or corrupt") from None
    except Image.DecompressionBombError as exc:
        raise MediaError(f"{path}: image is too large ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"{path}: image is corrupt or truncated ({first_line(exc)})") from None


def _rgb_and_alpha(img: Any) -> tuple[np.ndarray, np.ndarray | None]:
    keyed = img.mode in ("P", "L", "RGB") and "transparency" in img.info  # a palette's or a colour key's
    if img.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and not keyed:
        return _to_rgb(img), None
    rgba = np.asarray(img.convert("RGBA"), dtype=np.uint8)
    return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])


def _to_rgb(img: object) -> np.ndarray:
    from PIL import Image

    assert isinstance(img, Image.Image)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        grey = np.asarray(img).astype(np.float64)
        scale = 1.0 if img.mode == "I" and grey.max(initial=0) <= 255 else 255.0 / 65535.0
        g = np.clip(np.rint(grey * scale), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(g[..., None], 3, axis=2))
    if img.mode == "F":
        g = np.clip(np.rint(np.asarray(img, dtype=np.float64)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(g[..., None], 3, axis=2))
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def write_image(path: str | Path, rgb: np.ndarray, *, alpha: np.ndarray | None = None) -> Path:
    """Write an HxWx3 uint8 RGB array (or HxW greyscale); the format follows the suffix (PNG, JPEG at
    quality 95, BMP, PPM, WebP, TIFF). ``alpha`` (HxW uint8) is written as the alpha channel (RGBA;
    :data:`ALPHA_SUFFIXES` only). The file appears only once it is complete (written under a
    temporary name in the same directory, then renamed). Returns ``path``.
    """
    from PIL import Image

    path = Path(path)
    fmt = _PIL_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(IMAGE_SUFFIXES))
        raise MediaError(f"{path}: unknown image suffix {path.suffix!r}; use one of {known}")
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3))):
        raise ValueError(f"{path}: image must be an HxWx3 (or HxW) uint8 array, got {arr.shape} {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if path.suffix.lower() == ".pgm" and arr.ndim == 3:
        arr = np.rint(arr @ np.array([0.299, 0.587, 0.114])).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(arr), mode="L" if arr.ndim == 2 else "RGB")
    if alpha is not None:
        alpha = np.asarray(alpha)
        if path.suffix.lower() not in ALPHA_SUFFIXES or alpha.dtype != np.uint8 or alpha.shape != arr.shape[:2]:
            raise ValueError(f"{path}: alpha must be an HxW uint8 array, in a {'/'.join(sorted(ALPHA_SUFFIXES))} file")
        image = image.convert("RGB")
        image.putalpha(Image.fromarray(np.ascontiguousarray(alpha), mode="L"))
    if not path.parent.is_dir():
        raise MediaError(f"{path}: output directory {path.parent} does not exist")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    try:
        with atomic_path(path, suffix=".part") as tmp:
            image.save(tmp, format=fmt, **options)
    except (OSError, ValueError) as exc:
        raise MediaError(f"{path}: cannot write the image ({first_line(exc)})") from None
    return path
