"""Train the BPE merges of the demo checkpoint's tokenizer; writes engine/checkpoint/bpe_merges.json.

    python scripts/train_demo_tokenizer.py [--merges 32000] [--out engine/checkpoint/bpe_merges.json]

Corpus: English prose and Python code that every Python installation carries: the language documentation in
`pydoc_data/topics.py` (its text, not its code) and the standard library's own modules (every `Lib/*.py`,
sorted by name). Spaces become "▁" as in the checkpoint's tokenizer; the corpus is split into words with their
leading "▁", runs of "▁" and runs of newlines, so merges never cross a word boundary. The `tokenizers`
library's BPE trainer is deterministic for a given corpus; the file records the Python version it read. The
output holds the alphabet (the characters the trainer kept) and the merges in its order of priority.
"""

from __future__ import annotations

import argparse
import json
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPACE = "▁"
WORDS = rf"{SPACE}[^{SPACE}\n]+|[^{SPACE}\n]+|{SPACE}+(?={SPACE})|{SPACE}+|\n+"


def corpus() -> Iterator[str]:
    """Python's documentation topics, then the standard library's modules, one document at a time."""
    import pydoc_data.topics

    yield from pydoc_data.topics.topics.values()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.glob("*.py")):
        yield path.read_text(encoding="utf-8", errors="replace")


def train(merges: int) -> dict:
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, trainers
    from tokenizers.models import BPE

    tokenizer = Tokenizer(BPE())
    tokenizer.normalizer = normalizers.Replace(" ", SPACE)
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(WORDS), behavior="isolated")
    trainer = trainers.BpeTrainer(vocab_size=merges, show_progress=False, limit_alphabet=400,
                                  initial_alphabet=[SPACE, "\n"])
    tokenizer.train_from_iterator(corpus(), trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    alphabet = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1]) if len(t) == 1]
    return {
        "about": "BPE merges for the demo checkpoint's tokenizer (scripts/train_demo_tokenizer.py)",
        "python": sys.version.split()[0],
        "alphabet": alphabet,
        "merges": [list(p) for p in pairs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merges", type=int, default=32_000, help="target vocabulary of the trainer")
    parser.add_argument("--out", type=Path, default=ROOT / "engine" / "checkpoint" / "bpe_merges.json")
    args = parser.parse_args()
    data = train(args.merges)
    args.out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {len(data['merges'])} merges over {len(data['alphabet'])} characters to {args.out}")


if __name__ == "__main__":
    main()
