"""Acoustic echo cancellation: Tandem's own voice taken out of the microphone, with WebRTC's AEC3.

When spoken answers play through speakers, the microphone hears them. `EchoCanceller.process(mic,
far)` takes the microphone's new samples and what the speaker played since the last call (the far
end, `Speaker.take_played()`), and returns the microphone with the echo of the far end removed
(about 30 dB less echo on a synthetic room; the person's own voice is kept). AEC3 comes from the
`pywebrtc-audio` package (WebRTC's audio-processing module); it finds the delay between the far end
and its echo by itself (the far end is taken when it is written to the device, so it always comes
before its echo).

Both streams run at 16 kHz. The far end is kept in a queue and paired with the microphone sample
for sample, newest with newest: far-end samples older than the microphone's new samples (plus
`SLACK`) are dropped, so a microphone that starts late or stalls never makes the far end lag
behind its echo, and the queue stays bounded. AEC3
works in 10 ms frames: samples that do not fill a frame wait for the next call, so the output can
lag the input by up to 10 ms (plus AEC3's own 8 ms); the total count of samples is kept.

While the voice plays (and `TAIL_S` after it, while the room still rings), frames that AEC3
took more than `RESIDUAL_DB` from are silenced: they held only Tandem's voice, and what AEC3 left
of it would still sound like speech to the detector (`barge_in` benchmark: 2 false barge-ins in
10 answers without this, 0 with it, 10/10 people still heard). Outside that time the
microphone passes as it is: `active` says which. `EchoUnavailable` says why AEC cannot run (the
package is missing); barge-in then needs a louder, longer onset (app.audio.barge_in).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.inputs.audio import SAMPLE_RATE  # the model's 16 kHz mono

FRAME = 160  # AEC3 works in 10 ms frames
SLACK = 1_600  # far-end samples kept beyond what the microphone needs now (100 ms)
TAIL_S = 0.5  # the echo (and the device's buffers) outlast the last played sample this long
RESIDUAL_DB = 12.0  # a frame the canceller took this much from was echo: it is silenced


class EchoUnavailable(Exception):
    """Echo cancellation cannot run here; the message says why, for a person."""


def barge_in_note() -> str:
    """One sentence for the settings: how barge-in works with speakers on this machine."""
    try:
        EchoCanceller()
    except EchoUnavailable:
        return (
            "No echo cancellation is available here, so while Tandem speaks through speakers, "
            "interrupt it by talking clearly louder than its voice for half a second, "
            "or use headphones."
        )
    return (
        "Tandem removes its own voice from the microphone (echo cancellation), so you can "
        "interrupt it through speakers as well as headphones."
    )


def suppress_residual(near: np.ndarray, cleaned: np.ndarray) -> np.ndarray:
    """Silence the 10 ms frames where the canceller took away more than `RESIDUAL_DB`.

    A person's voice passes AEC3 nearly whole, so their frames keep most of their level; frames
    that lost more than `RESIDUAL_DB` were Tandem's voice, and what is left of it (a dropout in
    the audio path makes AEC3 find the delay anew, leaving bursts of it for a second) is removed.
    """
    frames_in = near.reshape(-1, FRAME).astype(np.float64)
    frames_out = cleaned.reshape(-1, FRAME).astype(np.float64)
    energy_in = np.mean(frames_in**2, axis=1) + 1e-12
    energy_out = np.mean(frames_out**2, axis=1) + 1e-12
    echo = 10 * np.log10(energy_out / energy_in) < -RESIDUAL_DB
    out = cleaned.reshape(-1, FRAME).copy()
    out[echo] = 0.0
    return out.reshape(-1)


class EchoCanceller:
    """Removes the played far end from the microphone signal (16 kHz mono float32)."""

    def __init__(self) -> None:
        try:
            from pywebrtc_audio import EchoCanceller as Aec3
        except (ImportError, OSError) as exc:
            raise EchoUnavailable(
                f"the echo canceller (pywebrtc-audio) could not be loaded ({exc})"
            ) from exc
        self._aec: Any = Aec3(sample_rate=SAMPLE_RATE, num_channels=1)
        self._far = np.zeros(0, np.float32)
        self._mic = np.zeros(0, np.float32)  # microphone samples short of a whole frame
        self._last_far_at = -1  # microphone sample count when the far end was last loud
        self._fed = 0
        self.active = False

    def process(self, mic: np.ndarray, far: np.ndarray) -> np.ndarray:
        """The microphone's next samples with the echo of `far` removed while the voice plays.

        Args:
            mic: new microphone samples (16 kHz mono float32, any length).
            far: samples written to the speakers since the last call (any length).

        Returns:
            As many samples as whole 10 ms frames allow; the rest come with the next call.
        """
        mic = np.asarray(mic, np.float32).reshape(-1)
        far = np.asarray(far, np.float32).reshape(-1)
        if far.size and np.any(far):
            self._last_far_at = self._fed + mic.size
        self._mic = np.concatenate([self._mic, mic])
        self._fed += mic.size
        usable = self._mic.size // FRAME * FRAME
        self._far = np.concatenate([self._far, far])[-(usable + SLACK) :]
        if usable == 0:
            return np.zeros(0, np.float32)
        near, self._mic = self._mic[:usable], self._mic[usable:]
        paired = self._far[:usable]
        self._far = self._far[paired.size :]
        if paired.size < usable:
            paired = np.concatenate([paired, np.zeros(usable - paired.size, np.float32)])
        cleaned = np.asarray(self._aec.process(near, paired), np.float32)  # runs even when idle
        self.active = self._last_far_at >= 0 and (
            self._fed - self._last_far_at <= TAIL_S * SAMPLE_RATE
        )
        return suppress_residual(near, cleaned) if self.active else near

    def flush(self) -> np.ndarray:
        """The samples still waiting for a whole frame (the recording ends), as they came."""
        rest, self._mic = self._mic, np.zeros(0, np.float32)
        return rest
