"""mlx-vlm's side of every figure: its gemma4_unified port, driven the way `mlx_vlm.generate` drives it.

- Loading: `mlx_vlm.utils.load_model(path)`, then every floating-point parameter cast to the compute dtype
  (float32 by default: converted checkpoints store scales, norms and embeddings in bfloat16, and MLX's CPU
  bfloat16 path is about 8x slower; Tandem computes in float32 on a CPU, so this is the like-for-like setting).
- Prefill, time to first token and decode: `mlx_vlm.generate.ar.generate_step` (chunked prefill of 2048
  tokens, `logits_to_keep=1`, greedy at temperature 0); a token's time is when the generator yields it.
- Image and audio: mlx-vlm's own `Gemma4UnifiedImageProcessor` / `Gemma4UnifiedAudioFeatureExtractor`, then
  `get_image_features` / `get_audio_features`.
- Video: mlx-vlm's `load_video` (OpenCV; it samples 2 frames per second, at most `frames`) and its
  `Gemma4UnifiedVideoProcessor`, then `generate_step` with `pixel_values_videos`; the prompt is Tandem's
  template with the reference's per-frame layout ("mm:ss <|image>" + soft tokens + "<image|>") for the
  frames and timestamps mlx-vlm chose. mlx-vlm reads no sound from a video.
- Voice and turn-10 figures: mlx-vlm has no streaming or kept-cache path, so the figure is a full prefill of
  the same prompt; prompt token ids come from Tandem's template and tokenizer (no model involved).

Only `engine.bench.worker` imports this module, in its own process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
from mlx.utils import tree_map

from . import common

DTYPES = {"float32": mx.float32, "bfloat16": mx.bfloat16, "float16": mx.float16}


def _load(path: Path, dtype: str = "float32") -> tuple[Any, float]:
    from mlx_vlm.utils import load_model

    start = time.perf_counter()
    model = load_model(Path(path))
    if dtype != "stored":
        target = DTYPES[dtype]
        model.update(
            tree_map(
                lambda p: (
                    p.astype(target)
                    if isinstance(p, mx.array) and mx.issubdtype(p.dtype, mx.floating)
                    else p
                ),
                model.parameters(),
            )
        )
    mx.eval(model.parameters())
    return model, time.perf_counter() - start


def _generate(model: Any, ids: mx.array, max_tokens: int, **kwargs: Any) -> list[float]:
    """Timestamps of the tokens `generate_step` yields (greedy)."""
    from mlx_vlm.generate.ar import generate_step

    pixel_values = kwargs.pop("pixel_values", None)
    times = []
    for _ in generate_step(
        ids, model, pixel_values, None, max_tokens=max_tokens, temperature=0.0, **kwargs
    ):
        times.append(time.perf_counter())
    mx.synchronize()  # the step issued ahead of the last yield finishes outside the timed region
    return times


def _ttft(model: Any, ids: mx.array, **kwargs: Any) -> float:
    start = time.perf_counter()
    first = _generate(model, ids, 1, **kwargs)[0]
    return first - start


def _warm_up(model: Any) -> None:
    _generate(model, common.random_ids(4, seed=99), 2)


def _tandem_tokenizer(path: Path) -> tuple[Any, str]:
    from engine.inputs.prompt import load_tokenizer
    from engine.inputs.template import load_template

    return load_tokenizer(path), load_template(path)


def _ready(path: Path, params: dict[str, Any]) -> tuple[Any, Any, str]:
    """mlx-vlm's model, warmed up, with Tandem's tokenizer and chat template for the prompts."""
    model, _ = _load(path, params.get("dtype", "float32"))
    _warm_up(model)
    tokenizer, template = _tandem_tokenizer(path)
    return model, tokenizer, template


def load(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    _, seconds = _load(path, params.get("dtype", "float32"))
    return {"load_s": seconds, "mx_active_after_load_gb": mx.get_active_memory() / 1e9}


def memory(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    model, seconds = _load(path, params.get("dtype", "float32"))
    after_load = mx.get_active_memory() / 1e9
    _generate(model, common.random_ids(params["prefill"]), params["decode"])
    return {"load_s": seconds, "mx_active_after_load_gb": after_load}


def prefill(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    model, _ = _load(path, params.get("dtype", "float32"))
    _warm_up(model)
    n = params["tokens"]
    seconds = _ttft(model, common.random_ids(n, seed=1))
    return {"tok_s": n / seconds, "seconds": seconds, "tokens": n}


def decode(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    model, _ = _load(path, params.get("dtype", "float32"))
    if params.get("warmup", True):
        _warm_up(model)
    cache = model.make_cache()
    out = model(common.random_ids(1), cache=cache)
    mx.eval(out.logits, [c.state for c in cache])
    common.fill_cache(cache, params["context"] - 2)
    times = _generate(
        model, mx.array([[common.FIRST_ORDINARY_ID]]), params["tokens"], prompt_cache=cache
    )
    return {
        "tok_s": common.tokens_per_second(times),
        "step_s": common.gaps(times),
        "context": params["context"],
        "tokens": len(times),
    }


def _image_processor(path: Path) -> Any:
    from mlx_vlm.models.gemma4_unified.processing_gemma4_unified import Gemma4UnifiedImageProcessor

    config = json.loads((path / "preprocessor_config.json").read_text())
    config = {
        k: v for k, v in config.items() if k not in ("image_processor_type", "processor_class")
    }
    return Gemma4UnifiedImageProcessor(**config)


def _image_inputs(processor: Any, image: Any, budget: int) -> tuple[mx.array, mx.array, int]:
    data, counts = processor.preprocess([image], max_soft_tokens=budget)
    return mx.array(data["pixel_values"]), mx.array(data["image_position_ids"]), int(counts[0])


def image_embed(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    model, _ = _load(path, params.get("dtype", "float32"))
    processor = _image_processor(path)

    def run(size: int, budget: int) -> float:
        start = time.perf_counter()
        pixels, positions, _ = _image_inputs(processor, common.test_image(size), budget)
        mx.eval(model.get_image_features(pixels.astype(mx.float32), positions))
        return time.perf_counter() - start

    run(96, 70)  # warm-up on a small image
    return {"seconds": run(params["size"], 280)}


def audio_project(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    from mlx_vlm.models.gemma4_unified.processing_gemma4_unified import (
        Gemma4UnifiedAudioFeatureExtractor,
    )

    model, _ = _load(path, params.get("dtype", "float32"))
    extractor = Gemma4UnifiedAudioFeatureExtractor()

    def run(seconds: float) -> float:
        start = time.perf_counter()
        feats = extractor(common.test_audio(seconds))
        mx.eval(
            model.get_audio_features(
                mx.array(feats["input_features"]), mx.array(feats["input_features_mask"])
            )
        )
        return time.perf_counter() - start

    run(0.4)
    return {"seconds": run(params["seconds"]), "frames": int(np.ceil(params["seconds"] * 25))}


def ttft_image(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    from engine.inputs.prompt import encode_prompt
    from engine.inputs.template import render_chat

    model, tokenizer, template = _ready(path, params)
    image = common.test_image(params["size"])
    text = render_chat(
        [
            {
                "role": "user",
                "content": [{"type": "image"}, {"type": "text", "text": "Describe this picture."}],
            }
        ],
        template=template,
    )
    ids = mx.array(
        encode_prompt(text, tokenizer, images=[image], image_budget=params["budget"]).input_ids
    )
    processor = _image_processor(path)
    start = time.perf_counter()
    pixels, positions, _ = _image_inputs(processor, image, params["budget"])
    first = _generate(model, ids, 1, pixel_values=pixels, image_position_ids=positions)[0]
    return {"seconds": first - start, "tokens": int(ids.shape[1])}


def voice(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    from mlx_vlm.models.gemma4_unified.processing_gemma4_unified import (
        Gemma4UnifiedAudioFeatureExtractor,
    )

    from engine.inputs.prompt import encode_prompt
    from engine.inputs.template import render_chat

    model, tokenizer, template = _ready(path, params)
    audio = common.test_audio(params["seconds"])
    text = render_chat([{"role": "user", "content": [{"type": "audio"}]}], template=template)
    ids = mx.array(encode_prompt(text, tokenizer, audios=[audio]).input_ids)
    start = time.perf_counter()
    feats = Gemma4UnifiedAudioFeatureExtractor()(audio)
    first = _generate(
        model,
        ids,
        1,
        input_features=mx.array(feats["input_features"]),
        input_features_mask=mx.array(feats["input_features_mask"]),
    )[0]
    return {"seconds": first - start, "tokens": int(ids.shape[1])}


def turn(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    from engine.inputs.prompt import encode_prompt
    from engine.inputs.template import render_chat

    model, tokenizer, template = _ready(path, params)
    words = " ".join(["word"] * params["words"])
    answer = " ".join(["ok"] * params["answer"])
    messages: list[dict[str, Any]] = []
    for _ in range(params["turns"] - 1):
        messages += [{"role": "user", "content": words}, {"role": "assistant", "content": answer}]
    messages.append({"role": "user", "content": words})
    ids = mx.array(encode_prompt(render_chat(messages, template=template), tokenizer).input_ids)
    seconds = _ttft(model, ids)
    return {"seconds": seconds, "ttft_reprefill_s": seconds, "tokens": int(ids.shape[1])}


def _read_recording(params: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
    """The screen recording through mlx-vlm: (processor output, seconds, growth of the RSS peak in GB)."""
    import cv2  # noqa: F401 -- imported before the timing, as a running app has it
    from mlx_vlm.models.gemma4_unified.processing_gemma4_unified import (
        Gemma4UnifiedVideoProcessor,
    )
    from mlx_vlm.utils import load_video

    from .screen_clip import screen_recording

    clip = screen_recording(params["seconds"], params["width"], params["height"], params["fps"])
    processor = Gemma4UnifiedVideoProcessor(num_frames=params["frames"])
    with common.RssGrowth() as growth:
        start = time.perf_counter()
        frames, metadata = load_video(str(clip), max_frames=params["frames"])
        data = processor(frames, fps=metadata.sampled_fps)
        seconds = time.perf_counter() - start
    return data, seconds, growth.gb


def video_preprocess(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    data, seconds, rss = _read_recording(params)
    return {
        "seconds": seconds,
        "frames": int(data["pixel_values_videos"].shape[0]),
        "preprocess_rss_gb": rss,
    }


def video(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    from engine.inputs.template import render_chat
    from engine.inputs.video import BOI, EOI, VIDEO_TOKEN, clock

    if params["sound"]:
        return {"skipped": "mlx-vlm reads no sound from a video"}
    data, preprocess, preprocess_rss = _read_recording(params)
    per_frame = f"{BOI}{VIDEO_TOKEN * data['num_soft_tokens_per_frame'][0]}{EOI}"
    layout = " ".join(f"{clock(t)} {per_frame}" for t in data["frame_timestamps"][0])
    model, tokenizer, template = _ready(path, params)
    question = [{"type": "video"}, {"type": "text", "text": "Why does the animation stutter?"}]
    text = render_chat([{"role": "user", "content": question}], template=template)
    # Tokenized directly: encode_prompt expands placeholders itself and refuses ready-made markers.
    ids = mx.array([tokenizer.encode(text.replace(VIDEO_TOKEN, layout), add_special_tokens=False)])
    mx.reset_peak_memory()
    begin = time.perf_counter()
    first = _generate(
        model,
        ids,
        1,
        pixel_values_videos=mx.array(data["pixel_values_videos"]),
        video_position_ids=mx.array(data["video_position_ids"]),
    )[0]
    return {
        "seconds": preprocess + first - begin,
        "preprocess_s": preprocess,
        "prefill_s": first - begin,
        "tokens": int(ids.shape[1]),
        "frames": int(data["pixel_values_videos"].shape[0]),
        "preprocess_rss_gb": preprocess_rss,
        "prefill_mx_peak_gb": mx.get_peak_memory() / 1e9,
    }


MEASURES: dict[str, Callable[[Path, dict[str, Any]], dict[str, Any]]] = {
    "load": load,
    "memory": memory,
    "prefill": prefill,
    "decode": decode,
    "image_embed": image_embed,
    "audio_project": audio_project,
    "ttft_image": ttft_image,
    "voice": voice,
    "turn": turn,
    "video": video,
    "video_preprocess": video_preprocess,
}
