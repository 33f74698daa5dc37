"""A spoken turn through the window, the virtual microphone and the REAL engine thread (tiny checkpoint).

The audio is prefilled while it is recorded (AppendAudio commands as the drain timer runs). The
session that results must equal a fresh session fed the same samples in one message: same tokens,
same audio frames, the same logits for the answer's first token, the same greedy answer.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest_voice import best_lag
from PySide6.QtCore import QSettings

from app.chat import ModelState
from app.store import Store
from app.ui.engine_bridge import EngineBridge
from app.ui.settings import Key, Settings
from app.ui.voice.controller import RecordingMode
from engine import protocol as ev

pytest.importorskip("mlx.core")

@pytest.fixture(scope="session")
def spoken(speech_wav, speech):
    return speech_wav, speech


pytestmark = pytest.mark.timeout(180)


def _assert_close(a, b, rtol: float = 1e-4) -> None:
    a, b = np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)
    assert err < rtol, f"relative error {err:.2e}"
    assert (a.argmax(-1) == b.argmax(-1)).all()


def test_streamed_voice_prefill_equals_one_shot_prefill(
    qtbot, tiny_checkpoint, data_dir, virtual_mic, spoken
):
    from app.ui.main_window import MainWindow
    from engine.session import Session, SessionOptions
    from engine.worker import EngineWorker

    wav, speech = spoken
    store = Store(data_dir)
    settings = Settings(QSettings(str(data_dir / "s.ini"), QSettings.Format.IniFormat))
    settings.set_value(Key.MODEL_PATH, str(tiny_checkpoint))
    settings.set_value(Key.MAX_TOKENS, 4)
    settings.set_value(Key.TEMPERATURE, 0.0)
    settings.set_value(Key.USE_DRAFTER, False)
    bridge = EngineBridge(EngineWorker)
    sent: list[np.ndarray] = []
    bridge.command_submitted.connect(
        lambda c: sent.append(c.samples) if isinstance(c, ev.AppendAudio) else None
    )
    errors: list[str] = []
    bridge.error_raised.connect(lambda e: errors.append(f"{e.message} {e.detail}"))
    window = MainWindow(store, settings, bridge)
    qtbot.addWidget(window)
    window.show()
    window.start()
    try:
        qtbot.waitUntil(lambda: window.controller.model_state is ModelState.READY, timeout=60000)
        window.voice_input.check_microphone(rescan=True)
        started = window.voice_input.start_recording(RecordingMode.TOGGLE)
        assert started, window.composer.error_label.text()
        recorder = window.voice_input.recorder
        qtbot.waitUntil(lambda: recorder.samples_delivered > 0.3 * 16_000, timeout=10000)
        player = virtual_mic.play(wav)
        qtbot.waitUntil(lambda: player.poll() is not None, timeout=20000)
        qtbot.wait(500)
        window.voice_input.stop_recording()
        conv = window.controller.current_id
        qtbot.waitUntil(
            lambda: (
                window.chat_view.last().role == "assistant"
                and window.chat_view.last().finish_reason in ("stop", "length")
            ),
            timeout=60000,
        )
        qtbot.waitUntil(lambda: store.session_cache_path(conv).exists(), timeout=30000)
    finally:
        window.close()
        bridge.stop()  # joins the engine thread: its session can be read here now
        store.close()
    assert errors == []
    samples = np.concatenate(sent)
    lag, r = best_lag(samples, speech)
    assert r > 0.99 and lag > 0, (lag, r)
    assert len(sent) > 10  # streamed in many small pieces while recording

    worker = bridge.worker
    streamed = worker.sessions[conv]
    m = worker.loaded
    one_shot = Session(m.model, m.tokenizer, m.template, m.gen_config, SessionOptions())
    greedy = settings.generation_settings()
    events = list(one_shot.send([{"type": "audio", "audio": samples}], greedy))
    assert isinstance(events[-1], ev.TurnFinished)

    assert streamed.token_ids().tolist() == one_shot.token_ids().tolist()
    frames = np.concatenate(
        [s.input_features[0] for s in streamed.segments if s.input_features is not None]
    )
    padded = np.zeros(frames.size, np.float32)
    padded[: samples.size] = samples
    np.testing.assert_array_equal(frames.reshape(-1), padded)  # every sample, in order, once
    _assert_close(
        streamed.answer_marks[-1].last_logits[:, -1], one_shot.answer_marks[-1].last_logits[:, -1]
    )
    assert streamed.segments[-1].ids.tolist() == one_shot.segments[-1].ids.tolist()  # greedy answer
