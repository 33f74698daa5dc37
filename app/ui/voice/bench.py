"""Benchmark: time from the end of speech to the first answer token, for short and long utterances.

    python -m app.ui.voice.bench [--model DIR | --shape tiny|small] [--seconds 3 20] [--repeats 3]

Everything runs through the app's real path: espeak-ng speech is played into the virtual
microphone (a PulseAudio null sink, scripts/virtual_mic.sh, started here when no audio server is
reachable), recorded by `Recorder`, drained by the window's `VoiceController` on its timer and
prefilled by the real engine thread while it plays. The "key" is let go `--release-after` seconds
after paplay has played the last sample (the device's lag is about 0.1-0.3 s; the tail must be
captured). Measured on the GUI thread: from that release to the first answer event (TextDelta, or
TurnFinished when the first token ends the turn), split into the GUI's part (release to the
EndVoiceTurn submit: the WAV is encoded, hashed and stored, the message shown) and the engine's
(submit to first event). For comparison, the same recorded audio is then
sent as one message with no streaming (`SendMessage`), timed from the submit. Prints JSON with
each run, the median and the best run (the least disturbed on a shared machine), and the ratios.
The claim under test: the streamed figure does not grow with the length of the utterance.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
MIC_SCRIPT = REPO / "scripts" / "virtual_mic.sh"
TEXT = (
    "Tandem runs a language model on this computer, and it listens while you talk. "
    "Every forty milliseconds of your voice becomes one token, and the model reads it at once, "
    "so when you stop speaking only a few tokens are left to read before it answers. "
    "This sentence goes on for a while so that the recording is long enough for the test, "
    "and it keeps going with more words about the weather, the sea, the mountains and the city. "
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=None, help="checkpoint folder (default: a generated one)"
    )
    parser.add_argument("--shape", default="tiny", help="shape of the generated checkpoint")
    parser.add_argument("--seconds", type=float, nargs="+", default=[3.0, 20.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--release-after", type=float, default=0.3)
    parser.add_argument("--max-tokens", type=int, default=4)
    return parser.parse_args(argv)


def ensure_virtual_mic() -> Callable[[], None]:
    """Start a virtual microphone unless a PulseAudio server answers; returns how to stop it."""
    if (
        os.environ.get("XDG_RUNTIME_DIR")
        and subprocess.run(["pactl", "info"], capture_output=True, check=False).returncode == 0
    ):
        return lambda: None
    runtime = tempfile.mkdtemp(prefix="tandem-bench-xdg-")
    os.environ["XDG_RUNTIME_DIR"] = runtime
    os.environ.pop("PULSE_SERVER", None)
    subprocess.run(["bash", str(MIC_SCRIPT), "start"], check=True, capture_output=True, timeout=30)

    def stop() -> None:
        subprocess.run(
            ["bash", str(MIC_SCRIPT), "stop"], check=False, capture_output=True, timeout=30
        )
        shutil.rmtree(runtime, ignore_errors=True)

    return stop


def make_utterance(folder: Path, seconds: float) -> Path:
    """`seconds` of espeak-ng speech (16 kHz mono 16-bit); the voice runs to the very end."""
    import soundfile

    raw = folder / "speech22k.wav"
    if not raw.exists():
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(raw), TEXT * 2], check=True
        )
    full16 = folder / "speech16k.wav"
    if not full16.exists():
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(full16)], check=True
        )
    samples, rate = soundfile.read(full16, dtype="float32")
    need = int(seconds * rate)
    if samples.size < need:
        raise SystemExit(f"the speech is only {samples.size / rate:.1f} s long; ask for less")
    out = folder / f"utterance-{seconds:g}s.wav"
    soundfile.write(out, samples[:need], rate, subtype="PCM_16")
    return out


class Bench:
    def __init__(self, model: str, data: Path, max_tokens: int) -> None:
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from app.chat import ModelState
        from app.store import Store
        from app.ui.engine_bridge import EngineBridge
        from app.ui.main_window import MainWindow
        from app.ui.settings import Key, Settings
        from engine.worker import EngineWorker

        self.app = QApplication.instance() or QApplication([])
        self.store = Store(data)
        settings = Settings(QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat))
        settings.set_value(Key.MODEL_PATH, model)
        settings.set_value(Key.MAX_TOKENS, max_tokens)
        settings.set_value(Key.TEMPERATURE, 0.0)
        settings.set_value(Key.USE_DRAFTER, False)
        self.bridge = EngineBridge(EngineWorker)
        self.first: dict[int, float] = {}
        self.finished: set[int] = set()
        self.stats: dict[int, object] = {}
        self.submitted: dict[int, float] = {}
        self.bridge.event_received.connect(self._on_event)
        self.bridge.command_submitted.connect(
            lambda c: self.submitted.setdefault(c.request_id, time.perf_counter())
        )
        self.window = MainWindow(self.store, settings, self.bridge)
        self.window.show()
        self.window.start()
        loaded = (ModelState.READY, ModelState.FAILED)
        self.wait(lambda: self.window.controller.model_state in loaded, 600)
        if self.window.controller.model_state != ModelState.READY:
            raise SystemExit("the model could not be loaded")

    def _on_event(self, event) -> None:
        from engine import protocol as ev

        now = time.perf_counter()
        if isinstance(event, (ev.TextDelta, ev.ToolCallEvent, ev.ParseErrorEvent, ev.TurnFinished)):
            self.first.setdefault(event.request_id, now)
        if isinstance(event, ev.TurnStats):
            self.stats[event.request_id] = event
        if isinstance(event, (ev.TurnFinished, ev.ErrorEvent)):
            self.finished.add(event.request_id)

    def wait(self, done: Callable[[], bool], timeout: float) -> None:
        from PySide6.QtCore import QEventLoop

        loop = QEventLoop()
        deadline = time.perf_counter() + timeout
        while not done():
            if time.perf_counter() > deadline:
                raise TimeoutError("the benchmark waited too long")
            loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 2)
            time.sleep(0.001)

    def spoken_turn(self, wav: Path, release_after: float) -> dict:
        from app.audio import SAMPLE_RATE
        from app.ui.voice.controller import RecordingMode

        voice = self.window.voice_input
        controller = self.window.controller
        controller.new_conversation()
        if not voice.start_recording(RecordingMode.TOGGLE):
            raise SystemExit("cannot record: " + self.window.composer.error_label.text())
        recorder = voice.recorder
        self.wait(lambda: recorder.samples_delivered > 0.3 * SAMPLE_RATE, 10)
        player = subprocess.Popen(["paplay", "--device=vsink", str(wav)], stderr=subprocess.PIPE)
        self.wait(lambda: player.poll() is not None, 120)
        played = time.perf_counter()
        self.wait(lambda: time.perf_counter() - played >= release_after, 10)
        released = time.perf_counter()
        voice.stop_recording()
        conv = controller.current_id
        rid = controller.pending[conv].request_id
        self.wait(lambda: rid in self.finished, 300)
        stats = self.stats[rid]
        return {
            "from_release_ms": 1000 * (self.first[rid] - released),
            "from_playback_end_ms": 1000 * (self.first[rid] - played),
            "release_to_submit_ms": 1000 * (self.submitted[rid] - released),
            "submit_to_first_ms": 1000 * (self.first[rid] - self.submitted[rid]),
            "end_prefill_ms": 1000 * stats.prefill_seconds,
            "engine_first_token_ms": 1000 * stats.time_to_first_token,
            "prompt_tokens": stats.prompt_tokens,
            "recorded_s": recorder.elapsed(),
            "conversation": conv,
        }

    def one_shot_turn(self, conversation: str) -> float:
        """The same recorded audio sent as one message (no prefill while speaking)."""
        from engine import protocol as ev

        [wav] = self.store.messages(conversation)[0].attachments
        controller = self.window.controller
        controller.new_conversation()
        conv = controller.core.ensure_conversation()
        submitted = time.perf_counter()
        rid = self.bridge.submit(
            ev.SendMessage(
                session_id=conv,
                content=[{"type": "audio", "audio": str(wav.path)}],
                settings=self.window.settings.generation_settings(),
            )
        )
        self.wait(lambda: rid in self.finished, 300)
        return 1000 * (self.first[rid] - submitted)

    def close(self) -> None:
        from PySide6.QtCore import QCoreApplication, QEvent

        self.window.close()
        self.bridge.stop()
        self.store.close()
        self.window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for tool in ("espeak-ng", "sox", "paplay", "pulseaudio"):
        if shutil.which(tool) is None:
            raise SystemExit(f"the voice benchmark needs {tool}")
    stop_mic = ensure_virtual_mic()
    work = Path(tempfile.mkdtemp(prefix="tandem-voice-bench-"))
    try:
        model = args.model
        if model is None:
            from engine.checkpoint import make_checkpoint

            model = str(work / f"model-{args.shape}")
            make_checkpoint(Path(model), shape=args.shape, seed=0)
        wavs = {s: make_utterance(work, s) for s in args.seconds}
        data = work / "data"
        data.mkdir()
        bench = Bench(model, data, args.max_tokens)
        try:
            bench.spoken_turn(wavs[min(args.seconds)], args.release_after)  # warm-up
            results: dict[str, dict] = {}
            for _ in range(args.repeats):
                for seconds, wav in wavs.items():
                    turn = bench.spoken_turn(wav, args.release_after)
                    turn["one_shot_ms"] = bench.one_shot_turn(turn.pop("conversation"))
                    results.setdefault(f"{seconds:g}s", {"runs": []})["runs"].append(turn)
        finally:
            bench.close()
        for entry in results.values():
            runs = entry["runs"]
            for key in (
                "from_release_ms",
                "from_playback_end_ms",
                "release_to_submit_ms",
                "submit_to_first_ms",
                "one_shot_ms",
            ):
                entry[f"median_{key}"] = round(statistics.median(r[key] for r in runs), 1)
                entry[f"best_{key}"] = round(min(r[key] for r in runs), 1)  # least disturbed
            for r in runs:
                for key, value in r.items():
                    if isinstance(value, float):
                        r[key] = round(value, 3 if key == "recorded_s" else 1)
        short, long_ = (f"{s:g}s" for s in (min(args.seconds), max(args.seconds)))
        report = {
            "benchmark": "voice: end of speech to first answer token",
            "model": model if args.model else f"generated {args.shape} (random weights)",
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
            "release_after_s": args.release_after,
            "repeats": args.repeats,
            "results": results,
        }
        for stat in ("median", "best"):
            for name, key in (
                ("streamed", "from_release_ms"),
                ("engine_part", "submit_to_first_ms"),
                ("one_shot", "one_shot_ms"),
            ):
                report[f"ratio_long_over_short_{name}_{stat}"] = round(
                    results[long_][f"{stat}_{key}"] / results[short][f"{stat}_{key}"], 3
                )
        print(json.dumps(report, indent=2))
    finally:
        stop_mic()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
