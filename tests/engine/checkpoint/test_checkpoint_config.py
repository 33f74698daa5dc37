"""config.json / generation_config.json / drafter config.json equal what transformers 5.23.0 writes."""

from __future__ import annotations

import json

import pytest

from engine.checkpoint import SHAPES
from engine.checkpoint.config import drafter_config, generation_config, model_config

transformers = pytest.importorskip("transformers")


def _reference_config(shape, tmp_path):
    """Save a Gemma4UnifiedConfig built from the shape's parameters with transformers itself."""
    from transformers import Gemma4UnifiedConfig

    ids = shape.media_ids
    cfg = Gemma4UnifiedConfig(
        text_config={
            "vocab_size": shape.vocab_size,
            "hidden_size": shape.hidden_size,
            "intermediate_size": shape.intermediate_size,
            "num_hidden_layers": shape.num_hidden_layers,
            "layer_types": list(shape.layer_types),
            "num_attention_heads": shape.num_attention_heads,
            "num_key_value_heads": shape.num_key_value_heads,
            "head_dim": shape.head_dim,
            "global_head_dim": shape.global_head_dim,
            "num_global_key_value_heads": shape.num_global_key_value_heads,
            "attention_k_eq_v": shape.attention_k_eq_v,
            "sliding_window": shape.sliding_window,
            "final_logit_softcapping": shape.final_logit_softcapping,
        },
        vision_config={
            "mm_embed_dim": shape.mm_embed_dim,
            "output_proj_dims": shape.mm_embed_dim,
            "mm_posemb_size": shape.mm_posemb_size,
        },
        audio_config={"audio_embed_dim": shape.audio_embed_dim},
        boi_token_id=ids["boi"],
        eoi_token_id=ids["eoi"],
        image_token_id=ids["image"],
        video_token_id=ids["video"],
        boa_token_id=ids["boa"],
        eoa_token_index=ids["eoa"],
        audio_token_id=ids["audio"],
        architectures=["Gemma4UnifiedForConditionalGeneration"],
        dtype=shape.dtype,
        tandem_random_weights=True,
    )
    cfg.save_pretrained(tmp_path)
    return json.loads((tmp_path / "config.json").read_text())


@pytest.mark.parametrize("name", list(SHAPES))
def test_config_equals_transformers_save_pretrained(name, tmp_path):
    shape = SHAPES[name]
    ours = model_config(shape)
    assert ours == _reference_config(shape, tmp_path)
    assert ours["tandem_random_weights"] is True
    # per_layer_config carries the full layers' geometry, as transformers 5.23 writes it.
    full = [i for i, t in enumerate(shape.layer_types) if t == "full_attention"]
    assert sorted(int(k) for k in ours["text_config"]["per_layer_config"]) == full


def test_written_config_round_trips_through_transformers(tiny_checkpoint, tmp_path):
    from transformers import AutoConfig

    on_disk = json.loads((tiny_checkpoint / "config.json").read_text())
    cfg = AutoConfig.from_pretrained(tiny_checkpoint)
    assert type(cfg).__name__ == "Gemma4UnifiedConfig"
    assert cfg.text_config.layer_types[2] == "full_attention"
    assert cfg.tandem_random_weights is True
    cfg.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == on_disk


def test_12b_config_has_the_released_numbers():
    cfg = model_config(SHAPES["12b"])
    t = cfg["text_config"]
    assert (t["hidden_size"], t["intermediate_size"], t["num_hidden_layers"], t["vocab_size"]) == (
        3840,
        15360,
        48,
        262144,
    )
    assert [i for i, x in enumerate(t["layer_types"]) if x == "full_attention"] == [
        5,
        11,
        17,
        23,
        29,
        35,
        41,
        47,
    ]
    assert t["per_layer_config"]["05"] == {"head_dim": 512, "num_key_value_heads": 1}
    assert (
        cfg["boi_token_id"],
        cfg["eoi_token_id"],
        cfg["image_token_id"],
        cfg["video_token_id"],
    ) == (255999, 258882, 258880, 258884)
    assert (cfg["boa_token_id"], cfg["eoa_token_index"], cfg["audio_token_id"]) == (
        256000,
        258883,
        258881,
    )


def test_quantized_config_marks_both_spellings():
    q = {"group_size": 64, "bits": 4, "mode": "affine"}
    cfg = model_config(SHAPES["tiny"], quantization=q)
    assert cfg["quantization"] == q and cfg["quantization_config"] == q


@pytest.mark.parametrize("name", list(SHAPES))
def test_drafter_config_equals_transformers(name, tmp_path):
    from transformers import Gemma4UnifiedAssistantConfig

    shape = SHAPES[name]
    d = shape.drafter
    ref = Gemma4UnifiedAssistantConfig(
        text_config={
            "model_type": "gemma4_unified_text",
            "vocab_size": shape.vocab_size,
            "hidden_size": d.hidden_size,
            "intermediate_size": d.intermediate_size,
            "num_hidden_layers": len(d.layer_types),
            "layer_types": list(d.layer_types),
            "num_attention_heads": d.num_attention_heads,
            "num_key_value_heads": shape.num_key_value_heads,
            "head_dim": shape.head_dim,
            "global_head_dim": shape.global_head_dim,
            "num_global_key_value_heads": shape.num_global_key_value_heads,
            "attention_k_eq_v": shape.attention_k_eq_v,
            "sliding_window": shape.sliding_window,
            "final_logit_softcapping": None,
        },
        backbone_hidden_size=shape.hidden_size,
        architectures=["Gemma4UnifiedAssistantForCausalLM"],
        dtype=shape.dtype,
        tandem_random_weights=True,
    )
    ref.save_pretrained(tmp_path)
    assert drafter_config(shape) == json.loads((tmp_path / "config.json").read_text())


def test_drafter_config_loads(tiny_checkpoint_with_drafter):
    from transformers import Gemma4UnifiedAssistantConfig

    cfg = Gemma4UnifiedAssistantConfig.from_pretrained(tiny_checkpoint_with_drafter / "drafter")
    assert cfg.backbone_hidden_size == 64
    assert cfg.text_config.num_kv_shared_layers == 4
    assert cfg.text_config.layer_types == ["sliding_attention"] * 3 + ["full_attention"]


def test_generation_config(tiny_checkpoint):
    from transformers import GenerationConfig

    g = GenerationConfig.from_pretrained(tiny_checkpoint)
    assert g.eos_token_id == [1, 106, 50]
    assert sorted(g.suppress_tokens) == [504, 505]  # eoi, eoa of the tiny shape
    assert (g.temperature, g.top_k, g.top_p, g.do_sample) == (1.0, 64, 0.95, True)
    assert generation_config(SHAPES["12b"])["suppress_tokens"] == [258883, 258882]
