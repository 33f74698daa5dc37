"""Run one shell command in the workspace, streaming its output, with a hard timeout.

The command runs through `/bin/sh -c` in its own session (so in its own process group), with stdin
closed and stdout and stderr merged. On timeout or `cancel()`, the whole process group gets SIGTERM,
then SIGKILL after a short grace period, so the children it started die with it. A child that starts
its own session (daemonizes) leaves the group and is not reached; that is a known limit.

Output is streamed to `on_output` as it arrives. The result keeps the first and last parts of the
output and says how many characters were cut in between.

On macOS the command runs under `sandbox-exec` (see `app.agent.sandbox`). On Linux and elsewhere
there is no OS sandbox: the command can write anywhere the user can, and only the approval gate and
the workspace path checks of the file tools stand in front of it.
"""

from __future__ import annotations

import codecs
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.agent import sandbox

KILL_GRACE_S = 1.0  # between SIGTERM and SIGKILL
OUTPUT_HEAD_CHARS = 4_000
OUTPUT_TAIL_CHARS = 8_000


@dataclass(frozen=True)
class CommandResult:
    output: str  # capped: head + note + tail
    exit_code: int | None  # None when it was killed
    timed_out: bool
    cancelled: bool
    chars_cut: int
    duration_s: float

    def as_response(self) -> dict:
        """The tool response the model sees."""
        response: dict = {"exit_code": self.exit_code, "output": self.output}
        if self.timed_out:
            response["error"] = (
                f"timed out after {self.duration_s:.0f} s; the command and its children were killed"
            )
        elif self.cancelled:
            response["error"] = "stopped by the person; the command and its children were killed"
        return response


def cap_output(
    text: str, head: int = OUTPUT_HEAD_CHARS, tail: int = OUTPUT_TAIL_CHARS
) -> tuple[str, int]:
    """Keep the first `head` and last `tail` characters; returns (text, characters cut)."""
    if len(text) <= head + tail:
        return text, 0
    cut = len(text) - head - tail
    note = f"\n[... {cut} characters of output cut here ...]\n"
    return text[:head] + note + text[-tail:], cut


class CommandRunner:
    """Runs commands in one workspace. `cancel()` may be called from any thread."""

    def __init__(
        self,
        workspace: Path,
        *,
        use_sandbox: bool | None = None,
        kill_grace_s: float = KILL_GRACE_S,
    ) -> None:
        self.workspace = workspace
        self.kill_grace_s = kill_grace_s
        self.use_sandbox = sys.platform == "darwin" if use_sandbox is None else use_sandbox
        self._proc: subprocess.Popen[bytes] | None = None
        self._cancelled = threading.Event()

    def argv(self, command: str) -> list[str]:
        """The argument vector that runs `command` (under sandbox-exec when enabled)."""
        if self.use_sandbox:
            return sandbox.wrap(["/bin/sh", "-c", command], self.workspace)
        return ["/bin/sh", "-c", command]

    def run(
        self, command: str, timeout_s: float, on_output: Callable[[str], None] = lambda _: None
    ) -> CommandResult:
        """Run `command`; blocks until it ends, times out or is cancelled."""
        if not command.strip():
            raise ValueError("command is empty")
        self._cancelled.clear()
        env = dict(os.environ, PAGER="cat", GIT_PAGER="cat", TERM="dumb", PYTHONUNBUFFERED="1")
        start = time.monotonic()
        proc = subprocess.Popen(
            self.argv(command),
            cwd=self.workspace,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._proc = proc
        chunks: list[str] = []
        reader = threading.Thread(target=self._read, args=(proc, chunks, on_output), daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = not self._cancelled.is_set()
        finally:
            # Also when the leader exited: background children it left behind are ended with it.
            self._kill_group(proc)
            self._proc = None
        # A grandchild that left the group may hold the pipe open; do not wait on it forever.
        reader.join(timeout=2.0)
        output, cut = cap_output("".join(chunks))
        cancelled = self._cancelled.is_set()
        return CommandResult(
            output=output,
            exit_code=None if (timed_out or cancelled) else proc.returncode,
            timed_out=timed_out,
            cancelled=cancelled,
            chars_cut=cut,
            duration_s=time.monotonic() - start,
        )

    def cancel(self) -> None:
        """Kill the running command, if any, with its process group."""
        self._cancelled.set()
        proc = self._proc
        if proc is not None:
            self._kill_group(proc)

    @staticmethod
    def _read(
        proc: subprocess.Popen[bytes], chunks: list[str], on_output: Callable[[str], None]
    ) -> None:
        assert proc.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for data in iter(lambda: proc.stdout.read1(4096), b""):  # type: ignore[union-attr]
            text = decoder.decode(data)
            if text:
                chunks.append(text)
                on_output(text)
        tail = decoder.decode(b"", final=True)
        if tail:
            chunks.append(tail)
            on_output(tail)

    def _kill_group(self, proc: subprocess.Popen[bytes]) -> None:
        # The group id is the leader's pid (start_new_session); it lives on while any member does.
        pgid = proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            proc.poll()
            return
        deadline = time.monotonic() + self.kill_grace_s
        while time.monotonic() < deadline and _group_alive(pgid):
            proc.poll()  # reap the leader so it does not linger as a zombie
            time.sleep(0.02)
        if _group_alive(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
