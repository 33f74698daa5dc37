"""The fallback speech scorer: frame energy against an adaptive noise floor (no model).

Each 20 ms frame's energy (dBFS) is compared with the quietest frame of the last 2 s ("minimum
statistics"). Pauses between words keep the floor down while someone talks; a room that gets
louder for good (a fan) raises it within 2 s, so such noise never holds a turn open. The score is
how far the frame is above that floor, in dB; frames quieter than `min_speech_dbfs` score -inf,
so near-digital silence never counts. It cannot tell a voice from a keyboard or a door: that is
what the learned scorer (app.audio.silero_scorer) is for.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

FRAME = 320  # 20 ms at 16 kHz: the scorer's time step
ONSET_DB = 12.0  # a voiced frame is this far above the noise floor
HOLD_DB = 6.0  # inside a turn, soft speech only needs to clear this
MIN_SPEECH_DBFS = -55.0  # quieter than this is never speech, whatever the floor
FLOOR_WINDOW = 100  # 2 s of 20 ms frames: longer than any pause-free stretch of speech
ENERGY_FLOOR = 1e-12  # keeps log10 finite for exact zeros (-120 dBFS)


class EnergyScorer:
    """Scores 20 ms frames by their energy above the recent noise floor (dB).

    Args:
        onset_db: how far above the noise floor a frame must be to start speech.
        hold_db: how far above the noise floor a frame must be to continue speech.
        min_speech_dbfs: absolute level below which a frame is never voiced.
    """

    name = "energy"
    frame = FRAME
    lag_s = 0.0  # the energy falls with the voice

    def __init__(
        self,
        onset_db: float = ONSET_DB,
        hold_db: float = HOLD_DB,
        min_speech_dbfs: float = MIN_SPEECH_DBFS,
    ) -> None:
        if hold_db > onset_db:
            raise ValueError(f"hold_db ({hold_db}) must not exceed onset_db ({onset_db})")
        self.onset, self.hold = onset_db, hold_db
        self.min_speech_dbfs = min_speech_dbfs
        self._recent_db: deque[float] = deque(maxlen=FLOOR_WINDOW)

    def score(self, frame: np.ndarray) -> float:
        energy = float(np.mean(np.square(frame, dtype=np.float64)))
        db = 10.0 * math.log10(max(energy, ENERGY_FLOOR))
        floor = self.noise_floor_dbfs
        self._recent_db.append(db)
        if floor is None or db < self.min_speech_dbfs:
            return -math.inf
        return db - floor

    @property
    def noise_floor_dbfs(self) -> float | None:
        """The quietest frame energy of the last 2 s; None before the first frame."""
        return min(self._recent_db) if self._recent_db else None
