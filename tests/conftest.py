"""Test-wide settings: offscreen Qt, exact float32 matmuls in MLX, no network, shared tiny checkpoints."""

import os

os.environ["QT_QPA_PLATFORM"] = os.environ.get("QT_QPA_PLATFORM", "offscreen")
os.environ["MLX_ENABLE_TF32"] = "0"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny random-weight checkpoint in the released HF layout, with tokenizer and template."""
    from engine.checkpoint import make_checkpoint

    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    make_checkpoint(out, shape="tiny", seed=0)
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint_with_drafter(tmp_path_factory):
    """A tiny checkpoint with its MTP drafter written beside it (`<out>/drafter`)."""
    from engine.checkpoint import make_checkpoint

    out = tmp_path_factory.mktemp("ckpt") / "tiny-mtp"
    make_checkpoint(out, shape="tiny", seed=1, with_drafter=True)
    return out


# ------------------------------------------------------------------ the virtual microphone
# A PulseAudio null sink whose monitor is the default input (scripts/virtual_mic.sh).
# scripts/run-tests.sh starts it before Python and sets TANDEM_VIRTUAL_MIC=1; otherwise the
# `virtual_mic` fixture starts its own in a private XDG_RUNTIME_DIR and re-initialises PortAudio.
# Tests that need it skip only when pulseaudio or paplay is not installed.

import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SPEECH_TEXT = "Hello Tandem. Tell me a story."


@dataclass
class VirtualMic:
    """A running virtual microphone: `play(wav)` sends a file into it (like speaking)."""

    env: dict

    def play(self, wav: Path) -> subprocess.Popen:
        return subprocess.Popen(["paplay", "--device=vsink", str(wav)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _reinit_portaudio() -> None:
    # PortAudio lists devices once, at initialisation; a server started later is invisible until then.
    if "sounddevice" in sys.modules:
        from app.audio.playback import close_all_players

        close_all_players()  # an open output stream would outlive PortAudio and crash
        sd = sys.modules["sounddevice"]
        sd._terminate()
        sd._initialize()


@pytest.fixture(scope="session")
def virtual_mic():
    missing = [tool for tool in ("pulseaudio", "paplay") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the virtual microphone needs {' and '.join(missing)} "
                    "(Debian: pulseaudio, pulseaudio-utils)")
    if os.environ.get("TANDEM_VIRTUAL_MIC") == "1":
        yield VirtualMic(dict(os.environ))  # started by scripts/run-tests.sh before Python
        return
    runtime = tempfile.mkdtemp(prefix="tandem-vmic-")
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime)
    env.pop("PULSE_SERVER", None)
    script = REPO / "scripts" / "virtual_mic.sh"
    subprocess.run(["bash", str(script), "start"], env=env, check=True, timeout=30,
                   capture_output=True)
    saved = {key: os.environ.get(key) for key in ("XDG_RUNTIME_DIR", "PULSE_SERVER")}
    os.environ["XDG_RUNTIME_DIR"] = runtime
    os.environ.pop("PULSE_SERVER", None)
    _reinit_portaudio()
    try:
        yield VirtualMic(env)
    finally:
        subprocess.run(["bash", str(script), "stop"], check=False, env=env, timeout=30,
                       capture_output=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reinit_portaudio()
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory):
    """About 2 s of English speech by espeak-ng, converted to 16 kHz mono 16-bit with sox."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("speech for the voice tests is made with espeak-ng and sox")
    folder = tmp_path_factory.mktemp("speech")
    raw, wav = folder / "speech22k.wav", folder / "speech16k.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), SPEECH_TEXT], check=True,
                   timeout=30)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True,
                   timeout=30)
    return wav


@pytest.fixture(scope="session")
def speech(speech_wav):
    """The speech as float32 samples at 16 kHz."""
    import soundfile

    samples, rate = soundfile.read(speech_wav, dtype="float32")
    assert rate == 16_000
    return samples
