"""Test-wide settings: offscreen Qt, exact float32 matmuls in MLX, no network, shared tiny checkpoints."""

import os

os.environ["QT_QPA_PLATFORM"] = os.environ.get("QT_QPA_PLATFORM", "offscreen")
os.environ["MLX_ENABLE_TF32"] = "0"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny random-weight checkpoint in the released HF layout, with tokenizer and template."""
    from engine.checkpoint import make_checkpoint

    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    make_checkpoint(out, shape="tiny", seed=0)
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint_with_drafter(tmp_path_factory):
    """A tiny checkpoint with its MTP drafter written beside it (`<out>/drafter`)."""
    from engine.checkpoint import make_checkpoint

    out = tmp_path_factory.mktemp("ckpt") / "tiny-mtp"
    make_checkpoint(out, shape="tiny", seed=1, with_drafter=True)
    return out
