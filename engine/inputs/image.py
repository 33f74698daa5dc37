"""Image files to the model's pixel patches.

Contract:
- `load_image(source)` opens what people drop into the window (PNG 8/16-bit, palette, alpha; JPEG with
  its EXIF rotation applied; GIF and animated WebP: the first frame; BMP; TIFF; HEIC/HEIF; grayscale;
  CMYK) and returns an 8-bit RGB `PIL.Image`. Transparency is composited onto white, as the reference
  image processor does for PIL images. 16-bit grayscale is scaled to 8 bits (v/257, rounded) instead of
  being clipped at 255 as a plain PIL `convert("RGB")` would. Every failure (missing, empty, unknown
  format, truncated/corrupt, too many pixels) raises `ImageError` with a message saying what is wrong;
  the pixel count is checked from the header, before anything is decoded.
- `preprocess_image(image, max_soft_tokens)` equals transformers' `Gemma4UnifiedImageProcessor`
  (see shared/reference/gemma4_unified.md §4): aspect-preserving resize so that the 48x48-pixel blocks
  fit the soft-token budget, pixels scaled to [0, 1], blocks in raster order each flattened HWC, rows
  padded with zeros (position -1) up to the budget. Bit-exact, resize included: the reference resizes
  uint8 with torch's antialiased bicubic (a = -0.5) in int16 fixed point, horizontal pass first, rounding
  to uint8 between passes; `resize_pixels` computes the same integers (PIL's bicubic is the same filter at a
  finer fixed point and differs by up to 2/255, so it is not used).
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SOFT_TOKEN_BUDGETS = (70, 140, 280, 560, 1120)
DEFAULT_MAX_SOFT_TOKENS = 280
PATCH_SIZE = 16  # the reference's "teacher" patch
POOLING_KERNEL = 3  # 3x3 teacher patches merge into one soft token
BLOCK_SIZE = PATCH_SIZE * POOLING_KERNEL  # 48 px: one soft token per 48x48 block
PATCH_DIM = 3 * BLOCK_SIZE * BLOCK_SIZE  # 6912 values per soft token (HWC order)
# Refuse larger images before decoding: 100 MP is above any phone camera (48 MP) and far below a
# decompression bomb; an RGBA decode of this size is already 400 MB.
MAX_IMAGE_PIXELS = 100_000_000

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

_heif_registered = False


class ImageError(ValueError):
    """An image that cannot be used: missing, empty, not an image, corrupt, or too large."""


@dataclass(frozen=True)
class ImageInputs:
    """One preprocessed image.

    pixel_values: [max_soft_tokens, 6912] float32 in [0, 1]; rows past `num_soft_tokens` are zero.
    position_ids: [max_soft_tokens, 2] int32 (x=column, y=row) of each 48x48 block; padding rows -1.
    num_soft_tokens: how many `<|image|>` tokens the prompt holds for this image.
    """

    pixel_values: np.ndarray
    position_ids: np.ndarray
    num_soft_tokens: int


def _register_heif() -> None:
    # Registering is a global change to PIL, so it happens on first use, not at import.
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


def _describe(source: ImageSource) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"image data ({len(source)} bytes)"
    return f"'{os.fspath(source)}'"


def load_image(source: ImageSource) -> Image.Image:
    """Open an image file or its bytes as an 8-bit RGB PIL image, upright.

    Args:
        source: a path, or the file's bytes.

    Returns:
        A fully decoded `PIL.Image` in mode "RGB".

    Raises:
        ImageError: the file is missing, empty, not a supported image, truncated or corrupt, or has
            more than `MAX_IMAGE_PIXELS` pixels.
    """
    _register_heif()
    name = _describe(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageError(f"{name} is empty")
        fp: object = io.BytesIO(bytes(source))
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise ImageError(f"{name} does not exist or is not a file")
        if os.path.getsize(path) == 0:
            raise ImageError(f"{name} is an empty file (0 bytes)")
        fp = path
    try:
        with warnings.catch_warnings():
            # The size check below replaces PIL's warning; PIL's own hard limit still raises.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(fp)  # reads the header only
    except Image.DecompressionBombError as e:
        raise ImageError(f"{name} is too large to open safely: {e}") from e
    except UnidentifiedImageError as e:
        raise ImageError(
            f"{name} is not a supported image (PNG, JPEG, GIF, WebP, BMP, TIFF, HEIC)"
        ) from e
    except OSError as e:
        raise ImageError(f"{name} could not be read: {e}") from e
    with image:  # closes the file, which multi-frame formats keep open
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ImageError(
                f"{name} is {width} x {height} pixels ({width * height / 1e6:.0f} MP); "
                f"the limit is {MAX_IMAGE_PIXELS / 1e6:.0f} MP"
            )
        if width == 0 or height == 0:
            raise ImageError(f"{name} has no pixels ({width} x {height})")
        try:
            image.load()  # GIF/WebP/TIFF: the first frame
            rgb = to_rgb(ImageOps.exif_transpose(image))
            return rgb.copy() if rgb is image else rgb
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            # PIL reports truncation and bad data as OSError/SyntaxError (EOFError for some codecs).
            raise ImageError(f"{name} is truncated or corrupt: {e}") from e


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB, compositing transparency onto white.

    Matches the reference processor's conversion for PIL inputs, except that 16- and 32-bit
    grayscale ("I;16*", "I") are scaled from 0..65535 and float ("F") from 0..1, not clipped at 255.
    """
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float64)
        gray = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        gray = np.clip(np.rint(np.nan_to_num(values) * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if "A" in image.getbands() or image.info.get("transparency") is not None:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode == "RGB":
        return image
    return image.convert("RGB")


def target_size(height: int, width: int, max_soft_tokens: int) -> tuple[int, int]:
    """The (height, width) the reference resizes to: the largest multiple-of-48 size, aspect
    preserved, whose 48x48 blocks fit `max_soft_tokens`.

    Args:
        height, width: the image's size in pixels.
        max_soft_tokens: the soft-token budget, one of `SOFT_TOKEN_BUDGETS`.

    Returns:
        (height, width), both multiples of 48.
    """
    _check_budget(max_soft_tokens)
    if height <= 0 or width <= 0:
        raise ImageError(f"an image must have pixels, got {width} x {height}")
    max_patches = max_soft_tokens * POOLING_KERNEL**2
    target_px = max_patches * PATCH_SIZE**2
    factor = math.sqrt(target_px / (height * width))
    new_h = math.floor(factor * height / BLOCK_SIZE) * BLOCK_SIZE
    new_w = math.floor(factor * width / BLOCK_SIZE) * BLOCK_SIZE
    max_side = max_soft_tokens * BLOCK_SIZE
    # A very thin image rounds one side to 0 blocks: it gets one block there, as in the reference.
    if new_h == 0:
        new_h, new_w = BLOCK_SIZE, min(math.floor(width / height) * BLOCK_SIZE, max_side)
    elif new_w == 0:
        new_w, new_h = BLOCK_SIZE, min(math.floor(height / width) * BLOCK_SIZE, max_side)
    if new_h * new_w > target_px or new_h == 0 or new_w == 0:  # unreachable for valid sizes
        raise ImageError(f"cannot fit a {width} x {height} image into {max_soft_tokens} tokens")
    return new_h, new_w


def _check_budget(max_soft_tokens: int) -> None:
    if max_soft_tokens not in SOFT_TOKEN_BUDGETS:
        raise ValueError(
            f"max_soft_tokens must be one of {SOFT_TOKEN_BUDGETS}, got {max_soft_tokens!r}"
        )


def _cubic(x: np.ndarray) -> np.ndarray:
    """The antialiasing bicubic kernel with a = -0.5 (PIL's and torch's antialias choice)."""
    a = -0.5
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def _axis_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, int]:
    """First input index, int16-range fixed-point weights [n_out, taps] and their precision bits
    for resizing one axis, computed as torch's uint8 antialiased resize does."""
    scale = n_in / n_out
    support = 2.0 * scale if scale >= 1.0 else 2.0  # the kernel widens when downscaling
    inv_scale = 1.0 / scale if scale >= 1.0 else 1.0
    centers = scale * (np.arange(n_out) + 0.5)
    first = np.maximum((centers - support + 0.5).astype(np.int64), 0)
    stop = np.minimum((centers + support + 0.5).astype(np.int64), n_in)
    taps = np.arange(int((stop - first).max()))
    weights = _cubic((taps[None, :] + first[:, None] - centers[:, None] + 0.5) * inv_scale)
    weights = np.where(taps[None, :] < (stop - first)[:, None], weights, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    # As many fraction bits as keep the largest weight within int16.
    w_max, precision = weights.max(), 0
    while precision < 22 and int(0.5 + w_max * (1 << (precision + 1))) < (1 << 15):
        precision += 1
    scaled = weights * (1 << precision)
    fixed = np.trunc(scaled + np.where(scaled < 0, -0.5, 0.5)).astype(np.int32)
    return first, fixed, precision


class _AxisResize:
    """One axis of the resize as banded chunks of torch's fixed-point weight matrix.

    Every product and sum is an integer that the float type holds exactly; each chunk of
    `_CHUNK` outputs is a small dense product over only the inputs its kernels touch.
    """

    def __init__(self, n_in: int, n_out: int):
        first, weights, self.precision = _axis_weights(n_in, n_out)
        self.n_out = n_out
        # float32 is exact while every partial sum stays an integer below 2**24; else float64.
        bound = int(np.abs(weights).sum(axis=1).max()) * 255 + (1 << self.precision)
        self.dtype = np.float32 if bound < (1 << 24) else np.float64
        taps = weights.shape[1]
        self.chunks: list[tuple[int, int, int, int, np.ndarray]] = []
        for start in range(0, n_out, _CHUNK):
            stop = min(start + _CHUNK, n_out)
            lo, hi = int(first[start]), min(int(first[stop - 1]) + taps, n_in)
            band = np.zeros((stop - start, hi - lo), dtype=self.dtype)
            for i in range(start, stop):
                count = min(taps, n_in - int(first[i]))  # past the image edge the weights are 0
                band[i - start, first[i] - lo : first[i] - lo + count] = weights[i, :count]
            self.chunks.append((start, stop, lo, hi, band))

    def apply(self, source: np.ndarray) -> np.ndarray:
        """Resize uint8 [n_in, R] along axis 0 to uint8 [n_out, R], rounding once."""
        out = np.empty((self.n_out, source.shape[1]), dtype=np.uint8)
        for left in range(0, source.shape[1], _COLUMNS):
            # Narrow column blocks keep each product small, where BLAS stays fast.
            block = source[:, left : left + _COLUMNS].astype(self.dtype)
            acc = np.empty((self.n_out, block.shape[1]), dtype=self.dtype)
            for start, stop, lo, hi, band in self.chunks:
                acc[start:stop] = band @ block[lo:hi]
            rounded = np.floor((acc + (1 << (self.precision - 1))) / (1 << self.precision))
            out[:, left : left + _COLUMNS] = np.clip(rounded, 0, 255)
        return out


@lru_cache(maxsize=8)
def _axis_resize(n_in: int, n_out: int) -> _AxisResize:
    """The weights for one axis, kept for the next picture of the same size (a video's frames)."""
    return _AxisResize(n_in, n_out)


_CHUNK = 8  # outputs per banded product: fewer wasted multiplies vs fewer calls
_COLUMNS = 1536  # columns per block of products


def resize_pixels(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Antialiased bicubic resize of uint8 HWC, horizontal pass first, as the reference does."""
    rows, cols, channels = pixels.shape
    if cols != width:
        by_column = pixels.transpose(1, 0, 2).reshape(cols, rows * channels)
        resized = _axis_resize(cols, width).apply(by_column)
        pixels = resized.reshape(width, rows, channels).transpose(1, 0, 2)
    if rows != height:
        resized = _axis_resize(rows, height).apply(pixels.reshape(rows, width * channels))
        pixels = resized.reshape(height, width, channels)
    return np.ascontiguousarray(pixels)


def preprocess_image(
    image: ImageSource | Image.Image, max_soft_tokens: int = DEFAULT_MAX_SOFT_TOKENS
) -> ImageInputs:
    """Cut an image into the model's 48x48-pixel soft-token patches.

    Args:
        image: a path, the file's bytes (both go through `load_image`), or a PIL image (converted
            with `to_rgb`; its EXIF orientation is left as is, as in the reference).
        max_soft_tokens: the soft-token budget, one of 70, 140, 280, 560, 1120.

    Returns:
        `ImageInputs` with `max_soft_tokens` rows.

    Raises:
        ValueError: the budget is not one of `SOFT_TOKEN_BUDGETS`.
        ImageError: the image cannot be loaded.
    """
    _check_budget(max_soft_tokens)
    rgb = to_rgb(image) if isinstance(image, Image.Image) else load_image(image)
    height, width = rgb.height, rgb.width
    new_h, new_w = target_size(height, width, max_soft_tokens)
    pixels = np.asarray(rgb, dtype=np.uint8)
    if (new_h, new_w) != (height, width):
        pixels = resize_pixels(pixels, new_h, new_w)
    # The reference multiplies by the float32 rescale factor; dividing would differ in the last bit.
    return cut_into_blocks(pixels.astype(np.float32) * np.float32(1 / 255), max_soft_tokens)


def cut_into_blocks(scaled: np.ndarray, max_soft_tokens: int) -> ImageInputs:
    """Cut a [H, W, 3] float32 picture, both sides multiples of 48, into the model's soft-token rows.

    Blocks go in raster order, each flattened HWC; rows past the picture's blocks are zero with
    position -1, up to `max_soft_tokens`.
    """
    new_h, new_w = scaled.shape[:2]
    rows, cols = new_h // BLOCK_SIZE, new_w // BLOCK_SIZE
    count = rows * cols
    if rows * BLOCK_SIZE != new_h or cols * BLOCK_SIZE != new_w or count > max_soft_tokens:
        raise ValueError(f"a {new_w} x {new_h} picture does not cut into {max_soft_tokens} blocks")
    blocks = scaled.reshape(rows, BLOCK_SIZE, cols, BLOCK_SIZE, 3).transpose(0, 2, 1, 3, 4)
    pixel_values = np.zeros((max_soft_tokens, PATCH_DIM), dtype=np.float32)
    pixel_values[:count] = blocks.reshape(count, PATCH_DIM)
    position_ids = np.full((max_soft_tokens, 2), -1, dtype=np.int32)
    ys, xs = np.divmod(np.arange(count, dtype=np.int32), cols)
    position_ids[:count, 0] = xs
    position_ids[:count, 1] = ys
    return ImageInputs(pixel_values=pixel_values, position_ids=position_ids, num_soft_tokens=count)
