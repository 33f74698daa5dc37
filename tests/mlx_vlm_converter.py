"""mlx-vlm 0.7.10's `convert`, run for real on a Tandem checkpoint, for tests that compare layouts with it.

Only its processor loading is replaced (it needs torchvision for the image processor, and a processor plays no
part in the weights). mlx-vlm 0.7.10 reads the full layers' head size from `text_config.global_head_dim` (not
from `per_layer_config`, which transformers writes), and builds its assistant stack from gemma4's text config,
whose `hidden_size_per_layer_input` defaults to 256: the copy handed to it carries both keys, as a config it
converts must.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from pathlib import Path


def mlx_vlm_convert(src: Path, out: Path, **options) -> dict:
    """Run mlx_vlm.convert.convert on a copy of `src` that mlx-vlm can build; return the written config."""
    from mlx_vlm.utils import load_config, load_model

    readable = out.with_name(out.name + "-src")
    shutil.copytree(src, readable)
    config = json.loads((readable / "config.json").read_text())
    text = config["text_config"]
    full_head = {int(v.get("head_dim", text["head_dim"])) for v in (text.get("per_layer_config") or {}).values()}
    text.update(global_head_dim=max(full_head, default=text["head_dim"]), hidden_size_per_layer_input=0)
    (readable / "config.json").write_text(json.dumps(config))
    converter = importlib.import_module("mlx_vlm.convert")  # the package re-exports a function of this name
    assert converter is sys.modules["mlx_vlm.convert"]
    original = converter.fetch_from_hub
    converter.fetch_from_hub = lambda path, lazy=True, **_: (
        load_model(Path(path), lazy=lazy), load_config(Path(path)), None)
    try:
        converter.convert(str(readable), str(out), **options)
    finally:
        converter.fetch_from_hub = original
    return json.loads((out / "config.json").read_text())
