"""engine.convert: shard-by-shard quantization that loads back with load_model.

Checks: the converted model equals mlx's nn.quantize applied in memory to the float model (exactly), every
quantized weight is within half a quantization step of the float weight, the multimodal projections stay
float, and on the tiny random checkpoint 8-bit logits keep a per-position cosine similarity >= 0.95 with
the float logits (tiny random models amplify weight noise strongly, so the exact checks carry the weight).
"""

from __future__ import annotations

import argparse
import json

import mlx.core as mx
import numpy as np
import pytest
from mlx import nn

from engine.convert import add_arguments, convert, run
from engine.loading import CheckpointError, load_model, load_safetensors, weight_files

IDS = mx.array([[2] + list(range(10, 40))])


@pytest.fixture(scope="module")
def converted(tiny_checkpoint, tmp_path_factory):
    out = {}
    for bits in (4, 8):
        out[bits] = convert(
            tiny_checkpoint, tmp_path_factory.mktemp("q") / f"q{bits}", bits=bits, group_size=64
        )
    return out


@pytest.mark.parametrize("bits", [4, 8])
def test_converted_equals_in_memory_quantization(tiny_checkpoint, converted, bits):
    quantized = load_model(converted[bits], dtype="float32")
    expected = load_model(tiny_checkpoint, dtype="float32")
    nn.quantize(
        expected,
        group_size=64,
        bits=bits,
        class_predicate=lambda p, m: (
            expected.quant_predicate(p, m) and m.weight.shape[-1] % 64 == 0
        ),
    )
    assert mx.array_equal(quantized(IDS), expected(IDS))
    assert quantized.layers[2].self_attn.q_proj.bits == bits
    assert isinstance(quantized.language_model.embed_tokens, nn.QuantizedEmbedding)
    for name in ("embed_vision", "embed_audio"):
        assert isinstance(quantized[name].embedding_projection, nn.Linear)
    assert isinstance(quantized.vision_embedder.patch_dense, nn.Linear)
    config = json.loads((converted[bits] / "config.json").read_text())
    assert config["quantization"] == {"group_size": 64, "bits": bits, "mode": "affine"}
    for name in ("tokenizer.json", "chat_template.jinja", "generation_config.json"):
        assert (converted[bits] / name).is_file()


@pytest.mark.parametrize("bits", [4, 8])
def test_weights_within_one_step(tiny_checkpoint, converted, bits):
    float_model = load_model(tiny_checkpoint, dtype="float32")
    quantized = load_model(converted[bits], dtype="float32")
    for path in ("layers.0.mlp.down_proj", "layers.2.self_attn.k_proj", "embed_tokens"):
        layer = dict(quantized.language_model.named_modules())[path]
        ref = dict(float_model.language_model.named_modules())[path].weight
        deq = mx.dequantize(layer.weight, layer.scales, layer.biases, group_size=64, bits=bits)
        groups = ref.reshape(ref.shape[0], -1, 64)
        step = (groups.max(-1) - groups.min(-1)) / (2**bits - 1)
        err = mx.abs(deq - ref).reshape(groups.shape).max(-1)
        assert bool(mx.all(err <= step + 1e-6)), path


def test_8bit_logits_stay_close(tiny_checkpoint, converted):
    ref = np.array(load_model(tiny_checkpoint, dtype="float32")(IDS), np.float64)[0]
    out = np.array(load_model(converted[8], dtype="float32")(IDS), np.float64)[0]
    cos = (out * ref).sum(-1) / np.linalg.norm(out, axis=-1) / np.linalg.norm(ref, axis=-1)
    assert cos.min() >= 0.95


def test_output_shards_follow_input_shards(tiny_checkpoint, converted):
    assert len(weight_files(converted[4])) == len(weight_files(tiny_checkpoint))
    names = set()
    for f in weight_files(converted[4]):
        names |= set(load_safetensors(f))
    assert "language_model.layers.0.self_attn.q_proj.scales" in names


def test_cli_and_bad_input(tiny_checkpoint, converted, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(converted[4]), str(tmp_path / "again"), "--bits", "4"])
    assert run(args) == 1
    assert "already quantized" in capsys.readouterr().err
    with pytest.raises(ValueError, match="bits must be one of"):
        convert(tiny_checkpoint, tmp_path / "x", bits=3)
    with pytest.raises(FileExistsError):
        convert(tiny_checkpoint, converted[8], bits=8)
    with pytest.raises(CheckpointError):
        convert(tmp_path / "missing", tmp_path / "y", bits=4)
    args = parser.parse_args(
        [str(tiny_checkpoint), str(tmp_path / "cli8"), "--bits", "8", "--group-size", "32"]
    )
    assert run(args) == 0
    assert load_model(tmp_path / "cli8").layers[0].mlp.up_proj.group_size == 32


def test_reads_and_writes_one_shard_at_a_time(tiny_checkpoint, tmp_path, monkeypatch):
    """Each output shard is written before the next input shard is read (bounded peak memory)."""
    import engine.convert as conv

    events = []
    real_load, real_save = conv.load_safetensors, conv.mx.save_safetensors

    def load(path):
        events.append("read")
        return real_load(path)

    def save(path, arrays, metadata=None):
        events.append("write")
        real_save(path, arrays, metadata=metadata)

    monkeypatch.setattr(conv, "load_safetensors", load)
    monkeypatch.setattr(conv.mx, "save_safetensors", save)
    convert(tiny_checkpoint, tmp_path / "q", bits=4)
    assert events == ["read", "write"] * len(weight_files(tiny_checkpoint))
