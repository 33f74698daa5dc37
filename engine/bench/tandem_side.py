"""Tandem's side of every figure: what the product runs, through its public engine API.

- Loading: `engine.load_model(path)` (float32 compute on a CPU, the engine's default), parameters evaluated.
- Prefill and re-prefill: the model called on 256-token chunks with `logits_to_keep=1` and the cache evaluated
  after each chunk (what `Session._prefill` does), then the first token sampled greedily.
- Decode: `engine.decode.generation.generate_tokens` at temperature 0 (it issues step n+1 before yielding step n).
- Image+text, voice and turn-10 figures: an `engine.session.Session`, first output event after the call.
- Video: `engine.inputs.video.read_video` on a made-up screen recording (`screen_clip`), before the model
  loads, then `Session.send([video, its sound, text])` to the first output event.
- Drafter: `engine.decode.speculative` (`MTPDraftSource`) and `engine.decode.cache.CacheTransaction` when a
  drafter exists.

Each function takes the checkpoint folder and the figure's parameters and returns a dict of metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from . import common

CHUNK_TOKENS = 256  # Session's default prefill chunk
OUTPUT_EVENTS = ("TextDelta", "ToolCallEvent", "ParseErrorEvent", "TurnStats", "TurnFinished")


def _load(path: Path) -> tuple[Any, float]:
    from engine import load_model

    start = time.perf_counter()
    model = load_model(str(path))
    mx.eval(model.parameters())
    return model, time.perf_counter() - start


def _settings(max_tokens: int) -> Any:
    from engine.protocol import GenerationSettings

    return GenerationSettings(temperature=0.0, max_tokens=max_tokens, use_drafter=False, seed=0)


def _prefill(model: Any, ids: mx.array, cache: list[Any]) -> mx.array:
    """Chunked prefill as the Session does it; returns the greedy first token (evaluated)."""
    out = None
    for start in range(0, ids.shape[1], CHUNK_TOKENS):
        out = model(ids[:, start : start + CHUNK_TOKENS], cache=cache, logits_to_keep=1)
        mx.eval([out] + [c.state for c in cache])
    token = mx.argmax(out[:, -1], axis=-1)
    mx.eval(token)
    return token


def _warm_up(model: Any) -> None:
    """One short prefill and decode step, so one-time costs (compiled kernels) stay out of the timings."""
    cache = model.make_cache()
    token = _prefill(model, common.random_ids(4, seed=99), cache)
    mx.eval(model(token.reshape(1, 1), cache=cache, logits_to_keep=1))


def _first_output(events: Iterator[Any]) -> tuple[float, str]:
    """Seconds until the generator yields its first output event; the rest is drained untimed."""
    start = time.perf_counter()
    first, name = None, ""
    for event in events:
        if first is None and type(event).__name__ in OUTPUT_EVENTS:
            first, name = time.perf_counter() - start, type(event).__name__
    return (first if first is not None else time.perf_counter() - start), name


def _drain(events: Iterator[Any]) -> None:
    for _ in events:
        pass


def _session(path: Path, model: Any, **options: Any) -> Any:
    from engine.decode.generation import GenerationConfig
    from engine.inputs.prompt import load_tokenizer
    from engine.inputs.template import load_template
    from engine.session import Session, SessionOptions

    return Session(
        model,
        load_tokenizer(path),
        load_template(path),
        GenerationConfig.from_checkpoint(path),
        SessionOptions(**options),
    )


def load(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    _, seconds = _load(path)
    return {"load_s": seconds, "mx_active_after_load_gb": mx.get_active_memory() / 1e9}


def memory(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    from engine.decode.generation import GenerationConfig, generate_tokens

    model, seconds = _load(path)
    after_load = mx.get_active_memory() / 1e9
    cache = model.make_cache()
    ids = common.random_ids(params["prefill"])
    out = model(ids, cache=cache, logits_to_keep=1)
    mx.eval(out)
    _drain(
        generate_tokens(
            model,
            cache,
            out,
            settings=_settings(params["decode"]),
            config=GenerationConfig.from_checkpoint(path),
        )
    )
    return {"load_s": seconds, "mx_active_after_load_gb": after_load}


def prefill(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    model, _ = _load(path)
    _warm_up(model)
    n = params["tokens"]
    ids = common.random_ids(n, seed=1)
    start = time.perf_counter()
    _prefill(model, ids, model.make_cache())
    seconds = time.perf_counter() - start
    return {"tok_s": n / seconds, "seconds": seconds, "tokens": n}


def decode(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    from engine.decode.generation import GenerationConfig, generate_tokens

    model, _ = _load(path)
    if params.get("warmup", True):
        _warm_up(model)
    cache = model.make_cache()
    mx.eval(model(common.random_ids(1), cache=cache, logits_to_keep=1), [c.state for c in cache])
    common.fill_cache(cache, params["context"] - 2)
    logits = model(mx.array([[common.FIRST_ORDINARY_ID]]), cache=cache, logits_to_keep=1)
    times = []
    for _ in generate_tokens(
        model,
        cache,
        logits,
        settings=_settings(params["tokens"]),
        config=GenerationConfig.from_checkpoint(path),
    ):
        times.append(time.perf_counter())
    return {
        "tok_s": common.tokens_per_second(times),
        "step_s": common.gaps(times),
        "context": params["context"],
        "tokens": len(times),
    }


def image_embed(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    from engine.inputs.image import preprocess_image

    model, _ = _load(path)

    def run(size: int, budget: int) -> float:
        start = time.perf_counter()
        img = preprocess_image(common.test_image(size), budget)
        feats = model.embed_vision(
            model.vision_embedder(
                mx.array(img.pixel_values[None]), mx.array(img.position_ids[None])
            )
        )
        mx.eval(feats)
        return time.perf_counter() - start

    run(96, 70)  # warm-up on a small image
    return {"seconds": run(params["size"], 280)}


def audio_project(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    from engine.inputs.audio import frame_audio

    model, _ = _load(path)

    def run(seconds: float) -> float:
        start = time.perf_counter()
        frames, _ = frame_audio(common.test_audio(seconds))
        mx.eval(model.embed_audio(mx.array(frames[None])))
        return time.perf_counter() - start

    run(0.4)  # warm-up
    return {"seconds": run(params["seconds"]), "frames": int(np.ceil(params["seconds"] * 25))}


def ttft_image(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    model, _ = _load(path)
    _warm_up(model)
    session = _session(path, model, image_budget=params["budget"])
    content = [
        {"type": "image", "image": common.test_image(params["size"])},
        {"type": "text", "text": "Describe this picture."},
    ]
    seconds, event = _first_output(session.send(content, _settings(2)))
    return {
        "seconds": seconds,
        "first_event": event,
        "tokens": int(session.answer_marks[-1].offset),
    }


def voice(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    model, _ = _load(path)
    _warm_up(model)
    session = _session(path, model)
    audio = common.test_audio(params["seconds"])
    _drain(session.start_voice(_settings(2)))
    start = time.perf_counter()
    step = common.SAMPLE_RATE // 5  # audio arrives in 200 ms blocks, as from the microphone
    for i in range(0, len(audio), step):
        _drain(session.append_audio(audio[i : i + step]))
    streaming = time.perf_counter() - start
    seconds, event = _first_output(session.end_voice("", _settings(2)))
    return {
        "seconds": seconds,
        "first_event": event,
        "streaming_prefill_s": streaming,
        "realtime_factor": streaming / params["seconds"],
        "tokens": int(session.answer_marks[-1].offset),
    }


def turn(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    model, _ = _load(path)
    _warm_up(model)
    session = _session(path, model)
    words = " ".join(["word"] * params["words"])
    for _ in range(params["turns"] - 1):
        _drain(session.send(words, _settings(params["answer"])))
    seconds, event = _first_output(session.send(words, _settings(2)))
    ids = session.token_ids()[: session.answer_marks[-1].offset]
    start = time.perf_counter()
    _prefill(model, mx.array(ids[None]), model.make_cache())
    reprefill = time.perf_counter() - start
    return {
        "seconds": seconds,
        "first_event": event,
        "ttft_reprefill_s": reprefill,
        "reprefill_over_kept": reprefill / seconds,
        "tokens": len(ids),
        "new_tokens": int(len(ids) - session.turns[-1].offset),
    }


def drafter(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    try:
        from engine.loading import load_drafter
        from engine.decode.cache import CacheTransaction
        from engine.decode.sampling import Sampler
        from engine.decode.speculative import MTPDraftSource
    except ImportError as e:
        return {"skipped": f"engine.decode.speculative is not available: {e}"}
    if not (path / "drafter" / "config.json").is_file():
        return {
            "skipped": f"{path}/drafter holds no drafter (make-checkpoint --with-drafter writes one)"
        }
    model, _ = _load(path)
    draft_model = load_drafter(path / "drafter")
    _warm_up(model)
    k = params["num_draft"]
    cache = model.make_cache()
    hidden = model.hidden_states(common.random_ids(params["context"], seed=3), cache)
    logits = model.logits(hidden[:, -1:])
    mx.eval(logits, hidden, [c.state for c in cache])
    token = int(mx.argmax(logits[0, -1]).item())
    source = MTPDraftSource(model, draft_model)
    greedy = Sampler()  # temperature 0

    def verify() -> Any:
        tx = CacheTransaction(cache)
        h = model.hidden_states(mx.array([[token] + [common.FIRST_ORDINARY_ID] * k]), cache)
        out = (model.logits(h), h)
        mx.eval(out)
        tx.abort()
        return out

    verify_s = _median_seconds(verify)
    draft_s = _median_seconds(lambda: source.propose(token, hidden[:, -1], cache, 1, greedy))
    # Plain decode steps advance the cache (a single-token forward cannot be rolled back); 4 more positions
    # barely change the context.
    decode_s = _median_seconds(lambda: model(mx.array([[token]]), cache=cache, logits_to_keep=1))
    out = {
        "decode_ms": decode_s * 1e3,
        "verify_ms": verify_s * 1e3,
        "draft_ms": draft_s * 1e3,
        "verify_over_decode": verify_s / decode_s,
        "draft_over_decode": draft_s / decode_s,
        "num_draft": k,
        "context": params["context"],
    }
    for a in (0.5, 0.7, 0.9):
        emitted = (1 - a ** (k + 1)) / (
            1 - a
        )  # tokens per round when each draft is accepted with probability a
        out[f"speedup_a{a}"] = emitted * decode_s / (verify_s + k * draft_s)
    return out


def _median_seconds(fn: Callable[[], Any], repeats: int = 3) -> float:
    mx.eval(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        mx.eval(fn())
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def _read_recording(params: dict[str, Any]) -> tuple[Any, float, float]:
    """The screen recording read by `read_video`: (VideoInputs, seconds, growth of the RSS peak in GB)."""
    import av  # noqa: F401 -- imported before the timing, as a running app has it

    from engine.inputs.video import read_video

    from .screen_clip import screen_recording

    clip = screen_recording(params["seconds"], params["width"], params["height"], params["fps"])
    with common.RssGrowth() as growth:
        start = time.perf_counter()
        recording = read_video(clip, num_frames=params["frames"], sound=params["sound"])
        seconds = time.perf_counter() - start
    return recording, seconds, growth.gb


def video_preprocess(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    recording, seconds, rss = _read_recording(params)
    return {"seconds": seconds, "frames": len(recording.timestamps), "preprocess_rss_gb": rss}


def video(path: Path, params: dict[str, Any]) -> dict[str, Any]:
    recording, preprocess, preprocess_rss = _read_recording(params)
    model, _ = _load(path)
    _warm_up(model)
    session = _session(path, model)
    content = [{"type": "video", "video": recording}]
    content += [{"type": "audio", "audio": sound} for sound in recording.soundtrack_clips()]
    content.append({"type": "text", "text": "Why does the animation stutter?"})
    mx.reset_peak_memory()
    seconds, event = _first_output(session.send(content, _settings(2)))
    return {
        "seconds": preprocess + seconds,
        "preprocess_s": preprocess,
        "prefill_s": seconds,
        "first_event": event,
        "tokens": int(session.answer_marks[-1].offset),
        "frames": len(recording.timestamps),
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
    "drafter": drafter,
}
