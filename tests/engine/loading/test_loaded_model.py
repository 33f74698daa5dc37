"""load_everything: every load option with and without a drafter, and what the engine reports of the inputs."""

from __future__ import annotations

import mlx.core as mx
import pytest

from engine import protocol as ev
from engine.checkpoint import make_checkpoint
from engine.loading import load_everything


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("everything")
    return {
        "none": make_checkpoint(root / "plain", "tiny", seed=4),
        "hf": make_checkpoint(root / "hf", "tiny", seed=4, with_drafter=True),
        "mlx-vlm": make_checkpoint(root / "mlx", "tiny", seed=4, bits=4, with_drafter=True,
                                   drafter_layout="mlx-vlm"),
        "text": make_checkpoint(root / "text", "tiny", seed=4, bits=4, mixed="mixed_4_8", text_only=True),
    }


@pytest.mark.parametrize("dtype", [None, "float32", "bfloat16", "float16"])
@pytest.mark.parametrize("drafter", ["none", "hf", "mlx-vlm"])
def test_every_dtype_with_and_without_a_drafter(folders, dtype, drafter):
    loaded = load_everything(str(folders[drafter]), dtype=dtype)
    expected = {None: mx.float32, "float32": mx.float32, "bfloat16": mx.bfloat16,
                "float16": mx.float16}[dtype]
    assert loaded.model.language_model.norm.weight.dtype == expected
    if drafter == "none":
        assert loaded.drafter is None
    else:
        assert loaded.drafter.dtype == expected  # the drafter computes in the target's dtype
    assert loaded.has_vision and loaded.has_audio


def test_an_explicit_drafter_path_wins(folders):
    loaded = load_everything(str(folders["none"]), drafter_path=str(folders["hf"] / "drafter"),
                             dtype="bfloat16")
    assert loaded.drafter is not None and loaded.drafter.dtype == mx.bfloat16


def test_text_only_build_is_reported_to_the_app(folders):
    from engine.worker import EngineWorker

    events = []
    worker = EngineWorker(events.append)
    worker.start()
    try:
        worker.submit(ev.LoadModel(path=str(folders["text"])))
        worker.submit(ev.Shutdown())
        worker.thread.join(60)
    finally:
        worker.stop()
    loaded = [e for e in events if isinstance(e, ev.ModelLoaded)]
    assert loaded, events
    assert (loaded[0].has_vision, loaded[0].has_audio) == (False, False)
