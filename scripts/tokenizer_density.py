"""Tokens per KB of the demo checkpoint's tokenizer on English prose and on Python code; prints JSON.

    python scripts/tokenizer_density.py [--shape 12b] [--prose FILE ...] [--code FILE ...]

Defaults: this repository's README.md and docs/*.md as prose, engine/**/*.py as code (none of them is in the
tokenizer's training corpus, which is Python's own documentation and standard library).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def density(tokenizer, files: list[Path]) -> dict:
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    size = len(text.encode("utf-8"))
    tokens = len(tokenizer.encode(text).ids)
    return {"files": len(files), "kb": round(size / 1024, 1), "tokens": tokens,
            "tokens_per_kb": round(tokens / (size / 1024), 1)}


def main() -> None:
    from engine.checkpoint.shapes import get_shape
    from engine.checkpoint.tokenizer import build_tokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="12b")
    parser.add_argument("--prose", nargs="*", type=Path,
                        default=[ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    parser.add_argument("--code", nargs="*", type=Path, default=sorted((ROOT / "engine").rglob("*.py")))
    args = parser.parse_args()
    tokenizer = build_tokenizer(get_shape(args.shape))
    print(json.dumps({"shape": args.shape, "prose": density(tokenizer, args.prose),
                      "code": density(tokenizer, args.code)}, indent=2))


if __name__ == "__main__":
    main()
