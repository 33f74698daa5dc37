"""Speaker: off by default, speaks through a child process, and stops at once (barge-in)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from app.audio import tts
from app.audio.capture import SAMPLE_RATE, Recorder
from app.audio.tts import Speaker, speakable

SLOW_VOICE = "import shutil, sys, time; shutil.copy(sys.argv[2], sys.argv[1]); time.sleep(30)"


def _fake_voice(out: Path) -> list[str]:
    """A 'voice' that writes down what it was given, then talks for 30 s."""
    return [sys.executable, "-c", SLOW_VOICE, str(out)]


def _wait_for(path: Path) -> str:
    deadline = time.monotonic() + 10
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, "the voice process never started"
        time.sleep(0.01)
    return path.read_text()


def test_speakable_drops_code_and_markdown() -> None:
    answer = "## Result\nUse **`ls -la`** to list [files](https://x.y).\n```python\nprint(1)\n```\n- done, 3*4 in my_var"
    said = speakable(answer)
    assert "print(1)" not in said and "```" not in said and "**" not in said and "https" not in said
    assert "Use ls -la to list files." in said and "(code omitted)" in said and "Result" in said
    assert "3*4 in my_var" in said


def test_disabled_speaker_says_nothing(tmp_path: Path) -> None:
    speaker = Speaker(command=_fake_voice(tmp_path / "said.txt"))
    assert not speaker.enabled
    speaker.speak("hello")
    assert not speaker.speaking and not (tmp_path / "said.txt").exists()


def test_stop_kills_the_voice_at_once(tmp_path: Path) -> None:
    out = tmp_path / "said.txt"
    speaker = Speaker(enabled=True, command=_fake_voice(out))
    speaker.speak("-n Hello **there**")  # a leading dash is text, not an option
    assert _wait_for(out) == "-n Hello there"
    assert speaker.speaking
    text_file = speaker._text_file
    began = time.monotonic()
    speaker.stop()
    assert time.monotonic() - began < 0.5
    assert not speaker.speaking
    assert text_file is not None and not text_file.exists()


def test_new_answer_replaces_the_one_being_spoken(tmp_path: Path) -> None:
    first, second = tmp_path / "1.txt", tmp_path / "2.txt"
    speaker = Speaker(enabled=True, command=_fake_voice(first))
    speaker.speak("first answer")
    _wait_for(first)
    old = speaker._process
    speaker._command = _fake_voice(second)
    speaker.speak("second answer")
    assert old.poll() is not None  # the first voice was killed
    assert _wait_for(second) == "second answer"
    speaker.stop()


def test_enabled_without_a_system_voice_says_why(monkeypatch) -> None:
    monkeypatch.setattr(tts.shutil, "which", lambda name: None)
    speaker = Speaker(enabled=True)
    assert not speaker.available
    with pytest.raises(RuntimeError, match="no system voice"):
        speaker.speak("hello")


def test_espeak_voice_is_heard_by_the_microphone_and_stops_at_once(virtual_mic) -> None:
    speaker = Speaker(enabled=True)
    if not speaker.available:
        pytest.fail("espeak-ng is not installed (scripts/run-tests.sh installs it)")
    recorder = Recorder()
    recorder.start()
    speaker.speak("This sentence is long enough to still be playing when it is interrupted.")
    heard, deadline = [], time.monotonic() + 10
    while recorder.level().peak_dbfs < -30:
        heard.append(recorder.drain())
        assert time.monotonic() < deadline, "the voice never reached the virtual microphone"
        time.sleep(0.02)
    speaker.stop()
    time.sleep(0.3)  # what was already in the sink's buffers when the voice was killed
    recorder.drain()
    time.sleep(0.5)
    after = recorder.drain()
    recorder.stop()
    assert after.size >= 0.4 * SAMPLE_RATE
    assert np.max(np.abs(after)) == 0.0  # silence: the voice was killed, not left to finish
