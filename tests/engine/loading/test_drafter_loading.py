"""load_drafter: the released layout and mlx-vlm's, dtypes by name, and clear errors."""

from __future__ import annotations

import json
import shutil

import mlx.core as mx
import pytest
from mlx.utils import tree_flatten

from engine.checkpoint import make_checkpoint
from engine.loading import CheckpointError, check_pairing, find_drafter, load_drafter


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("drafters")
    hf = make_checkpoint(root / "hf", "tiny", seed=2, with_drafter=True) / "drafter"
    mlx_vlm = make_checkpoint(root / "mlx", "tiny", seed=2, with_drafter=True,
                              drafter_layout="mlx-vlm") / "drafter"
    return hf, mlx_vlm


def params(model) -> dict:
    return dict(tree_flatten(model.parameters()))


def test_both_layouts_load_the_same_drafter(layouts):
    hf, mlx_vlm = (params(load_drafter(p)) for p in layouts)
    assert hf.keys() == mlx_vlm.keys()
    assert all(mx.array_equal(hf[k], mlx_vlm[k]) for k in hf)


@pytest.mark.parametrize("dtype", ["bfloat16", mx.bfloat16, "float16", None])
def test_dtype_by_name_or_value(layouts, dtype):
    drafter = load_drafter(layouts[1], dtype=dtype)
    expected = {None: mx.float32, "float16": mx.float16}.get(dtype, mx.bfloat16)
    assert drafter.pre_projection.weight.dtype == expected == drafter.dtype


def test_problems_are_named(layouts, tmp_path):
    broken = shutil.copytree(layouts[1], tmp_path / "d")
    (broken / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors listed in"):
        load_drafter(broken)
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(CheckpointError, match="'llama' model"):
        load_drafter(broken)
    with pytest.raises(CheckpointError, match="holds no drafter"):
        find_drafter(tmp_path, tmp_path / "nowhere")
    assert find_drafter(tmp_path) is None and find_drafter(layouts[0].parent) == layouts[0]


def test_a_drafter_for_another_model_is_refused(layouts):
    drafter = load_drafter(layouts[0])
    check_pairing(drafter, 64, 512, layouts[0])
    with pytest.raises(CheckpointError, match="made for a model with hidden size 64; this model has 3840"):
        check_pairing(drafter, 3840, 512, layouts[0])
    with pytest.raises(CheckpointError, match="vocabulary of 512 tokens; this model has 262144"):
        check_pairing(drafter, 64, 262144, layouts[0])
