"""Draw Tandem's app icon and write the sets the platforms want.

The icon is two speech bubbles side by side on an indigo-to-teal tile: the front one holds a short
sound wave (talk to it by voice), the back one stands for the model answering. It is drawn with
Pillow at twice the size and scaled down, so the edges are smooth.

    python assets/icon/make_icon.py   # writes tandem-1024.png, Tandem.icns, Tandem.ico here

`Tandem.icns` holds the 16-1024 px PNG sizes macOS uses (Pillow writes ICNS on any OS; on a Mac,
`iconutil` from the .iconset gives the same). `Tandem.ico` holds 16-256 px for Windows and Linux
desktop files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
SIZE = 1024
SCALE = 2  # drawn at SIZE * SCALE, then scaled down
INDIGO = (79, 70, 229)  # bottom left
TEAL = (20, 184, 166)  # top right
WAVE = (67, 56, 202)
ICNS_SIZES = [(16, 16), (32, 32), (64, 64), (128, 128), (256, 256), (512, 512), (1024, 1024)]
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def _s(v: float) -> int:
    return round(v * SCALE)


def _gradient(size: int) -> Image.Image:
    """A diagonal gradient from INDIGO (bottom left) to TEAL (top right)."""
    ramp = Image.linear_gradient("L").resize((size, size))
    diagonal = ImageChops.add(ramp, ramp.rotate(90), scale=2.0)  # (x + y) / 2
    diagonal = ImageChops.invert(diagonal).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    a = Image.new("RGB", (size, size), INDIGO)
    b = Image.new("RGB", (size, size), TEAL)
    return Image.composite(b, a, diagonal)


def _bubble(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float],
            tail_left: bool, fill: tuple[int, ...]) -> None:
    """A rounded speech bubble in `box` with a tail under its left or right end."""
    x0, y0, x1, y1 = box
    radius = (y1 - y0) * 0.42
    draw.rounded_rectangle([_s(x0), _s(y0), _s(x1), _s(y1)], radius=_s(radius), fill=fill)
    if tail_left:
        tail = [(x0 + 70, y1 - 30), (x0 + 150, y1 - 30), (x0 + 40, y1 + 70)]
    else:
        tail = [(x1 - 150, y1 - 30), (x1 - 70, y1 - 30), (x1 - 40, y1 + 70)]
    draw.polygon([(_s(x), _s(y)) for x, y in tail], fill=fill)


def draw_icon() -> Image.Image:
    """The icon as a 1024 px RGBA image (macOS grid: an 824 px tile with room for its shadow)."""
    big = SIZE * SCALE
    canvas = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    tile = [_s(100), _s(100), _s(924), _s(924)]
    radius = _s(185)

    shadow = Image.new("L", (big, big), 0)
    ImageDraw.Draw(shadow).rounded_rectangle(
        [tile[0], tile[1] + _s(14), tile[2], tile[3] + _s(14)], radius=radius, fill=90)
    shadow = shadow.filter(ImageFilter.GaussianBlur(_s(18)))
    canvas.paste(Image.new("RGBA", (big, big), (0, 0, 0, 255)), (0, 0), shadow)

    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).rounded_rectangle(tile, radius=radius, fill=255)
    canvas.paste(_gradient(big).convert("RGBA"), (0, 0), mask)

    layer = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    _bubble(draw, (390, 250, 790, 520), tail_left=False, fill=(255, 255, 255, 120))
    _bubble(draw, (234, 430, 660, 720), tail_left=True, fill=(255, 255, 255, 255))
    bars = [0.35, 0.7, 1.0, 0.6, 0.85, 0.4]
    centre_y, width, gap, full = 575, 30, 24, 170
    x = (234 + 660) / 2 - (len(bars) * width + (len(bars) - 1) * gap) / 2
    for h in bars:
        half = full * h / 2
        draw.rounded_rectangle([_s(x), _s(centre_y - half), _s(x + width), _s(centre_y + half)],
                               radius=_s(width / 2), fill=WAVE + (255,))
        x += width + gap
    canvas = Image.alpha_composite(canvas, layer)
    return canvas.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def write_icons(folder: Path = HERE) -> list[Path]:
    """Write tandem-1024.png, Tandem.icns and Tandem.ico into `folder`; return their paths."""
    icon = draw_icon()
    folder.mkdir(parents=True, exist_ok=True)
    png, icns, ico = folder / "tandem-1024.png", folder / "Tandem.icns", folder / "Tandem.ico"
    icon.save(png, optimize=True)
    icon.save(icns, sizes=ICNS_SIZES)
    icon.save(ico, sizes=ICO_SIZES)
    return [png, icns, ico]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write the icons to")
    for path in write_icons(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
