"""Benchmark: from the answer's first token to the first spoken audio, sentence by sentence vs whole.

    python -m app.audio.bench.spoken_answer [--tokens-per-s 25] [--repeats 3]

A Markdown answer (about 110 words, with a code block) streams in at `--tokens-per-s` (about four
characters a token), as the engine sends it. "sentences": the app's `Speaker` gets every piece as
it arrives and speaks sentence by sentence. "whole": the earlier way, the whole answer rendered
by the system voice in one go once the text is complete, then played. Both play into the virtual
microphone's sink (started here when no audio server answers); the time is measured on the
microphone: from the first token to the first sample above -34 dBFS, counted in samples, so
the device's latency is in it. The end of speech to the first token is the engine's part
(docs/benchmarks.md) and adds the same to both. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Any

from app.audio.bench.virtual_mic import ensure_virtual_mic, first_loud_sample

CHARS_PER_TOKEN = 4
ANSWER = """Sure. Here is how to count the lines of every Python file in a folder.

Use `wc` with a glob, and let the shell expand it:

```bash
wc -l src/*.py | sort -n
```

The last line of the output is the total. If the folder has subfolders, use `find` instead, \
because the glob only looks one level deep. For a project with many files, the numbers get \
long, so sort them and read the biggest ones first. Would you like me to write a small script \
that does this for you, and prints the ten largest files?"""


def _stream(speaker: Any, recorder: Any, mode: str, rate: float) -> float:
    """Seconds from the first token to the first audio heard on the microphone."""
    from app.audio.tts import speakable

    recorder.drain()
    pieces = [ANSWER[i : i + CHARS_PER_TOKEN] for i in range(0, len(ANSWER), CHARS_PER_TOKEN)]
    began = time.monotonic()
    heard_before = recorder.samples_delivered  # the microphone's clock at the first token
    sent, first_audio, whole_started = 0, None, False
    deadline = began + 60
    while first_audio is None and time.monotonic() < deadline:
        due = min(len(pieces), int((time.monotonic() - began) * rate) + 1)
        if mode == "sentences":
            for piece in pieces[sent:due]:
                speaker.add_text(piece)
            if due == len(pieces) and sent < due:
                speaker.finish()
        elif due == len(pieces) and not whole_started:
            whole_started = True  # the earlier way: the whole answer in one render
            speaker.player.play(speaker.voice.render(speakable(ANSWER)))
        sent = due
        first_audio = first_loud_sample(recorder, heard_before)
        time.sleep(0.005)
    speaker.stop()
    time.sleep(0.3)
    if first_audio is None:
        raise SystemExit("no spoken audio reached the microphone within 60 s")
    return first_audio / 16_000


def bench(rate: float, repeats: int) -> dict[str, Any]:
    from app.audio.capture import Recorder
    from app.audio.tts import Speaker

    speaker = Speaker(enabled=True)
    recorder = Recorder()
    recorder.start()
    time.sleep(0.5)
    runs: dict[str, list[float]] = {"sentences": [], "whole": []}
    for _ in range(repeats):
        for mode in runs:
            runs[mode].append(_stream(speaker, recorder, mode, rate))
    recorder.stop()
    speaker.close()
    median = {mode: statistics.median(values) for mode, values in runs.items()}
    tokens = -(-len(ANSWER) // CHARS_PER_TOKEN)
    return {
        "benchmark": "spoken_answer",
        "tokens_per_s": rate,
        "answer_tokens": tokens,
        "answer_stream_s": round(tokens / rate, 2),
        "first_token_to_first_audio_s": {m: [round(v, 3) for v in vs] for m, vs in runs.items()},
        "median_s": {m: round(v, 3) for m, v in median.items()},
        "whole_over_sentences": round(median["whole"] / median["sentences"], 1),
        "machine": platform.platform(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens-per-s", type=float, default=25.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    stop = ensure_virtual_mic()
    try:
        print(json.dumps(bench(args.tokens_per_s, args.repeats), indent=2))
    finally:
        stop()


if __name__ == "__main__":
    main()
