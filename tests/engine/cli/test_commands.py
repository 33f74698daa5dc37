"""`tandem generate` and `tandem chat` on a tiny checkpoint."""

import io
import subprocess
import sys

import numpy as np
import soundfile as sf
from grey_clips import grey_clip

from engine.cli import main


def test_generate_streams_an_answer_for_text_image_and_audio(tiny_checkpoint, tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "a.png"
    Image.new("RGB", (60, 40), (200, 30, 30)).save(image)
    audio = tmp_path / "a.wav"
    sf.write(audio, np.sin(np.arange(8000) / 5.0).astype(np.float32) * 0.3, 16000)
    rc = main(["generate", "--model", str(tiny_checkpoint), "--prompt", "Describe.",
               "--image", str(image), "--audio", str(audio), "--max-tokens", "5", "--stats"])
    out = capsys.readouterr()
    assert rc == 0
    assert "RANDOM weights" in out.err and "prompt tokens" in out.err
    assert out.out.strip() != "" or "0 tokens" not in out.err


def test_generate_with_a_video_and_its_sound(tiny_checkpoint, tmp_path, capsys):
    clip = grey_clip(tmp_path / "clip.webm", frames=6, rate=5, step=40)
    rc = main(["generate", "--model", str(tiny_checkpoint), "--prompt", "What changes?",
               "--video", str(clip), "--max-tokens", "3", "--stats"])
    out = capsys.readouterr()
    assert rc == 0
    assert "all 6 frames of a 1.2 s clip; no sound" in out.err and "prompt tokens" in out.err


def test_generate_reports_bad_input_clearly(tiny_checkpoint, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "generate", "--model", str(tiny_checkpoint),
         "--prompt", "x", "--image", str(bad)], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "broken.png" in proc.stderr and "Traceback" not in proc.stderr
    bad_video = tmp_path / "broken.mp4"
    bad_video.write_text("not a video")
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "generate", "--model", str(tiny_checkpoint),
         "--prompt", "x", "--video", str(bad_video)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "broken.mp4' is not a video Tandem can read" in proc.stderr
    assert "Traceback" not in proc.stderr and "loading" not in proc.stderr  # refused before loading


def test_chat_keeps_the_conversation_and_its_commands(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    saved = tmp_path / "conv.safetensors"
    lines = iter(["Hello", "/regen", "Second turn", "/undo", "/save " + str(saved), "/quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    rc = main(["chat", "--model", str(tiny_checkpoint), "--max-tokens", "4"])
    assert rc == 0
    assert saved.exists()
    err = capsys.readouterr().err
    assert "tandem:" in err and "Traceback" not in err


def test_generate_with_a_missing_model_folder_says_so(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "generate", "--model", str(tmp_path / "nothing"),
         "--prompt", "x"], capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "nothing" in proc.stderr
