"""Still images with Pillow: read as HxWx3 uint8 RGB in display orientation, write PNG/JPEG/... by suffix."""

from __future__ import annotations

from pathlib import Path

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


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as an HxWx3 uint8 RGB array (C-contiguous).

    The EXIF orientation is applied (the array is what a viewer shows). Greyscale, palette, CMYK and
    16-bit images are converted to 8-bit RGB; an alpha channel is dropped (not blended), as OpenCV's
    ``imread`` does. Raises :class:`MediaError` naming the file when it is missing, not an image,
    truncated or too large for Pillow's decompression-bomb limit.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: no such image file")
    if not path.is_file():
        raise MediaError(f"{path}: is not a file")
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            return _to_rgb(img)
    except UnidentifiedImageError:
        raise MediaError(f"{path}: not an image file Pillow can read, or corrupt") from None
    except Image.DecompressionBombError as exc:
        raise MediaError(f"{path}: image is too large ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"{path}: image is corrupt or truncated ({first_line(exc)})") from None


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


def write_image(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an HxWx3 uint8 RGB array (or HxW greyscale); the format follows the suffix (PNG, JPEG at
    quality 95, BMP, PPM, WebP, TIFF). The file appears only once it is complete (written under a
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
    if not path.parent.is_dir():
        raise MediaError(f"{path}: output directory {path.parent} does not exist")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    try:
        with atomic_path(path, suffix=".part") as tmp:
            image.save(tmp, format=fmt, **options)
    except (OSError, ValueError) as exc:
        raise MediaError(f"{path}: cannot write the image ({first_line(exc)})") from None
    return path
