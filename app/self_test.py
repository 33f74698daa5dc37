"""`Tandem --self-test`: prove that an installed Tandem (a bundle or a checkout) runs end to end.

`run_self_test()` writes a tiny random-weight checkpoint into a temporary folder, loads it through
the real engine thread (`EngineWorker` with `LoadModel`, `OpenSession`, `SendMessage`), answers one
prompt greedily and prints the answer. If `app.ui` imports, it then builds the main window once
(offscreen unless `QT_QPA_PLATFORM` says otherwise) over a throwaway data folder and closes it.
It returns 0 when every step worked, 1 with a message on stderr when one did not. It never reads
or writes the user's own conversations, settings or models.
"""

from __future__ import annotations

import os
import queue
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

PROMPT = "Say hello in one word."
ANSWER_TOKENS = 8
STEP_TIMEOUT_S = 300.0  # a cold start on a slow, busy machine; the tiny model takes seconds


class SelfTestError(Exception):
    """One step of the self-test failed; the message says which and why."""


def run_self_test(out: TextIO | None = None) -> int:
    """Run every step; print progress to `out` (stdout) and the failure, if any, to stderr.

    Returns:
        0 when the engine answered and the window (if `app.ui` is present) was built, else 1.
    """
    out = out or sys.stdout
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="tandem-self-test-"))
    try:
        checkpoint = _write_checkpoint(tmp / "checkpoint", out)
        answer = _answer_one_prompt(checkpoint, out)
        print(f"self-test: answer: {answer!r} (random weights, so any text is right)",
              file=out, flush=True)
        _check_voice(out)
        _build_window(tmp / "data", out)
    except SelfTestError as exc:
        print(f"self-test: FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # noqa: BLE001 - an unexpected failure fails the test, with its cause
        import traceback

        traceback.print_exc()
        print(f"self-test: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"self-test: OK in {time.perf_counter() - started:.1f} s", file=out, flush=True)
    return 0


def _write_checkpoint(folder: Path, out: TextIO) -> Path:
    from engine.checkpoint import make_checkpoint

    path = make_checkpoint(folder, shape="tiny")
    print(f"self-test: wrote a tiny random-weight checkpoint to {path}", file=out, flush=True)
    return path


def _answer_one_prompt(checkpoint: Path, out: TextIO) -> str:
    """Load `checkpoint` on the engine thread, answer `PROMPT` and return the answer text."""
    from engine import protocol as ev
    from engine.worker import EngineWorker

    events: queue.SimpleQueue[ev.Event] = queue.SimpleQueue()
    worker = EngineWorker(events.put)
    worker.start()
    try:
        load = worker.submit(ev.LoadModel(path=str(checkpoint)))
        loaded = _wait_for(worker, events, load, ev.ModelLoaded, "loading the model")
        print(f"self-test: engine loaded {loaded.name!r} "
              f"(random weights: {loaded.random_weights})", file=out, flush=True)
        worker.submit(ev.OpenSession(session_id="self-test"))
        settings = ev.GenerationSettings(temperature=0.0, max_tokens=ANSWER_TOKENS,
                                         use_drafter=False)
        send = worker.submit(ev.SendMessage(session_id="self-test", content=PROMPT,
                                            settings=settings))
        pieces: list[str] = []
        stats: list[ev.TurnStats] = []
        finished = _wait_for(worker, events, send, ev.TurnFinished, "answering the prompt",
                             on_other=lambda e: _collect(e, pieces, stats))
    finally:
        worker.stop()
    if finished.reason not in ("stop", "length"):
        raise SelfTestError(f"the turn ended with reason {finished.reason!r}")
    generated = stats[-1].generated_tokens if stats else len(pieces)
    if generated < 1:
        raise SelfTestError("the engine finished the turn without generating a token")
    print(f"self-test: engine generated {generated} token(s) for {PROMPT!r}", file=out, flush=True)
    return finished.text or "".join(pieces)


def _collect(event: object, pieces: list[str], stats: list) -> None:
    from engine import protocol as ev

    if isinstance(event, ev.TextDelta) and event.channel == "answer":
        pieces.append(event.text)
    elif isinstance(event, ev.TurnStats):
        stats.append(event)


def _wait_for(worker, events: queue.SimpleQueue, request_id: int, kind: type, doing: str,
              on_other=None):
    """The first event of `kind` answering `request_id`.

    An `ErrorEvent`, a timeout or an engine thread that died (its traceback is on stderr) fails.
    """
    from engine import protocol as ev

    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SelfTestError(f"no answer from the engine after {STEP_TIMEOUT_S:.0f} s {doing}")
        try:
            event = events.get(timeout=min(left, 0.5))
        except queue.Empty:
            if not worker.alive:
                raise SelfTestError(f"the engine thread stopped while {doing} (see the traceback "
                                    "above)") from None
            continue
        if isinstance(event, ev.ErrorEvent):
            detail = f"\n{event.detail}" if event.detail else ""
            raise SelfTestError(f"the engine failed {doing}: {event.message}{detail}")
        if event.request_id == request_id and isinstance(event, kind):
            return event
        if on_other is not None:
            on_other(event)


def _check_voice(out: TextIO) -> None:
    """The learned voice detector and the echo canceller load (their native libraries and model)."""
    import numpy as np

    from app.audio.echo import EchoCanceller, EchoUnavailable
    from app.audio.silero_scorer import FRAME, SileroScorer, SileroUnavailable

    try:
        probability = SileroScorer().score(np.zeros(FRAME, np.float32))
        cleaned = EchoCanceller().process(np.zeros(640, np.float32), np.zeros(640, np.float32))
    except (SileroUnavailable, EchoUnavailable) as exc:
        raise SelfTestError(f"voice: {exc}") from exc
    print(f"self-test: voice detector and echo canceller run (silence scores {probability:.3f}, "
          f"{cleaned.size} samples through the echo canceller)", file=out, flush=True)


def _build_window(data: Path, out: TextIO) -> None:
    """Build and close the main window over a throwaway data folder, if the GUI is installed.

    Only an absent `app.ui` skips this step; a GUI that is there but fails to import (a missing Qt
    library in a bundle) fails the self-test.
    """
    try:
        import app.ui.main_window  # noqa: F401 - only whether it imports matters here
    except ModuleNotFoundError as exc:
        if exc.name not in ("app.ui", "app.ui.main_window"):
            raise SelfTestError(f"the window does not import: {exc}") from exc
        print(f"self-test: no window check ({exc})", file=out, flush=True)
        return
    except ImportError as exc:
        raise SelfTestError(f"the window does not import: {exc}") from exc
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.store import Store
    from app.ui.engine_bridge import EngineBridge
    from app.ui.main_window import MainWindow
    from app.ui.settings import Settings
    from engine.worker import EngineWorker

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    data.mkdir(parents=True, exist_ok=True)
    store = Store(data)
    settings = Settings(QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat))
    bridge = EngineBridge(EngineWorker)  # never started: the engine was checked above
    try:
        window = MainWindow(store, settings, bridge)
        window.show()
        qt_app.processEvents()
        title = window.windowTitle()
        window.close()
        qt_app.processEvents()
        window.deleteLater()
    finally:
        bridge.stop()
        store.close()
    print(f"self-test: built the main window {title!r} on the "
          f"{qt_app.platformName()!r} platform", file=out, flush=True)
