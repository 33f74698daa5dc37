"""Optional spoken answers with the system voice: macOS `say`, or espeak-ng elsewhere. Off by default.

`Speaker.speak(text)` starts the voice in a child process and returns at once; a new `speak()`
replaces what is being said. `stop()` kills the process at once (SIGKILL, no fade-out), which is
what barge-in needs: the person talks, the voice stops within milliseconds. Text goes through a
temporary file, not argv, so a long answer or one that starts with "-" is spoken as written.
Markdown decoration and code blocks are left out (`speakable`): nobody wants fences read aloud.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

_FENCE = re.compile(r"```.*?(```|$)", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# emphasis marks at a word's edge (not inside `snake_case` or `3*4`), headings, list bullets, quotes
_DECORATION = re.compile(
    r"(?<!\w)[*_~]{1,3}|[*_~]{1,3}(?!\w)|(^|\s)#{1,6}\s|^\s*[-+>]\s+", re.MULTILINE
)


def speakable(text: str) -> str:
    """The words of a Markdown answer, without code blocks, links' targets or decoration."""
    text = _FENCE.sub(" (code omitted) ", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _DECORATION.sub(" ", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def system_voice_command() -> list[str] | None:
    """The command that speaks a text file: `say -f` on macOS, `espeak-ng -f` elsewhere, or None."""
    if sys.platform == "darwin":
        return ["say", "-f"] if shutil.which("say") else None
    return ["espeak-ng", "-f"] if shutil.which("espeak-ng") else None


class Speaker:
    """Speaks answers aloud when enabled; does nothing when not.

    Args:
        enabled: whether `speak()` makes a sound (the setting; off by default).
        command: the argv prefix that speaks a text file given as the last argument; the system
            voice when None.
    """

    def __init__(self, enabled: bool = False, command: Sequence[str] | None = None) -> None:
        self.enabled = enabled
        self._command = list(command) if command is not None else system_voice_command()
        self._process: subprocess.Popen | None = None
        self._text_file: Path | None = None

    @property
    def available(self) -> bool:
        return self._command is not None

    @property
    def speaking(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def speak(self, text: str) -> None:
        """Say `text` (replacing anything being said); a no-op when disabled or nothing is left to say.

        Raises:
            RuntimeError: enabled, but this system has no voice command.
        """
        if not self.enabled:
            return
        if self._command is None:
            fix = "it needs the `say` command" if sys.platform == "darwin" else "install espeak-ng"
            raise RuntimeError(f"Spoken answers are on, but no system voice was found: {fix}.")
        words = speakable(text)
        self.stop()
        if not words:
            return
        fd, name = tempfile.mkstemp(prefix="tandem-say-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(words)
        self._text_file = Path(name)
        self._process = subprocess.Popen(
            [*self._command, name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        """Silence the voice at once (kills the process) and forget the text."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()  # SIGKILL: barge-in must not wait for a sentence to finish
        if process is not None:
            process.wait()
        if self._text_file is not None:
            self._text_file.unlink(missing_ok=True)
            self._text_file = None
