"""Make the image test media and the reference preprocessor's outputs for tests/engine/inputs/test_image.py.

transformers' `Gemma4UnifiedImageProcessor` needs torchvision, which does not load beside the
project's torch (shared/TESTING.md §5), so this runs once in a separate environment and stores:
- fixtures/media/*: small test images in every format and mode the app accepts (made here, deterministic);
- fixtures/reference/<case>.png: for each case, the reference's pixel values as uint8 levels (its
  output is exactly level * float32(1/255), checked here before saving), the [rows, 6912] array
  stored losslessly as a (rows*48) x 48 RGB PNG because PNG compresses it far better than npz;
  budgets above 300 keep every 4th row;
- fixtures/image_reference.npz: per case, the rows kept, the position ids and the soft-token count.

The reference is fed what it gets from PIL: `ImageOps.exif_transpose(Image.open(path))`. One
deliberate exception: 16-bit grayscale, which the reference clips at 255 (PIL's convert), is fed
already scaled to 8 bits (v/257, rounded), the conversion engine/inputs/image.py documents.

Regenerate (a few minutes for the environment, seconds for the script):
    python3 -m venv /work/refvenv
    /work/refvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 transformers==5.23.0 \\
        pillow==13.0.0 pillow-heif==1.8.1 numpy
    /work/refvenv/bin/python tests/engine/inputs/make_image_reference.py
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

FIXTURES = Path(__file__).parent / "fixtures"
MEDIA = FIXTURES / "media"
REFERENCE = FIXTURES / "reference"
ROW_STRIDE_ABOVE = 300  # budgets above this keep every 4th row


def synthetic(height: int, width: int, seed: int) -> np.ndarray:
    """A deterministic RGB test picture: gradients, hard-edged shapes and stripes (edges make
    resize differences visible), a noisy corner; compresses well."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.stack(
        [
            255 * x / max(width - 1, 1),
            255 * y / max(height - 1, 1),
            128 + 100 * np.sin(x / 7 + y / 11),
        ],
        axis=-1,
    )
    cy, cx, r = height * 0.45, width * 0.55, min(height, width) * 0.3
    img[(y - cy) ** 2 + (x - cx) ** 2 < r**2] = (250, 30, 60)
    img[(x // 6 % 2 == 0) & (y < height / 4)] = (10, 10, 10)
    patch = img[: height // 8, : width // 8]  # noise in one corner only, to keep files small
    patch += rng.integers(-20, 21, patch.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def alpha_ramp(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    alpha = (255 * x / (width - 1)).astype(np.uint8)
    alpha[y < height // 6] = 0  # fully transparent band
    return alpha


def png_16bit_rgb(pixels16: np.ndarray) -> bytes:
    """A 16-bit RGB PNG written by hand (PIL does not write this mode)."""
    height, width, _ = pixels16.shape
    raw = b"".join(b"\x00" + pixels16[i].astype(">u2").tobytes() for i in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def exif_rotated_jpeg(upright: np.ndarray) -> bytes:
    """A JPEG stored sideways with EXIF orientation 6 (rotate 90° clockwise to view)."""
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


def make_media() -> list[tuple[str, str, int]]:
    """Write the media files; return the cases as (case name, file name, budget)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    MEDIA.mkdir(parents=True, exist_ok=True)
    base = synthetic(336, 480, seed=1)  # 7 x 10 blocks: exactly 70 tokens, no resize
    cases: list[tuple[str, str, int]] = []

    def save(name: str, image: Image.Image, fmt: str, budget: int = 70, **kw) -> None:
        image.save(MEDIA / name, fmt, **kw)
        cases.append((name.replace(".", "_"), name, budget))

    def write(name: str, data: bytes, budget: int = 70) -> None:
        (MEDIA / name).write_bytes(data)
        cases.append((name.replace(".", "_"), name, budget))

    # Exact sizes: no resize, so the project must be bit-exact.
    save("exact_336x480.png", Image.fromarray(base), "PNG")
    save("exact_672x960.png", Image.fromarray(synthetic(672, 960, seed=2)), "PNG", budget=280)
    # Every mode and format at the exact size.
    rgba = np.dstack([base, alpha_ramp(336, 480)])
    save("rgba.png", Image.fromarray(rgba, "RGBA"), "PNG")
    save("gray_alpha.png", Image.fromarray(rgba, "RGBA").convert("LA"), "PNG")
    save("gray.png", Image.fromarray(base).convert("L"), "PNG")
    save("bilevel.png", Image.fromarray(base).convert("1"), "PNG")
    palette = Image.fromarray(base).quantize(colors=64, dither=Image.Dither.NONE)
    save("palette.png", palette, "PNG")
    save("palette_transparent.png", palette, "PNG", transparency=3)
    gray16 = base[..., 0].astype(np.uint16) * 257 + np.arange(480, dtype=np.uint16)[None, :] % 200
    save("gray16.png", Image.fromarray(gray16), "PNG")
    small = synthetic(100, 150, seed=7)  # uncompressed formats: small, and so resized
    write("rgb16.png", png_16bit_rgb(small.astype(np.uint16) * 257 + 129), budget=280)
    save("photo.jpg", Image.fromarray(base), "JPEG", quality=90)
    write("exif_rotated.jpg", exif_rotated_jpeg(base))
    save("cmyk.jpg", Image.fromarray(base).convert("CMYK"), "JPEG", quality=90)
    save("gray.jpg", Image.fromarray(base).convert("L"), "JPEG", quality=90)
    frames = [Image.fromarray(base).convert("P", palette=Image.Palette.ADAPTIVE)]
    frames.append(Image.fromarray(255 - base).convert("P", palette=Image.Palette.ADAPTIVE))
    frames[0].save(
        MEDIA / "animated.gif", "GIF", save_all=True, append_images=frames[1:], duration=100
    )
    cases.append(("animated_gif", "animated.gif", 70))
    save("photo.webp", Image.fromarray(base), "WEBP", quality=85)
    save("photo.bmp", Image.fromarray(small), "BMP", budget=280)
    save("photo.tiff", Image.fromarray(small), "TIFF", budget=280, compression="tiff_lzw")
    save("photo.heic", Image.fromarray(base), "HEIF", quality=90)
    # Sizes that resize (up and down, odd, thin) and the other budgets.
    save("odd_100x150.png", Image.fromarray(synthetic(100, 150, seed=3)), "PNG", budget=280)
    save("odd_333x517.png", Image.fromarray(synthetic(333, 517, seed=4)), "PNG", budget=280)
    save("thin_1000x37.png", Image.fromarray(synthetic(1000, 37, seed=5)), "PNG", budget=280)
    y, x = np.mgrid[0:2000, 0:1500]
    pattern = ((x // 3 + y // 5) % 2 * 255).astype(np.uint8)  # hard edges: ringing and clamping
    pattern[(x - 700) ** 2 + (y - 1100) ** 2 < 400**2] //= 3
    save(
        "pattern_2000x1500.png",
        Image.fromarray(np.dstack([pattern, 255 - pattern, pattern // 2])),
        "PNG",
    )
    big = Image.fromarray(synthetic(900, 1201, seed=6))
    big.save(MEDIA / "large_900x1201.png", "PNG")
    for budget in (70, 140, 280, 560, 1120):
        cases.append((f"large_900x1201_{budget}", "large_900x1201.png", budget))
    return cases


def reference_input(path: Path) -> Image.Image:
    image = ImageOps.exif_transpose(Image.open(path))
    if image.mode.startswith("I;16"):
        levels = np.rint(np.asarray(image, dtype=np.float64) / 257).astype(np.uint8)
        return Image.fromarray(levels, "L")
    return image


def main() -> None:
    from transformers.models.gemma4_unified.image_processing_gemma4_unified import (
        Gemma4UnifiedImageProcessor,
    )

    processor = Gemma4UnifiedImageProcessor()
    arrays: dict[str, np.ndarray] = {}
    cases = make_media()
    REFERENCE.mkdir(exist_ok=True)
    for case, file_name, budget in cases:
        out = processor(
            images=reference_input(MEDIA / file_name), max_soft_tokens=budget, return_tensors="pt"
        )
        pixels = out["pixel_values"][0].numpy()
        levels = np.rint(pixels * 255).astype(np.uint8)
        assert np.array_equal(levels.astype(np.float32) * np.float32(1 / 255), pixels), case
        rows = np.arange(budget) if budget <= ROW_STRIDE_ABOVE else np.arange(0, budget, 4)
        arrays[f"{case}/file"] = np.array(file_name)
        arrays[f"{case}/budget"] = np.array(budget)
        arrays[f"{case}/rows"] = rows.astype(np.int32)
        Image.fromarray(levels[rows].reshape(-1, 48, 3)).save(
            REFERENCE / f"{case}.png", optimize=True
        )
        arrays[f"{case}/position_ids"] = out["image_position_ids"][0].numpy().astype(np.int32)
        arrays[f"{case}/num_soft_tokens"] = np.array(int(out["num_soft_tokens_per_image"][0]))
        print(
            f"{case:28s} {file_name:24s} budget {budget:5d} tokens {arrays[f'{case}/num_soft_tokens']}"
        )
    np.savez_compressed(FIXTURES / "image_reference.npz", **arrays)


if __name__ == "__main__":
    main()
