"""The learned scorer (Silero VAD via onnxruntime) in the turn logic, on espeak-ng speech and noise."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

from app.audio import silero_scorer
from app.audio.bench import scenes
from app.audio.energy_scorer import EnergyScorer
from app.audio.silero_scorer import FRAME, SileroScorer, SileroUnavailable
from app.audio.vad import SpeechEnded, SpeechStarted, VoiceActivityDetector, default_scorer

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="speech is made with espeak-ng"
)


def _events(scene: scenes.Scene, silence_s: float = 0.7, sizes: tuple[int, ...] = (640,)) -> list:
    vad = VoiceActivityDetector(silence_s=silence_s, scorer=SileroScorer())
    events, at, i = [], 0, 0
    while at < scene.samples.size:
        size = sizes[i % len(sizes)]
        events += vad.feed(scene.samples[at : at + size])
        at, i = at + size, i + 1
    return events


@needs_espeak
@pytest.mark.parametrize("noise", ["fan", "keyboard"])
def test_a_400ms_pause_in_a_sentence_does_not_end_the_turn(noise: str) -> None:
    scene = scenes.utterance(3, noise)
    truth = scene.truth
    events = _events(scene)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded], events
    started, ended = events
    assert started.start <= truth.speech_start  # the pre-roll covers the first word
    assert ended.speech_end >= truth.pause_end  # the pause was inside the turn
    after_last_word = (ended.end - truth.speech_end) / scenes.RATE
    assert after_last_word == pytest.approx(0.7, abs=0.15)  # the silence setting, as heard


@needs_espeak
def test_the_same_pause_ends_the_turn_when_the_silence_setting_is_shorter() -> None:
    events = _events(scenes.utterance(3, "quiet"), silence_s=0.25)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded] * 2


def test_keyboard_and_fan_noise_alone_open_no_turn() -> None:
    for kind in ("keyboard", "fan", "silence"):
        assert _events(scenes.noise_only(kind, 6.0, rms_dbfs=-35.0)) == [], kind


@needs_espeak
def test_events_do_not_depend_on_chunk_sizes() -> None:
    scene = scenes.utterance(5, "keyboard")
    whole = [(type(e), getattr(e, "start", None), getattr(e, "end", None)) for e in _events(scene, sizes=(10**7,))]
    for sizes in ((333, 4_000, 17), (512,), (97,)):
        chunked = _events(scene, sizes=sizes)
        assert [(type(e), getattr(e, "start", None), getattr(e, "end", None)) for e in chunked] == whole


def test_scores_repeat_after_reset_and_the_window_size_is_checked() -> None:
    scorer = SileroScorer()
    frames = scenes.noise("keyboard", 5 * FRAME, 0.05, seed=3).reshape(5, FRAME)
    first = [scorer.score(f) for f in frames]
    scorer.reset()
    assert [scorer.score(f) for f in frames] == first
    assert all(0.0 <= p <= 1.0 for p in first)
    with pytest.raises(ValueError, match="512 samples"):
        scorer.score(np.zeros(320, np.float32))


def test_a_damaged_model_is_refused_with_a_sentence(tmp_path, monkeypatch) -> None:
    damaged = tmp_path / "silero_vad.onnx"
    damaged.write_bytes(silero_scorer.MODEL_PATH.read_bytes()[:-1] + b"\0")
    monkeypatch.setattr(silero_scorer, "MODEL_PATH", damaged)
    with pytest.raises(SileroUnavailable, match="is damaged; reinstall Tandem"):
        SileroScorer()
    assert isinstance(default_scorer(), EnergyScorer)


def test_without_onnxruntime_the_energy_scorer_takes_over(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(SileroUnavailable, match="onnxruntime package could not be loaded"):
        SileroScorer()
    assert isinstance(default_scorer(), EnergyScorer)


def test_the_default_scorer_is_the_learned_one_when_it_loads() -> None:
    assert default_scorer().name == "silero"


def test_probabilities_equal_the_silero_package_on_the_same_audio() -> None:
    """Parity with silero-vad's own ONNX wrapper (context carried, state carried, same model)."""
    silero_vad = pytest.importorskip("silero_vad", reason="the reference is the silero-vad package")
    torch = pytest.importorskip("torch")
    from silero_vad.utils_vad import OnnxWrapper

    reference = OnnxWrapper(str(silero_scorer.MODEL_PATH), force_onnx_cpu=True)
    assert silero_vad.__file__  # the package, not a stand-in
    audio = scenes.utterance(2, "fan").samples if shutil.which("espeak-ng") else (
        scenes.noise("fan", 3 * 16_000, 0.05, seed=1)
    )
    ours = SileroScorer()
    frames = audio[: audio.size // FRAME * FRAME].reshape(-1, FRAME)
    got = [ours.score(frame) for frame in frames]
    want = [float(reference(torch.from_numpy(frame.copy()), 16_000)) for frame in frames]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert max(want) > 0.9  # the audio does hold speech the model hears
