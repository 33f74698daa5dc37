"""`tandem make-checkpoint --shape tiny|small|12b --out DIR [--bits 4|8 [--mixed RECIPE]] [--text-only]
[--with-drafter [--drafter-layout hf|mlx-vlm]] [--seed N]`.

Writes a random-weight checkpoint (see `engine.checkpoint`), prints where and how long it took, and
returns 0; on bad input or a failed write prints one clear line on stderr and returns 2 (bad
arguments) or 1 (the write failed), leaving no checkpoint behind.
"""

from __future__ import annotations

import argparse
import sys
import time

from .recipes import RECIPES
from .shapes import SHAPES
from .writer import CheckpointWriteError, make_checkpoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--shape", default="tiny", help=f"model shape: {', '.join(SHAPES)} (default tiny)"
    )
    parser.add_argument(
        "--out", required=True, help="folder to create (must not exist, or be empty)"
    )
    parser.add_argument(
        "--bits", type=int, default=None, help="write the MLX-quantized layout with 4 or 8 bits"
    )
    parser.add_argument(
        "--group-size", type=int, default=64, help="quantization group size (default 64)"
    )
    parser.add_argument(
        "--mixed", choices=RECIPES, default=None,
        help="mixed precision with --bits 4: mlp8 (MLP at 8 bits) or mixed_4_8 (mlx-vlm's recipe)",
    )
    parser.add_argument(
        "--text-only", action="store_true", help="leave out the vision and audio weights"
    )
    parser.add_argument(
        "--with-drafter", action="store_true", help="also write the MTP drafter in OUT/drafter"
    )
    parser.add_argument(
        "--drafter-layout", choices=("hf", "mlx-vlm"), default="hf",
        help="the drafter as released (hf, default) or as mlx-vlm converts it",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def run(args: argparse.Namespace) -> int:
    if args.shape not in SHAPES:
        print(
            f"tandem make-checkpoint: unknown --shape {args.shape!r}; choose one of: {', '.join(SHAPES)}",
            file=sys.stderr,
        )
        return 2
    if args.bits is not None and args.bits not in (4, 8):
        print(f"tandem make-checkpoint: --bits must be 4 or 8, not {args.bits}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        out = make_checkpoint(
            args.out,
            args.shape,
            seed=args.seed,
            bits=args.bits,
            group_size=args.group_size,
            with_drafter=args.with_drafter,
            mixed=args.mixed,
            text_only=args.text_only,
            drafter_layout=args.drafter_layout,
        )
    except CheckpointWriteError as e:
        print(f"tandem make-checkpoint: {e}", file=sys.stderr)
        return 1
    layout = "HF safetensors" if args.bits is None else f"MLX {args.mixed or f'{args.bits}-bit'}"
    if args.text_only:
        layout += ", text only"
    print(
        f"wrote random-weight {args.shape} checkpoint ({layout}) to {out} in {time.perf_counter() - start:.1f} s"
    )
    return 0
