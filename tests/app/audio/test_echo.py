"""EchoCanceller (WebRTC AEC3) on a synthetic echo: the echo drops, the person's voice stays."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

from app.audio.bench import scenes
from app.audio.echo import RESIDUAL_DB, SLACK, EchoCanceller, EchoUnavailable, suppress_residual

RATE = 16_000
CHUNK = 640  # the app drains the microphone every 40 ms

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def _db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20)


def _room(far: np.ndarray) -> np.ndarray:
    """The far end as a microphone hears it from a speaker: 120 ms late, -6 dB, one reflection."""
    echo = np.zeros_like(far)
    delay = int(0.12 * RATE)
    echo[delay:] += 0.5 * far[:-delay]
    echo[delay + 400 :] += 0.2 * far[: -(delay + 400)]
    return echo


def _best_corr(out: np.ndarray, ref: np.ndarray, max_lag: int = 400) -> float:
    best = -1.0
    for lag in range(0, max_lag, 8):  # AEC3's output lags its input by a few ms
        best = max(best, float(np.corrcoef(out[lag:], ref[: ref.size - lag])[0, 1]))
    return best


def _process(mic: np.ndarray, far: np.ndarray) -> np.ndarray:
    aec = EchoCanceller()
    out = [aec.process(mic[i : i + CHUNK], far[i : i + CHUNK]) for i in range(0, mic.size, CHUNK)]
    return np.concatenate([*out, aec.flush()])


@pytest.fixture(scope="module")
def scene():
    said = scenes.espeak("This is Tandem answering through the loudspeaker of the laptop, at length.")
    person = scenes.espeak("Stop please, I want to ask something else")
    n = said.size + person.size + 2 * RATE
    far = np.zeros(n, np.float32)
    far[: said.size] = said
    near = np.zeros(n, np.float32)
    at = said.size + RATE  # the person speaks after the answer (near end alone)
    near[at : at + person.size] = 0.5 * person
    rng = np.random.default_rng(0)
    mic = (_room(far) + near + 1e-3 * rng.standard_normal(n)).astype(np.float32)
    return far, near, mic, said.size, (at, at + person.size)


def test_the_echo_drops_by_25_db_and_the_voice_after_it_is_kept(scene) -> None:
    far, near, mic, said_end, (p0, p1) = scene
    out = _process(mic, far)
    assert out.size == mic.size  # every sample comes back, in order
    s, e = RATE, said_end  # after a second to converge, while Tandem speaks alone
    drop = _db(mic[s:e]) - _db(out[s:e])
    assert drop >= 25, f"the echo dropped by only {drop:.1f} dB"
    assert abs(_db(out[p0:p1]) - _db(near[p0:p1])) < 2.0
    assert _best_corr(out[p0:p1], near[p0:p1]) > 0.9


def test_the_voice_over_the_echo_is_kept(scene) -> None:
    far, _, _, said_end, _ = scene
    person = scenes.espeak("Wait, that is not what I asked")
    near = np.zeros_like(far)
    at = said_end // 2
    near[at : at + person.size] = 0.5 * person
    mic = (_room(far) + near).astype(np.float32)
    out = _process(mic, far)
    span = slice(at, at + person.size)
    assert _best_corr(out[span], near[span]) > 0.6  # double talk: the person stays audible
    assert _db(out[span]) > _db(near[span]) - 6


def test_with_nothing_played_the_microphone_passes_unchanged(scene) -> None:
    _, near, _, _, _ = scene
    aec = EchoCanceller()
    out = []
    for size in (37, 640, 1000, 159, 3):
        out.append(aec.process(near[: size], np.zeros(0, np.float32)))
        near = near[size:]
        assert not aec.active
    out.append(aec.flush())
    np.testing.assert_array_equal(np.concatenate(out), scene[1][: 37 + 640 + 1000 + 159 + 3])


def test_far_end_older_than_the_microphone_is_dropped() -> None:
    aec = EchoCanceller()
    aec.process(np.zeros(0, np.float32), np.ones(5 * RATE, np.float32))  # the mic starts late
    assert aec._far.size <= SLACK
    aec.process(np.zeros(640, np.float32), np.ones(640, np.float32))
    assert aec._far.size <= SLACK


def test_without_the_package_it_says_why(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pywebrtc_audio", None)
    with pytest.raises(EchoUnavailable, match="echo canceller"):
        EchoCanceller()


def test_frames_that_were_mostly_echo_are_silenced_and_a_voice_is_kept() -> None:
    """After a dropout in the audio path AEC3 looks for the delay anew and leaves part of the echo
    for a second (seen on the virtual sink: 2 false barge-ins in 10 answers); frames it took more
    than RESIDUAL_DB from held only echo and are silenced, frames a person speaks in are not."""
    rng = np.random.default_rng(1)
    echo = (0.1 * rng.standard_normal(2 * RATE)).astype(np.float32)
    person = np.zeros_like(echo)
    person[RATE:] = 0.1 * rng.standard_normal(RATE)
    near = echo + person
    leftover = 10 ** (-(RESIDUAL_DB + 3) / 20) * echo  # what AEC3 left of the echo
    out = suppress_residual(near, leftover + person)
    assert not np.any(out[:RATE])  # echo only: silenced
    np.testing.assert_array_equal(out[RATE:], (leftover + person)[RATE:])  # the person: kept
    kept = suppress_residual(near, 10 ** (-(RESIDUAL_DB - 3) / 20) * near)
    assert np.all(kept != 0)  # a canceller that took less than RESIDUAL_DB: a voice, kept


def test_while_the_voice_plays_the_canceller_silences_what_was_mostly_echo() -> None:
    class LeavesAFifth:  # an AEC3 that removes only 14 dB: what it leaves is echo
        def process(self, near, far):
            return 0.2 * near

    aec = EchoCanceller()
    aec._aec = LeavesAFifth()
    mic = (0.1 * np.random.default_rng(2).standard_normal(4 * CHUNK)).astype(np.float32)
    assert np.array_equal(aec.process(mic[:CHUNK], np.zeros(CHUNK, np.float32)), mic[:CHUNK])
    out = aec.process(mic[CHUNK:], np.full(3 * CHUNK, 0.3, np.float32))  # the voice plays
    assert aec.active and not np.any(out)
