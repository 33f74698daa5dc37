"""`tandem convert SRC DST --bits 4|8 [--group-size 64]`: quantize a checkpoint to MLX affine 4 or 8 bits.

Works shard by shard: each input shard is read, its text-stack Linear/Embedding weights are quantized with
`mx.quantize` (the same affine scheme as mlx-lm / `nn.quantize`), and the result is written as one output shard
before the next input shard is read, so peak memory stays near one input shard plus one output shard (the model
is never built). Which tensors stay in full precision is decided by `engine.model.unified.should_quantize`
(the multimodal embedders, norms, layer_scalar and the position table do). The output folder uses this
project's tensor names, carries mlx-lm's "quantization" entry in config.json, keeps every other file of the
source (tokenizer, template, processor configs, a drafter subfolder; not hidden download bookkeeping) and
loads with `engine.load_model`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import mlx.core as mx

from engine.loading import (
    INDEX_FILE,
    CheckpointError,
    load_safetensors,
    read_config,
    resolve_path,
    weight_files,
)
from engine.model.unified import sanitize_weights, should_quantize

BITS = (4, 8)


def quantize_shard(weights: dict[str, mx.array], bits: int, group_size: int) -> dict[str, mx.array]:
    """Quantize the Linear/Embedding weights of one shard (our names); other tensors pass through."""
    out: dict[str, mx.array] = {}
    for name, w in weights.items():
        module = name.removesuffix(".weight")
        if (
            name.endswith(".weight")
            and w.ndim == 2
            and should_quantize(module, w.shape[-1], group_size)
        ):
            q, scales, biases = mx.quantize(w, group_size=group_size, bits=bits)
            out[name], out[f"{module}.scales"], out[f"{module}.biases"] = q, scales, biases
        else:
            out[name] = w
    return out


def convert(src: str | Path, dst: str | Path, bits: int, group_size: int = 64) -> Path:
    """Quantize checkpoint `src` (folder or repo id) into the new folder `dst`.

    Args:
        src: a float checkpoint (HF layout or mlx-vlm layout, not already quantized).
        dst: output folder; must not exist or be empty.
        bits: 4 or 8.
        group_size: elements per quantization group (32, 64 or 128).

    Returns:
        The output folder.
    """
    if bits not in BITS:
        raise ValueError(f"bits must be one of {BITS}, got {bits}")
    if group_size not in (32, 64, 128):
        raise ValueError(f"group_size must be 32, 64 or 128, got {group_size}")
    folder = resolve_path(src)
    config, raw = read_config(folder)
    if config.quantization:
        raise CheckpointError(f"{folder} is already quantized ({config.quantization})")
    dst = Path(dst)
    if dst.exists() and any(dst.iterdir()):
        raise FileExistsError(f"{dst} exists and is not empty")
    dst.mkdir(parents=True, exist_ok=True)

    files = weight_files(folder)
    weight_map: dict[str, str] = {}
    total = 0
    for i, path in enumerate(files):
        shard = sanitize_weights(config, load_safetensors(path))
        out = quantize_shard(shard, bits, group_size)
        name = f"model-{i + 1:05d}-of-{len(files):05d}.safetensors"
        mx.save_safetensors(str(dst / name), out, metadata={"format": "mlx"})
        weight_map.update({k: name for k in out})
        total += sum(a.nbytes for a in out.values())
        del shard, out
        mx.clear_cache()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (dst / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")

    for item in folder.iterdir():
        if item.name in ("config.json", INDEX_FILE) or item.suffix == ".safetensors":
            continue
        if item.name.startswith("."):
            continue  # download bookkeeping (huggingface_hub's .cache), not part of the model
        if item.is_dir():
            shutil.copytree(item, dst / item.name)
        else:
            shutil.copy2(item, dst / item.name)
    quantization = {"group_size": group_size, "bits": bits, "mode": "affine"}
    raw = {**raw, "quantization": quantization, "quantization_config": quantization}
    # Written last: a folder with its config.json is complete.
    (dst / "config.json").write_text(json.dumps(raw, indent=2) + "\n")
    return dst


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="checkpoint folder or Hugging Face repo id")
    parser.add_argument("dst", help="output folder (new or empty)")
    parser.add_argument("--bits", type=int, choices=BITS, required=True)
    parser.add_argument("--group-size", type=int, default=64, choices=(32, 64, 128))


def run(args: argparse.Namespace) -> int:
    try:
        out = convert(args.src, args.dst, args.bits, args.group_size)
    except (CheckpointError, FileExistsError, ValueError) as e:
        print(f"tandem convert: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0
