"""Tandem's voice through the virtual sink into the microphone: with echo cancellation it opens no
turn; without it, it does (the whole path: Speaker -> SoundPlayer -> sink -> Recorder -> AEC3)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from app.audio.capture import Recorder
from app.audio.echo import EchoCanceller
from app.audio.silero_scorer import SileroScorer
from app.audio.tts import Speaker
from app.audio.turns import TurnSegmenter, TurnStarted
from app.audio.vad import VoiceActivityDetector

pytestmark = pytest.mark.timeout(60)
ANSWER = "The train leaves at nine fifteen from platform two. It takes forty minutes to the city."


def test_tandems_voice_heard_by_the_microphone_opens_no_turn_once_its_echo_is_cancelled(
    virtual_mic,
) -> None:
    speaker = Speaker(enabled=True)
    if not speaker.available:
        pytest.fail("espeak-ng is not installed (scripts/run-tests.sh installs it)")
    recorder = Recorder()
    recorder.start()
    ticks = []
    try:
        time.sleep(0.3)
        recorder.drain()
        speaker.take_played()
        speaker.speak(ANSWER)
        began = time.monotonic()
        while speaker.speaking or time.monotonic() - began < 1.0:
            assert time.monotonic() - began < 30, "the answer never finished"
            time.sleep(0.04)  # the window's drain tick
            ticks.append((recorder.drain(), speaker.take_played()))
        for _ in range(20):
            time.sleep(0.04)
            ticks.append((recorder.drain(), speaker.take_played()))
    finally:
        recorder.stop()
        speaker.close()
    heard = np.concatenate([mic for mic, _ in ticks])
    assert np.max(np.abs(heard)) > 0.1  # the microphone did hear the voice

    def turns(cancel: bool) -> int:
        echo = EchoCanceller() if cancel else None
        segmenter = TurnSegmenter(VoiceActivityDetector(0.7, scorer=SileroScorer()))
        started = 0
        for mic, played in ticks:
            samples = echo.process(mic, played) if echo is not None else mic
            started += sum(isinstance(e, TurnStarted) for e in segmenter.feed(samples))
        return started

    assert turns(cancel=False) >= 1  # the echo alone barges in
    assert turns(cancel=True) == 0
