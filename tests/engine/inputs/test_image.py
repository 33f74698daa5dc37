"""engine.inputs.image against the reference image processor (fixtures made by make_image_reference.py)."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.inputs.image import (
    BLOCK_SIZE,
    PATCH_DIM,
    SOFT_TOKEN_BUDGETS,
    ImageError,
    ImageInputs,
    load_image,
    preprocess_image,
    resize_pixels,
    target_size,
)

FIXTURES = Path(__file__).parent / "fixtures"
MEDIA = FIXTURES / "media"
REFERENCE = np.load(FIXTURES / "image_reference.npz")
CASES = sorted({key.split("/")[0] for key in REFERENCE.files})


def reference(case: str) -> dict:
    levels = np.asarray(Image.open(FIXTURES / "reference" / f"{case}.png"), dtype=np.uint8)
    return {
        "file": str(REFERENCE[f"{case}/file"]),
        "budget": int(REFERENCE[f"{case}/budget"]),
        "rows": REFERENCE[f"{case}/rows"],
        "levels": levels.reshape(-1, PATCH_DIM),
        "position_ids": REFERENCE[f"{case}/position_ids"],
        "num_soft_tokens": int(REFERENCE[f"{case}/num_soft_tokens"]),
    }


def test_fixtures_cover_every_format_and_budget():
    files = {str(REFERENCE[f"{case}/file"]).rsplit(".", 1)[-1] for case in CASES}
    assert {"png", "jpg", "gif", "webp", "bmp", "tiff", "heic"} <= files
    assert {int(REFERENCE[f"{case}/budget"]) for case in CASES} == set(SOFT_TOKEN_BUDGETS)


@pytest.mark.parametrize("case", CASES)
def test_matches_reference(case: str):
    ref = reference(case)
    ours = preprocess_image(MEDIA / ref["file"], max_soft_tokens=ref["budget"])
    assert isinstance(ours, ImageInputs)
    assert (
        ours.pixel_values.shape == (ref["budget"], PATCH_DIM)
        and ours.pixel_values.dtype == np.float32
    )
    assert ours.position_ids.shape == (ref["budget"], 2) and ours.position_ids.dtype == np.int32
    assert ours.num_soft_tokens == ref["num_soft_tokens"]
    np.testing.assert_array_equal(ours.position_ids, ref["position_ids"])

    expected = ref["levels"].astype(np.float32) * np.float32(1 / 255)
    # Bit-exact, resized or not.
    np.testing.assert_array_equal(ours.pixel_values[ref["rows"]], expected)
    assert not ours.pixel_values[ours.num_soft_tokens :].any()


def test_fixtures_resize_up_and_down():
    """The bit-exact claim covers the resize: fixtures shrink and enlarge, on one axis or both."""
    kinds = set()
    for case in CASES:
        ref = reference(case)
        width, height = load_image(MEDIA / ref["file"]).size
        new_h, new_w = target_size(height, width, ref["budget"])
        kinds.add(("same", "up", "down")[(new_w > width) + 2 * (new_w < width)])
        kinds.add(("same", "up", "down")[(new_h > height) + 2 * (new_h < height)])
    assert kinds == {"same", "up", "down"}


def test_resize_matches_pil_within_two_levels():
    """PIL's bicubic is the same filter at a finer fixed point: a cross-check of the port's kernel."""
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (301, 433, 3), dtype=np.uint8)
    for height, width in [(624, 912), (144, 192), (301, 96), (48, 433)]:
        ours = resize_pixels(pixels, height, width).astype(int)
        pil = np.asarray(
            Image.fromarray(pixels).resize((width, height), Image.Resampling.BICUBIC), dtype=int
        )
        diff = np.abs(ours - pil)
        assert diff.max() <= 2 and (diff > 0).mean() < 0.02, (height, width)


def test_layout_is_raster_blocks_in_hwc_order():
    """Catches a transposed block grid or CHW flattening: each row is one 48x48 block, HWC."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (336, 480, 3), dtype=np.uint8)  # exact size at 70: no resize
    out = preprocess_image(Image.fromarray(pixels), 70)
    for row, (x, y) in enumerate(out.position_ids[: out.num_soft_tokens]):
        block = pixels[y * BLOCK_SIZE : (y + 1) * BLOCK_SIZE, x * BLOCK_SIZE : (x + 1) * BLOCK_SIZE]
        np.testing.assert_array_equal(
            out.pixel_values[row], block.reshape(-1) * np.float32(1 / 255)
        )
    assert (out.position_ids[out.num_soft_tokens :] == -1).all()


def test_bytes_path_and_pil_inputs_agree():
    path = MEDIA / "rgba.png"
    from_path = preprocess_image(path, 70)
    from_bytes = preprocess_image(path.read_bytes(), 70)
    from_pil = preprocess_image(Image.open(path), 70)
    for other in (from_bytes, from_pil):
        np.testing.assert_array_equal(other.pixel_values, from_path.pixel_values)
        np.testing.assert_array_equal(other.position_ids, from_path.position_ids)


