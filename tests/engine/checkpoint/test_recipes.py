"""Mixed-precision recipes: the bits each module gets."""

import pytest

from engine.checkpoint.recipes import config_entries, module_bits


def test_mixed_4_8_gives_the_recipe_bits_at_12b_depth():
    # 48 layers: the first and last six, and every third between, get 8-bit v_proj / down_proj.
    down = "language_model.model.layers.{}.mlp.down_proj"
    eight = [i for i in range(48) if module_bits("mixed_4_8", down.format(i), 48) == 8]
    assert eight == [0, 1, 2, 3, 4, 5, 8, 11, 14, 17, 20, 23, 26, 29, 32, 35, 38, 41, 42, 43, 44, 45, 46, 47]
    assert module_bits("mixed_4_8", "language_model.model.layers.0.mlp.up_proj", 48) == 4
    assert module_bits("mixed_4_8", "language_model.model.embed_tokens", 48) == 8
    assert module_bits("mlp8", "language_model.model.layers.7.mlp.gate_proj", 48) == 8
    assert module_bits("mlp8", "language_model.model.layers.7.self_attn.q_proj", 48) == 4


def test_config_entries_follow_each_writer():
    modules = ["language_model.model.layers.2.mlp.down_proj", "language_model.model.layers.2.self_attn.q_proj"]
    assert config_entries("mixed_4_8", modules, 6, 64) == {
        modules[0]: {"group_size": 64, "bits": 8}, modules[1]: {"group_size": 64, "bits": 4}}
    assert config_entries("mlp8", modules, 6, 64) == {modules[0]: {"group_size": 64, "bits": 8}}
    with pytest.raises(ValueError, match="mlp8, mixed_4_8"):
        module_bits("q4_k_m", modules[0], 6)
