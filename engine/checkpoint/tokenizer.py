"""Tokenizer files for a generated checkpoint: tokenizer.json, tokenizer_config.json, special_tokens_map.json.

The tokenizer has the released Gemma pipeline (spaces normalized to "▁", BPE with byte fallback,
decoder "▁"->" " + byte fallback + fuse), so every string whose text has no literal "▁" encodes and
decodes back exactly, and `GemmaTokenizer` loads it as it is. Every control token (reference §6,
§1.1) sits at the id the config uses, as a special added token; "\\n" is the ordinary entry 107.
The merges are real ones, trained on English prose and Python code (`bpe_merges.json`, made by
scripts/train_demo_tokenizer.py), taken in order for as many ids as the shape's vocabulary has; ids left
over are inert fillers no merge builds.
"""

from __future__ import annotations

import functools
import json
import string
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE

from .config import write_json
from .shapes import CONTROL_TOKENS, MEDIA_TOKENS, NEWLINE_ID, Shape

SPACE = "▁"
# The named tokens transformers' Gemma 4 tokenizer exposes as attributes (tokenizer.image_token, ...).
NAMED_TOKENS = {
    "audio_token": "<|audio|>",
    "boa_token": "<|audio>",
    "boi_token": "<|image>",
    "eoa_token": "<audio|>",
    "eoc_token": "<channel|>",
    "eoi_token": "<image|>",
    "eot_token": "<turn|>",
    "escape_token": '<|"|>',
    "etc_token": "<tool_call|>",
    "etd_token": "<tool|>",
    "etr_token": "<tool_response|>",
    "image_token": "<|image|>",
    "soc_token": "<|channel>",
    "sot_token": "<|turn>",
    "stc_token": "<|tool_call>",
    "std_token": "<|tool>",
    "str_token": "<|tool_response>",
    "think_token": "<|think|>",
}
# The released tokenizer's structured-output description (what the model emits in a turn).
RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "role": {"const": "assistant"},
        "thinking": {"type": "string"},
        "content": {"type": "string"},
        "tool_calls": {
            "x-regex-iterator": r"<\|tool_call>(.*?)<tool_call\|>",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"const": "function"},
                    "function": {
                        "type": "object",
                        "x-regex": r"call\:(?P<name>\w+)(?P<arguments>\{.*\})",
                        "properties": {
                            "name": {"type": "string"},
                            "arguments": {
                                "type": "object",
                                "x-parser": "gemma4-tool-call",
                                "additionalProperties": {},
                            },
                        },
                    },
                },
            },
        },
    },
    "x-regex": r"(\<\|channel\>thought\n(?P<thinking>.*?)\<channel\|\>)?(?P<tool_calls>\<\|tool_call\>.*\<tool_call\|\>)?"
    r"(?P<content>(?:(?!\<turn\|\>)(?!\<\|tool_response\>).)+)?(?:\<turn\|\>|\<\|tool_response\>)?",
}

MERGES_FILE = Path(__file__).with_name("bpe_merges.json")
_BASE_CHARS = [SPACE] + list(
    string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation
)


@functools.cache
def trained_merges() -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(alphabet, merges in priority order) of the shipped BPE training."""
    data = json.loads(MERGES_FILE.read_text(encoding="utf-8"))
    return tuple(data["alphabet"]), tuple((a, b) for a, b in data["merges"])


def special_ids(shape: Shape) -> dict[str, int]:
    """Every special token string and its id in this shape."""
    ids = dict(CONTROL_TOKENS)
    ids.update({MEDIA_TOKENS[k]: v for k, v in shape.media_ids.items()})
    return ids


def build_vocab(shape: Shape) -> tuple[dict[str, int], list[tuple[str, str]], list[str]]:
    """(vocab, merges, special tokens) with every id in [0, vocab_size) used exactly once.

    After the reserved ids: the 256 byte-fallback tokens, printable ASCII, then the trained merges in order
    (a character a merge needs comes in just before it), the rest of the trained alphabet, and fillers.
    """
    size = shape.vocab_size
    fixed = special_ids(shape)
    taken = {i: t for t, i in fixed.items()}
    taken[NEWLINE_ID] = "\n"
    if max(taken) >= size:
        raise ValueError(
            f"shape {shape.name!r}: token id {max(taken)} does not fit a vocabulary of {size}"
        )
    vocab: dict[str, int] = {t: i for i, t in taken.items()}
    specials = list(fixed)
    # The control region below the newline holds reserved special tokens, as in the released vocabulary.
    for i in range(NEWLINE_ID):
        if i not in taken:
            tok = f"<unused{i}>"
            vocab[tok] = i
            specials.append(tok)
    free = iter([i for i in range(NEWLINE_ID + 1, size) if i not in taken])
    alphabet, trained = trained_merges()
    merges: list[tuple[str, str]] = []

    def add(token: str) -> bool:
        if token in vocab:
            return True
        i = next(free, None)
        if i is None:
            return False
        vocab[token] = i
        return True

    for token in [f"<0x{b:02X}>" for b in range(256)] + _BASE_CHARS:
        if not add(token):
            return vocab, merges, specials
    for a, b in trained:
        # A merge may rebuild a token another pair already made; it still joins its own pair.
        if not (add(a) and add(b) and add(a + b)):
            return vocab, merges, specials
        merges.append((a, b))
    for char in alphabet:
        if not add(char):
            return vocab, merges, specials
    for n, i in enumerate(free):
        vocab[f"<filler{n}>"] = i  # unreachable: no merge builds it
    return vocab, merges, specials


def build_tokenizer(shape: Shape) -> Tokenizer:
    vocab, merges, specials = build_vocab(shape)
    tok = Tokenizer(
        BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True)
    )
    tok.normalizer = normalizers.Replace(" ", SPACE)
    tok.pre_tokenizer = pre_tokenizers.Split(
        pattern=" ", behavior="merged_with_previous", invert=False
    )
    tok.decoder = decoders.Sequence(
        [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    return tok


def tokenizer_config(shape: Shape) -> dict:
    cfg: dict = {
        "add_bos_token": False,
        "add_eos_token": False,
        "backend": "tokenizers",
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "extra_special_tokens": ["<|video|>"],
        "mask_token": "<mask>",
        "model_max_length": 1000000000000000019884624838656,
        "pad_token": "<pad>",
        "padding_side": "left",
        "processor_class": "Gemma4UnifiedProcessor",
        "response_schema": RESPONSE_SCHEMA,
        "tokenizer_class": "GemmaTokenizer",
        "unk_token": "<unk>",
    }
    cfg.update(NAMED_TOKENS)
    return cfg


def write_tokenizer(folder: Path, shape: Shape) -> None:
    build_tokenizer(shape).save(str(folder / "tokenizer.json"))
    write_json(folder / "tokenizer_config.json", tokenizer_config(shape))
    write_json(
        folder / "special_tokens_map.json",
        {
            "bos_token": "<bos>",
            "eos_token": "<eos>",
            "mask_token": "<mask>",
            "pad_token": "<pad>",
            "unk_token": "<unk>",
        },
    )