def test_transparency_is_composited_on_white():
    image = load_image(MEDIA / "rgba.png")
    assert image.mode == "RGB"
    band = np.asarray(image)[: 336 // 6]  # the fixture's fully transparent band
    assert (band == 255).all()


def test_exif_rotation_is_applied():
    rotated = load_image(MEDIA / "exif_rotated.jpg")
    upright = load_image(MEDIA / "photo.jpg")
    assert rotated.size == upright.size == (480, 336)
    diff = np.abs(np.asarray(rotated, dtype=int) - np.asarray(upright, dtype=int))
    assert diff.mean() < 3  # same picture, two JPEG encodings


@pytest.mark.parametrize("fmt", ["JPEG", "HEIF", "WEBP", "PNG"])
def test_exif_rotation_is_applied_once_in_every_format(fmt: str):
    """HEIC decoders may rotate on their own; the picture must turn exactly once."""
    pixels = np.zeros((30, 60, 3), dtype=np.uint8)
    pixels[:, :20] = 255  # white left third
    exif = Image.Exif()
    exif[0x0112] = 6  # view rotated 90 degrees clockwise: the left third ends on top
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt, exif=exif.tobytes())
    loaded = np.asarray(load_image(buf.getvalue()), dtype=int)
    assert loaded.shape == (60, 30, 3)
    assert loaded[:15].mean() > 200 and loaded[25:].mean() < 30


def test_gif_first_frame():
    """The fixture's second frame is the negative of the first: the first must be what loads."""
    first = np.asarray(load_image(MEDIA / "animated.gif"), dtype=int)
    base = np.asarray(load_image(MEDIA / "exact_336x480.png"), dtype=int)
    assert np.abs(first - base).mean() < 10 < np.abs(first - (255 - base)).mean()


def test_16_bit_gray_is_scaled_not_clipped():
    raw = np.asarray(Image.open(MEDIA / "gray16.png"), dtype=np.float64)
    assert raw.max() > 255
    loaded = np.asarray(load_image(MEDIA / "gray16.png"))
    np.testing.assert_array_equal(loaded[..., 0], np.rint(raw / 257).astype(np.uint8))
    assert (loaded[..., 0] == loaded[..., 2]).all()


def test_cmyk_and_grayscale_become_rgb():
    for name in ("cmyk.jpg", "gray.jpg", "gray.png", "bilevel.png", "palette.png", "photo.heic"):
        image = load_image(MEDIA / name)
        assert image.mode == "RGB" and image.size == (480, 336), name


@pytest.mark.parametrize("budget", [0, 69, 100, 281, 2240, -280])
def test_budget_outside_the_list_is_an_error(budget: int):
    with pytest.raises(
        ValueError, match=r"max_soft_tokens must be one of \(70, 140, 280, 560, 1120\)"
    ):
        preprocess_image(MEDIA / "odd_100x150.png", budget)


@pytest.mark.parametrize("budget", SOFT_TOKEN_BUDGETS)
def test_target_size_invariants(budget: int):
    """Every size gets multiples of 48 within the budget; thin images keep one block across."""
    rng = np.random.default_rng(budget)
    sizes = [(1, 1), (1, 50_000), (50_000, 1), (47, 48), (48, 47), (4032, 3024)]
    sizes += [tuple(int(v) for v in rng.integers(1, 6000, 2)) for _ in range(200)]
    for height, width in sizes:
        new_h, new_w = target_size(height, width, budget)
        assert new_h % BLOCK_SIZE == 0 and new_w % BLOCK_SIZE == 0 and new_h > 0 and new_w > 0
        assert (new_h // BLOCK_SIZE) * (new_w // BLOCK_SIZE) <= budget
    assert target_size(100, 150, 280) == (624, 960)  # 13 x 20 = 260 tokens, as the reference


def test_extreme_aspect_ratio_preprocesses():
    out = preprocess_image(Image.new("RGB", (4000, 3), (10, 200, 30)), 70)
    assert 0 < out.num_soft_tokens <= 70
    assert (out.position_ids[: out.num_soft_tokens, 1] == 0).all()  # one block row


# ---- bad input ---------------------------------------------------------------------------------


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size and holds no pixel data: cheap to make, a bomb if decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "side, message",
    [
        (50_000, r"too large to open safely: Image size \(2500000000 pixels\)"),  # PIL's hard limit
        (11_000, r"11000 x 11000 pixels \(121 MP\); the limit is 100 MP"),  # only ours
    ],
)
def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, side: int, message: str):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(side, side))
    start = time.monotonic()
    with pytest.raises(ImageError, match=message):
        load_image(path)
    with pytest.raises(ImageError, match=message):
        preprocess_image(path.read_bytes())
    assert time.monotonic() - start < 1.0


def test_truncated_jpeg(tmp_path: Path):
    data = (MEDIA / "photo.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(path)


def test_zero_byte_file(tmp_path: Path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(path)
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")


def test_text_file_named_png(tmp_path: Path):
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture\n" * 20)
    with pytest.raises(ImageError, match="not a supported image"):
        preprocess_image(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "nowhere.jpg")


@pytest.mark.parametrize("name", ["odd_100x150.png", "photo.webp", "photo.heic", "animated.gif"])
def test_truncated_files_of_other_formats(name: str):
    data = (MEDIA / name).read_bytes()
    with pytest.raises(
        ImageError, match="truncated or corrupt|not a supported image|could not be read"
    ):
        load_image(data[: len(data) // 3])


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)
