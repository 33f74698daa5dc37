"""The `tandem` command line.

Each subcommand lives in its own module, which provides `add_arguments(parser)` and `run(args) -> int`.
Modules are imported only when their subcommand runs, so `tandem make-checkpoint` never loads Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "app": ("app.main", "open the desktop app"),
    "generate": ("engine.cli.generate", "answer one prompt (text, images, audio) and exit"),
    "chat": ("engine.cli.chat", "chat in the terminal"),
    "convert": ("engine.convert", "quantize a checkpoint to MLX 4 or 8 bits"),
    "download": ("engine.cli.download", "download a model and its drafter from Hugging Face"),
    "make-checkpoint": ("engine.checkpoint.cli", "write a random-weight checkpoint with the real layout"),
    "bench": ("engine.bench.cli", "benchmarks, side by side with mlx-vlm"),
    "serve": ("engine.server.cli", "OpenAI/Anthropic-compatible local API server"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tandem", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == wanted:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("tandem: interrupted", file=sys.stderr)
        return 130

