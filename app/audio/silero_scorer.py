"""The learned speech scorer: Silero VAD's ONNX model run with onnxruntime (no torch).

The model (app/audio/models/silero_vad.onnx, MIT, from the silero-vad 6.2.3 wheel; its sha256 is
checked at load) takes 512 new samples at 16 kHz plus the 64 before them and a recurrent state,
and gives the probability that the window is speech. It tells a voice from a fan, a keyboard or a
pause between words, which the energy scorer cannot. One call costs about 0.1 ms on one thread.

`SileroUnavailable` says, in a sentence, why the model could not be loaded (no onnxruntime, a
missing or altered model file); the caller then falls back to the energy scorer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from engine.inputs.audio import SAMPLE_RATE  # the model's 16 kHz mono

MODEL_PATH = Path(__file__).resolve().parent / "models" / "silero_vad.onnx"
MODEL_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
FRAME = 512  # 32 ms at 16 kHz: the only window the 16 kHz model takes
CONTEXT = 64  # the model also sees the last 64 samples of the previous window
STATE_SHAPE = (2, 1, 128)  # the recurrent state carried from window to window
ONSET = 0.5  # Silero's own default threshold
HOLD = 0.35  # Silero's own end-of-speech threshold (threshold - 0.15)
LAG_S = 0.096  # the probability stays above HOLD about 3 windows after the voice stops


class SileroUnavailable(Exception):
    """The learned detector cannot run here; the message says why, for a person."""


class SileroScorer:
    """Speech probability of each 32 ms window, from Silero VAD.

    Args:
        model_path: the ONNX file; the bundled one when None (its checksum is checked).
    """

    name = "silero"
    frame = FRAME
    onset = ONSET
    hold = HOLD
    lag_s = LAG_S

    def __init__(self, model_path: Path | None = None) -> None:
        path = MODEL_PATH if model_path is None else Path(model_path)
        self._session = _open_session(path, check_sum=model_path is None)
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget the stream heard so far (a new recording)."""
        self._state = np.zeros(STATE_SHAPE, np.float32)
        self._window = np.zeros((1, CONTEXT + FRAME), np.float32)

    def score(self, frame: np.ndarray) -> float:
        if frame.shape != (FRAME,):
            raise ValueError(f"the Silero model takes {FRAME} samples at a time, not {frame.shape}")
        window = self._window
        window[0, :CONTEXT] = window[0, -CONTEXT:]
        window[0, CONTEXT:] = frame
        probability, self._state = self._session.run(
            None, {"input": window, "state": self._state, "sr": self._sr}
        )
        return float(probability[0, 0])


def _open_session(path: Path, check_sum: bool) -> Any:
    try:
        import onnxruntime
    except (ImportError, OSError) as exc:
        raise SileroUnavailable(
            f"the onnxruntime package could not be loaded ({exc}); reinstall Tandem"
        ) from exc
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SileroUnavailable(
            f"the voice detector's model {path.name} could not be read; reinstall Tandem"
        ) from exc
    if check_sum and hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        raise SileroUnavailable(
            f"the voice detector's model {path.name} is damaged; reinstall Tandem"
        )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # one 32 ms window is far too small to share out
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the model's unused initialisers are not worth a warning
    try:
        return onnxruntime.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors for a bad model
        raise SileroUnavailable(
            f"the voice detector's model {path.name} could not be loaded; reinstall Tandem"
        ) from exc
