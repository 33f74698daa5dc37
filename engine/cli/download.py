"""`tandem download [CHOICE|REPO] --to DIR [--token TOKEN]`: put a model and its drafter on disk.

CHOICE is a key of `engine.releases` (`tandem download --list` shows them, with sizes and the one that fits this
machine); REPO is any Hugging Face repo id ("owner/name"), converted to 4-bit if it is a float model. Without
CHOICE the recommended one is taken. An interrupted download resumes when the command runs again. Prints the
folder to pass to `tandem chat --model`; failures are one sentence on stderr (exit 1).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from engine.releases import GIB, RELEASES, recommend, release, total_memory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "choice", nargs="?", help="a model choice (see --list) or a Hugging Face repo id"
    )
    parser.add_argument(
        "--to", type=Path, help="the models folder (the app's is shown in Model > Manage Models)"
    )
    parser.add_argument(
        "--token", help="Hugging Face access token, for a gated or private repository"
    )
    parser.add_argument("--list", action="store_true", help="list the choices and exit")


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GB"


def run(args: argparse.Namespace) -> int:
    memory = total_memory()
    best = recommend(memory)
    if args.list or not args.to:
        for r in RELEASES:
            mark = (
                "  (recommended for this machine)" if best is not None and r.key == best.key else ""
            )
            print(
                f"{r.key:16} {r.title}{mark}\n{'':16} download {_gib(r.download_bytes)}, "
                f"{_gib(r.memory_bytes)} of memory, {r.inputs}"
            )
        if not args.to and not args.list:
            print("tandem download: give --to DIR, the folder to put the model in", file=sys.stderr)
            return 2
        return 0
    from engine.download import DownloadCancelled, DownloadError
    from engine.install import install, install_release

    def progress(stage: str, done: int, total: int) -> None:
        text = (
            "converting to 4-bit (once)"
            if stage == "convert"
            else (f"{stage}: {_gib(done)} of {_gib(total)}" if total else f"{stage}: starting")
        )
        print(f"\r{text:60}", end="", file=sys.stderr, flush=True)

    cancelled = threading.Event()
    try:
        if args.choice and "/" in args.choice:
            folder = install(args.choice, args.to, progress, cancelled, token=args.token)
        else:
            choice = release(args.choice) if args.choice else best
            if choice is None:
                print(
                    f"tandem download: no model fits this machine's {_gib(memory)} of memory",
                    file=sys.stderr,
                )
                return 1
            folder = install_release(choice, args.to, progress, cancelled, token=args.token)
    except ValueError as e:
        print(f"\ntandem download: {e}", file=sys.stderr)
        return 2
    except (DownloadError, DownloadCancelled) as e:
        print(f"\ntandem download: {e or 'cancelled'}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        cancelled.set()
        print("\ntandem download: interrupted; run the command again to resume", file=sys.stderr)
        return 130
    print(f"\n{folder}")
    return 0
