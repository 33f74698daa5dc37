"""Time to first token through the API: a fresh conversation against one that extends a kept cache.

`python -m engine.server.bench --model M [--words N] [--repeats R]` starts its own engine and server
on a free loopback port, then for each repeat sends (1) a fresh conversation whose first user turn is
about N words, and (2) a short follow-up that extends it, both streamed and greedy, and measures the
time from sending each request to its first content chunk. It prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time


def _ttft(client, messages, max_tokens: int) -> tuple[float, str, object]:
    started = time.perf_counter()
    first, text, usage = None, [], None
    for chunk in client.chat.completions.create(
        model="m",
        messages=messages,
        stream=True,
        temperature=0,
        max_tokens=max_tokens,
        stream_options={"include_usage": True},
    ):
        if chunk.choices and chunk.choices[0].delta.content and first is None:
            first = time.perf_counter() - started
        if chunk.choices:
            text.append(chunk.choices[0].delta.content or "")
        if chunk.usage:
            usage = chunk.usage
    return (first if first is not None else time.perf_counter() - started), "".join(text), usage


def main(argv: list[str] | None = None) -> int:
    import openai

    from engine import protocol as ev
    from engine.server.event_router import EventRouter
    from engine.server.server import start_server
    from engine.worker import EngineWorker

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--words", type=int, default=1500)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-tokens", type=int, default=8)
    args = p.parse_args(argv)

    router, loaded = EventRouter(), threading.Event()

    def on_event(event):
        if isinstance(event, (ev.ModelLoaded, ev.ErrorEvent)) and not event.session_id:
            loaded.set()
        router.on_event(event)

    worker = EngineWorker(on_event)
    worker.start()
    worker.submit(ev.LoadModel(path=args.model))
    loaded.wait()
    handle = start_server(worker, "127.0.0.1", 0, None, router=router)
    client = openai.OpenAI(base_url=handle.url + "/v1", api_key="none", max_retries=0)
    fresh, extend, rows = [], [], []
    try:
        _ttft(client, [{"role": "user", "content": "warm up"}], 2)
        for r in range(args.repeats):
            long_turn = " ".join(f"w{r}x{i}" for i in range(args.words))
            first = [{"role": "user", "content": long_turn}]
            t1, text, u1 = _ttft(client, first, args.max_tokens)
            follow = first + [
                {"role": "assistant", "content": text},
                {"role": "user", "content": "And then?"},
            ]
            t2, _, u2 = _ttft(client, follow, args.max_tokens)
            fresh.append(t1)
            extend.append(t2)
            rows.append(
                {
                    "fresh_prompt_tokens": u1.prompt_tokens,
                    "extend_prompt_tokens": u2.prompt_tokens,
                    "extend_cached_tokens": u2.prompt_tokens_details.cached_tokens,
                    "fresh_ttft_s": round(t1, 4),
                    "extend_ttft_s": round(t2, 4),
                }
            )
    finally:
        handle.stop()
        worker.stop()
    out = {
        "model": router.model_name,
        "words": args.words,
        "runs": rows,
        "fresh_ttft_median_s": round(statistics.median(fresh), 4),
        "extend_ttft_median_s": round(statistics.median(extend), 4),
        "speedup": round(statistics.median(fresh) / max(statistics.median(extend), 1e-9), 2),
    }
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
