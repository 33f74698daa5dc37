"""Config parsing: transformers 5.23 config.json (per_layer_config), defaults, derived structure, clear errors."""

from __future__ import annotations

import json

import pytest

from engine.model.config import FULL, SLIDING, ConfigError, ModelConfig, TextConfig

TEXT = {
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 6,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
}


def test_reads_config_written_by_transformers(reference):
    _, folder = reference("T1")
    raw = json.loads((folder / "config.json").read_text())
    assert "per_layer_config" in raw["text_config"] and "global_head_dim" not in raw["text_config"]
    cfg = ModelConfig.from_dict(raw)
    text = cfg.text_config
    assert text.head_dims == [16, 16, 32, 16, 16, 32] and text.kv_heads == [2, 2, 1, 2, 2, 1]
    assert text.final_logit_softcapping == 30.0 and text.window == 4
    assert cfg.eoa_token_index == 505 and cfg.vision_config.patch_dim == 6912
    assert cfg.audio_config.audio_embed_dim == 640 and cfg.quantization is None


def test_global_head_dim_rule_without_per_layer_config():
    text = TextConfig.from_dict({**TEXT, "attention_k_eq_v": True, "num_global_key_value_heads": 1})
    assert text.layer_types == [SLIDING] * 5 + [FULL]  # the reference's default pattern
    assert text.head_dims[-1] == 512 and text.kv_heads[-1] == 1  # global_head_dim defaults to 512
    text = TextConfig.from_dict({**TEXT, "global_head_dim": 32, "num_global_key_value_heads": 1})
    assert text.head_dims[-1] == 32 and text.kv_heads[-1] == 2  # no k_eq_v: kv heads stay
    assert text.final_logit_softcapping is None


def test_last_layer_forced_full_and_window_halved_once_in_all_mode():
    text = TextConfig.from_dict(
        {
            **TEXT,
            "layer_types": [SLIDING] * 6,
            "use_bidirectional_attention": "all",
            "sliding_window": 10,
        }
    )
    assert text.layer_types[-1] == FULL and text.window == 6 and text.sliding_window == 10


def test_kv_sharing_producers_and_missing_producer():
    types = [SLIDING, SLIDING, FULL, SLIDING, SLIDING, FULL]
    text = TextConfig.from_dict({**TEXT, "layer_types": types, "num_kv_shared_layers": 2})
    assert text.kv_producers == [None, None, None, None, 3, 2]
    with pytest.raises(ConfigError, match="no earlier full_attention layer"):
        TextConfig.from_dict(
            {**TEXT, "layer_types": [SLIDING] * 5 + [FULL], "num_kv_shared_layers": 1}
        )


def test_unknown_keys_ignored_and_errors_are_clear():
    cfg = ModelConfig.from_dict(
        {
            "model_type": "gemma4_unified",
            "text_config": {**TEXT, "brand_new_key": 1},
            "eoa_token_id": 7,
            "something_else": True,
        }
    )
    assert cfg.eoa_token_index == 7 and cfg.vision_config is None
    with pytest.raises(ConfigError, match="missing required key.*hidden_size"):
        TextConfig.from_dict({k: v for k, v in TEXT.items() if k != "hidden_size"})
    with pytest.raises(ConfigError, match="'gemma3' model"):
        ModelConfig.from_dict({"model_type": "gemma3", "text_config": TEXT})
    with pytest.raises(ConfigError, match="text_config"):
        ModelConfig.from_dict({"model_type": "gemma4_unified"})
    with pytest.raises(ConfigError, match="hidden_size_per_layer_input"):
        TextConfig.from_dict({**TEXT, "hidden_size_per_layer_input": 256})
    with pytest.raises(ConfigError, match="rope_type"):
        from engine.model.text import rope_periods

        rope_periods({"rope_type": "yarn", "rope_theta": 1.0}, 16)


def test_a_12b_shape_quantized_checkpoint_gives_full_layers_one_kv_head_of_512():
    """The 12B's released geometry survives the checkpoint writer's config.json and the loader."""
    from engine.checkpoint import SHAPES
    from engine.checkpoint.config import model_config
    from engine.model.text import Attention

    written = model_config(SHAPES["12b"], quantization={"group_size": 64, "bits": 4, "mode": "affine"})
    text = ModelConfig.from_dict(json.loads(json.dumps(written))).text_config
    full = [i for i, t in enumerate(text.layer_types) if t == FULL]
    assert full == [5, 11, 17, 23, 29, 35, 41, 47]
    assert {(text.kv_heads[i], text.head_dims[i]) for i in full} == {(1, 512)}
    assert {(text.kv_heads[i], text.head_dims[i]) for i in range(48) if i not in full} == {(8, 256)}
    attn = Attention(text, 5)  # what the cache is sized from
    assert (attn.n_kv_heads, attn.head_dim, attn.k_eq_v) == (1, 512, True)
