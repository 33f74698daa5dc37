"""The checkpoint's tokenizer: loads with AutoTokenizer, control tokens at the config's ids, exact round trips."""

from __future__ import annotations

import json

import pytest

from engine.checkpoint import SHAPES
from engine.checkpoint.shapes import CONTROL_TOKENS
from engine.checkpoint.tokenizer import build_tokenizer, build_vocab

pytest.importorskip("transformers")

TEXTS = [
    "Hello, world!",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\n\n\nand \r\n crlf",
    "héllo wörld — ça va? Ελληνικά, русский, 中文, 日本語, 한국어, العربية",
    "emoji 🙂👍🏽 family 👨‍👩‍👧 flags 🇫🇷",
    "combining e\u0301 zero-width\u200bjoiner, nul \x00 bell \x07, surrogates-free 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "def f(x):\n    return {'a': [1, 2, 3]}  # code\n",
    "",
]


@pytest.fixture(scope="module")
def tok(tiny_checkpoint):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_checkpoint)


def test_control_tokens_at_config_ids(tok, tiny_checkpoint):
    cfg = json.loads((tiny_checkpoint / "config.json").read_text())
    for text, i in CONTROL_TOKENS.items():
        assert tok.convert_tokens_to_ids(text) == i, text
        assert tok.encode(text, add_special_tokens=False) == [i], text
    media = {
        "<|image>": cfg["boi_token_id"],
        "<|image|>": cfg["image_token_id"],
        "<image|>": cfg["eoi_token_id"],
        "<|audio>": cfg["boa_token_id"],
        "<|audio|>": cfg["audio_token_id"],
        "<audio|>": cfg["eoa_token_index"],
        "<|video|>": cfg["video_token_id"],
    }
    for text, i in media.items():
        assert tok.encode(text, add_special_tokens=False) == [i], text
    assert tok.encode("\n", add_special_tokens=False) == [107]
    assert (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id) == (2, 1, 0)
    assert tok.padding_side == "left"
    # The processor reads these attributes.
    assert (tok.image_token, tok.boi_token, tok.eoi_token) == ("<|image|>", "<|image>", "<image|>")
    assert (tok.audio_token, tok.boa_token, tok.eoa_token) == ("<|audio|>", "<|audio>", "<audio|>")
    assert (
        tok.image_token_id == cfg["image_token_id"] and tok.audio_token_id == cfg["audio_token_id"]
    )
    assert len(tok) == cfg["text_config"]["vocab_size"]


def test_no_bos_added_by_the_tokenizer(tok):
    assert tok("hi").input_ids[0] != 2


@pytest.mark.parametrize("text", TEXTS)
def test_text_round_trips_exactly(tok, text):
    ids = tok.encode(text, add_special_tokens=False)
    assert all(0 <= i < 512 for i in ids)
    assert tok.decode(ids) == text


def test_special_tokens_inside_text_round_trip(tok):
    text = '<|turn>user\nHi <|"|>quoted<|"|><turn|>\n<|turn>model\n<|channel>thought\n<channel|>'
    ids = tok.encode(text, add_special_tokens=False)
    assert ids[0] == 105 and 52 in ids and 100 in ids
    assert tok.decode(ids) == text


def test_feature_extractor_loads(tiny_checkpoint):
    import numpy as np
    from transformers.models.gemma4_unified.feature_extraction_gemma4_unified import (
        Gemma4UnifiedAudioFeatureExtractor,
    )

    fe = Gemma4UnifiedAudioFeatureExtractor.from_pretrained(tiny_checkpoint)
    assert (fe.sampling_rate, fe.audio_samples_per_token) == (16000, 640)
    out = fe([np.ones(1300, dtype=np.float32)], return_tensors="np")
    assert out["input_features"].shape == (1, 3, 640)  # ceil(1300 / 640) frames of 640 samples


def test_real_vocab_has_every_id_once_and_real_ids():
    shape = SHAPES["12b"]  # "small" shares the real vocabulary
    assert build_vocab(SHAPES["small"])[0] == build_vocab(shape)[0]
    vocab, merges, _ = build_vocab(shape)
    assert sorted(vocab.values()) == list(range(262144))
    t = build_tokenizer(shape)
    for text, i in {
        **CONTROL_TOKENS,
        "<|image>": 255999,
        "<|audio>": 256000,
        "<|image|>": 258880,
        "<|audio|>": 258881,
        "<image|>": 258882,
        "<audio|>": 258883,
        "<|video|>": 258884,
    }.items():
        assert t.token_to_id(text) == i
        assert t.encode(text).ids == [i]
    assert len(merges) > 10_000  # real-vocab text gets multi-character tokens
    s = TEXTS[3] + TEXTS[4]
    enc = t.encode(s)
    assert t.decode(enc.ids) == s and len(enc.ids) < len(s.encode())


def test_pipeline_is_transformers_gemma_pipeline():
    """Same vocabulary and merges through transformers' own GemmaTokenizer give the same ids and text.

    (Both normalize spaces to "▁", so a literal "▁" in the input decodes as a space in either.)
    """
    from transformers import GemmaTokenizer

    shape = SHAPES["tiny"]
    vocab, merges, _ = build_vocab(shape)
    ref = GemmaTokenizer(vocab=vocab, merges=merges).backend_tokenizer
    ours = build_tokenizer(shape)
    for text in TEXTS + ["a▁b"]:
        ids = ours.encode(text, add_special_tokens=False).ids
        assert ids == ref.encode(text, add_special_tokens=False).ids, text
        assert ours.decode(ids) == ref.decode(ids)


PROSE = (
    "The model manager lists the builds of the model with their download size and the memory they need, "
    "recommends the one that fits this computer, and downloads it together with its drafter. An interrupted "
    "download resumes where it stopped, and every failure is explained in a plain sentence."
)
CODE = (
    "def load_everything(path, drafter_path=None, dtype=None):\n"
    "    folder = resolve_path(path)\n"
    "    model = load_model(folder, dtype=dtype)\n"
    "    for name, value in sorted(config.items()):\n"
    "        if isinstance(value, dict):\n"
    "            return {key: value for key in value}\n"
)


def test_real_vocab_compresses_english_and_code_like_a_real_tokenizer():
    """Trained merges: under 1.4 tokens per English word, and code at more than three bytes a token."""
    t = build_tokenizer(SHAPES["12b"])
    prose = t.encode(PROSE).ids
    assert len(prose) < 1.4 * len(PROSE.split())  # real tokenizers: about 1.3 per English word
    assert len(t.encode(CODE).ids) < len(CODE.encode()) / 3
    assert [t.id_to_token(i) for i in t.encode(" the model").ids] == ["▁the", "▁model"]
    assert t.decode(t.encode(PROSE + CODE).ids) == PROSE + CODE


def test_shipped_merges_are_what_the_training_script_makes():
    """BPE is greedy: a shorter training gives the first merges of the shipped one (same Python)."""
    import importlib.util
    import sys
    from pathlib import Path

    from engine.checkpoint.tokenizer import MERGES_FILE

    shipped = json.loads(MERGES_FILE.read_text(encoding="utf-8"))
    if shipped["python"] != sys.version.split()[0]:
        pytest.skip(f"the merges were trained on Python {shipped['python']}'s standard library")
    script = Path(__file__).resolve().parents[3] / "scripts" / "train_demo_tokenizer.py"
    spec = importlib.util.spec_from_file_location("train_demo_tokenizer", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    short = module.train(600)
    assert short["merges"] == shipped["merges"][: len(short["merges"])]
