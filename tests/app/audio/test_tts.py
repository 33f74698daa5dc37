"""Speaker: sentence by sentence as the answer streams, stopped at once (barge-in), failures said."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.audio import tts
from app.audio.capture import SAMPLE_RATE, Recorder
from app.audio.tts import Speaker, SystemVoice, speakable
from fake_player import FakePlayer

# A "system voice" that writes 0.1 s of tone per word to the WAV, after `delay` seconds of thinking.
RENDER = """
import sys, time, numpy as np, soundfile
text, wav, delay, log = open(sys.argv[1]).read(), sys.argv[2], float(sys.argv[3]), sys.argv[4]
open(log, "a").write(text + "\\n")
time.sleep(delay)
n = int(0.1 * 22050 * len(text.split()))
soundfile.write(wav, 0.3 * np.sin(np.arange(n) * 0.1), 22050)
"""


def _voice(tmp_path: Path, delay: float = 0.0) -> SystemVoice:
    return SystemVoice([sys.executable, "-c", RENDER, "{text}", "{wav}", str(delay),
                        str(tmp_path / "rendered.txt")])


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_speakable_drops_code_and_markdown() -> None:
    answer = "## Result\nUse **`ls -la`** to list [files](https://x.y).\n```python\nprint(1)\n```\n- done, 3*4 in my_var"
    said = speakable(answer)
    assert "print(1)" not in said and "```" not in said and "**" not in said and "https" not in said
    assert said == "Result Use ls -la to list files. done, 3*4 in my_var"


def test_the_first_sentence_is_heard_before_the_answer_is_complete(tmp_path: Path) -> None:
    player = FakePlayer()
    speaker = Speaker(enabled=True, voice=_voice(tmp_path), player=player)
    speaker.add_text("The first sentence is")
    speaker.add_text(" short. The second")
    _wait(lambda: player.played)  # said while the answer is still streaming
    assert speaker.sentences_said == ["The first sentence is short."]
    assert player.played[0][1].size == int(0.1 * 5 * 22050) * SAMPLE_RATE // 22050
    speaker.add_text(" one has code:\n```\nrm -rf /tmp/x. Now!\n```\nDone")
    speaker.finish()
    _wait(lambda: not speaker.speaking)
    assert speaker.sentences_said == [
        "The first sentence is short.", "The second one has code:", "Done"
    ]
    assert "rm -rf" not in (tmp_path / "rendered.txt").read_text()


def test_stop_while_a_sentence_renders_kills_it_and_says_nothing_more(tmp_path: Path) -> None:
    player = FakePlayer()
    speaker = Speaker(enabled=True, voice=_voice(tmp_path, delay=30), player=player)
    speaker.add_text("A sentence that takes long to render. And another one. ")
    _wait(lambda: speaker.voice._process is not None)
    process = speaker.voice._process
    began = time.monotonic()
    speaker.stop()
    assert time.monotonic() - began < 1.0
    assert process.poll() is not None  # killed, not left to finish
    assert not speaker.speaking and player.played == []


def test_stop_while_speaking_silences_the_player_and_drops_the_rest(tmp_path: Path) -> None:
    player = FakePlayer()
    speaker = Speaker(enabled=True, voice=_voice(tmp_path), player=player)
    speaker.add_text("One two three four five six seven eight nine ten. " * 3)
    _wait(lambda: player.played)
    stops = player.stops
    speaker.stop()
    assert player.stops > stops and not speaker.speaking
    played = len(player.played)
    time.sleep(0.3)
    assert len(player.played) == played  # nothing left from the stopped answer comes back


def test_a_new_answer_replaces_the_one_being_spoken(tmp_path: Path) -> None:
    player = FakePlayer()
    speaker = Speaker(enabled=True, voice=_voice(tmp_path), player=player)
    speaker.speak("First answer here. " * 5)
    _wait(lambda: player.played)
    speaker.speak("Second answer.")
    _wait(lambda: not speaker.speaking)
    assert speaker.sentences_said == ["Second answer."]


def test_disabled_speaker_says_nothing(tmp_path: Path) -> None:
    player = FakePlayer()
    speaker = Speaker(voice=_voice(tmp_path), player=player)
    assert not speaker.enabled
    speaker.speak("hello.")
    assert not speaker.speaking and not (tmp_path / "rendered.txt").exists()


def test_without_a_system_voice_the_failure_is_said(monkeypatch) -> None:
    monkeypatch.setattr(tts.shutil, "which", lambda name: None)
    said, done = [], threading.Event()
    speaker = Speaker(enabled=True, player=FakePlayer(),
                      on_error=lambda m: (said.append(m), done.set()))
    assert not speaker.available
    speaker.speak("hello.")
    assert done.wait(10)
    assert said == [tts.no_voice_message()] and "no system voice was found" in said[0]


def test_a_failing_voice_is_said_in_a_sentence(tmp_path: Path) -> None:
    said, done = [], threading.Event()
    voice = SystemVoice([sys.executable, "-c", "import sys; sys.exit('espeak: no voice data')"])
    speaker = Speaker(enabled=True, voice=voice, player=FakePlayer(),
                      on_error=lambda m: (said.append(m), done.set()))
    speaker.speak("hello.")
    assert done.wait(10)
    assert said[0].startswith("The system voice failed") and "no voice data" in said[0]


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
    played = speaker.take_played()
    assert played.size > 0 and np.max(np.abs(played)) > 0.03  # the echo reference is kept
    speaker.stop()
    time.sleep(0.3)  # what was already in the sink's buffers when the voice was stopped
    recorder.drain()
    time.sleep(0.5)
    after = recorder.drain()
    recorder.stop()
    speaker.close()
    assert after.size >= 0.4 * SAMPLE_RATE
    assert np.max(np.abs(after)) == 0.0  # silence: the voice was stopped, not left to finish
