"""Spoken answers with the system voice, sentence by sentence as the answer streams in. Off by default.

`Speaker.add_text(delta)` takes the answer's text as it arrives; the `SentenceSplitter` cuts it into
sentences (no code, no Markdown marks), and a worker thread renders each one to audio with the
system voice (`say -o` on macOS, `espeak-ng -w` elsewhere: a child process per sentence, the text
through a temporary file, never argv) and queues it on the `SoundPlayer`. The first sentence is
heard while the model is still writing the rest, and the next one is rendered while one plays.
`finish()` says the answer is complete; `speak(text)` says a whole text at once.

`stop()` silences the voice at once: the player drops its queue (the device plays out the ~0.1 s
it holds), a running render is killed, the rest of the answer is dropped. That is what barge-in and Stop need. Because the speaker plays the
audio itself, `take_played()` gives the echo canceller exactly what went to the speakers.
Failures (no system voice, no speakers) reach `on_error` as a sentence, from the worker thread.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from app.audio.playback import SAMPLE_RATE, PlaybackError, SoundPlayer
from app.audio.sentences import SentenceSplitter, split_sentences

RENDER_TIMEOUT_S = 30.0  # one sentence; espeak-ng takes milliseconds, `say` well under a second


class VoiceError(Exception):
    """The system voice could not say a sentence; the message says why, for a person."""


def speakable(text: str) -> str:
    """The words of a Markdown answer, without code blocks, links' targets or decoration."""
    return " ".join(split_sentences(text))


def system_voice_command() -> list[str] | None:
    """The argv that renders `{text}` (a text file) to `{wav}` with the system voice, or None."""
    if sys.platform == "darwin":
        if shutil.which("say") is None:
            return None
        return ["say", "--file-format=WAVE", "--data-format=LEI16@22050", "-o", "{wav}",
                "-f", "{text}"]
    if shutil.which("espeak-ng") is None:
        return None
    return ["espeak-ng", "-w", "{wav}", "-f", "{text}"]


def no_voice_message() -> str:
    fix = "it needs the `say` command" if sys.platform == "darwin" else "install espeak-ng"
    return f"Spoken answers are on, but no system voice was found: {fix}."


class SystemVoice:
    """Renders one sentence to 16 kHz mono float32 with a command (the system voice by default).

    Args:
        command: argv with "{text}" and "{wav}" placeholders; `system_voice_command()` when None.
    """

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self.command = list(command) if command is not None else system_voice_command()
        self._process: subprocess.Popen | None = None

    def render(self, sentence: str) -> np.ndarray:
        import soundfile
        import soxr

        if self.command is None:
            raise VoiceError(no_voice_message())
        with tempfile.TemporaryDirectory(prefix="tandem-say-") as folder:
            text, wav = Path(folder) / "sentence.txt", Path(folder) / "sentence.wav"
            text.write_text(sentence, encoding="utf-8")
            argv = [a.replace("{text}", str(text)).replace("{wav}", str(wav)) for a in self.command]
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            self._process = process  # for cancel(), from another thread
            try:
                _, err = process.communicate(timeout=RENDER_TIMEOUT_S)
                code = process.returncode
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise VoiceError("The system voice took too long to say a sentence.") from None
            finally:
                if self._process is process:
                    self._process = None
            if code < 0:
                return np.zeros(0, np.float32)  # killed by cancel(): nothing to say
            if code != 0 or not wav.exists():
                said = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
                raise VoiceError(f"The system voice failed ({argv[0]}: {said[0]}).")
            samples, rate = soundfile.read(wav, dtype="float32", always_2d=True)
        mono = samples.mean(axis=1)
        if rate != SAMPLE_RATE:
            mono = soxr.resample(mono, rate, SAMPLE_RATE)
        return np.ascontiguousarray(mono, dtype=np.float32)

    def cancel(self) -> None:
        """Kill a render in progress (from another thread)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()


class Speaker:
    """Speaks answers aloud, sentence by sentence, when enabled; does nothing when not.

    Args:
        enabled: whether anything is said (the setting; off by default).
        voice: renders a sentence to samples; the system voice when None.
        player: plays samples; a `SoundPlayer` on the default output when None.
        on_error: called with a sentence when the voice or the speakers fail (worker thread).
    """

    def __init__(
        self,
        enabled: bool = False,
        voice: SystemVoice | None = None,
        player: SoundPlayer | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.enabled = enabled
        self.voice = voice if voice is not None else SystemVoice()
        self.player = player if player is not None else SoundPlayer()
        self.on_error = on_error
        self._splitter = SentenceSplitter()
        self._sentences: queue.SimpleQueue[str | None] | None = None
        self._worker: threading.Thread | None = None
        self._cancelled = threading.Event()
        self.sentences_said: list[str] = []  # this answer's sentences, as queued for playback

    @property
    def available(self) -> bool:
        return self.voice.command is not None

    @property
    def speaking(self) -> bool:
        """True from the first text of an answer until its last sample is played or `stop()`."""
        worker = self._worker
        return (worker is not None and worker.is_alive()) or self.player.pending_s > 0

    def add_text(self, delta: str) -> None:
        """The next piece of the answer; complete sentences start to be said at once."""
        if not self.enabled:
            return
        if self._sentences is None:
            self._begin()
        for sentence in self._splitter.feed(delta):
            self._sentences.put(sentence)  # type: ignore[union-attr]

    def finish(self) -> None:
        """The answer is complete: say what is left, then let the speakers go."""
        if self._sentences is None:
            return
        for sentence in self._splitter.flush():
            self._sentences.put(sentence)
        self._sentences.put(None)
        self._sentences = None

    def speak(self, text: str) -> None:
        """Say a whole text (replacing anything being said)."""
        self.stop()
        self.add_text(text)
        self.finish()

    def stop(self) -> None:
        """Silence the voice at once and forget the rest of the answer."""
        self._cancelled.set()
        if self._sentences is not None:
            self._sentences.put(None)
        self._sentences = None
        self._splitter = SentenceSplitter()
        self.voice.cancel()
        self.player.stop()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.join(timeout=5)
        self.player.stop()  # anything the worker queued while it was told to stop

    def take_played(self) -> np.ndarray:
        """What went to the speakers since the last call: the echo canceller's far end."""
        return self.player.take_played()

    def close(self) -> None:
        """Stop and let the speakers go (the window closes)."""
        self.stop()
        self.player.close()

    def _begin(self) -> None:
        self.stop()
        self._cancelled = threading.Event()
        self._sentences = queue.SimpleQueue()
        self.sentences_said = []
        self._worker = threading.Thread(
            target=self._run,
            args=(self._sentences, self._cancelled),
            name="tandem-speaker",
            daemon=True,
        )
        self._worker.start()

    def _run(self, sentences: queue.SimpleQueue[str | None], cancelled: threading.Event) -> None:
        try:
            while not cancelled.is_set():
                sentence = sentences.get()
                if sentence is None or cancelled.is_set():
                    break
                samples = self.voice.render(sentence)
                if cancelled.is_set():
                    break
                self.sentences_said.append(sentence)
                self.player.play(samples)
            while not cancelled.is_set() and self.player.pending_s > 0:
                cancelled.wait(0.02)  # the last sentence is still playing
            if not cancelled.is_set():
                cancelled.wait(self.player.latency_s)  # and then still in the device
        except (VoiceError, PlaybackError, OSError) as exc:
            self.player.stop()
            if self.on_error is not None and not cancelled.is_set():
                message = str(exc) if not isinstance(exc, OSError) else (
                    f"The system voice could not be started ({exc.strerror or exc})."
                )
                self.on_error(message)
