"""Run one shell command in the workspace, streaming its output, with a hard timeout.

The command runs through `/bin/sh -c` in its own session (so in its own process group), with stdin
closed and stdout and stderr merged, in the sandbox this system offers (`app.agent.sandbox`:
bubblewrap on Linux, sandbox-exec on macOS) and with a short environment that carries no secrets
(`sandbox.command_env`). Each runner has a temporary folder of its own (the command's /tmp and
TMPDIR), removed by `close()`. Where there is no sandbox, `note` says so in a sentence for the
person, and the command runs unconfined.

On timeout or `cancel()`, the whole process group gets SIGTERM, then SIGKILL after a short grace
period, so the children it started die with it. In bubblewrap the command also has a PID namespace
of its own: when it ends, every process it started ends too, daemons that left the group with
`setsid` included. Unconfined, such a daemon is not reached; that is a known limit.

Output is streamed to `on_output` as it arrives, on the caller's thread (the first
STREAM_LIMIT_CHARS of it). The result keeps the first OUTPUT_HEAD_CHARS and last OUTPUT_TAIL_CHARS
characters and says how many were cut in between; memory stays bounded for endless output.
"""

from __future__ import annotations

import codecs
import os
import queue
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.agent.sandbox import Policy, Sandbox, command_env

KILL_GRACE_S = 1.0  # between SIGTERM and SIGKILL
OUTPUT_HEAD_CHARS = 4_000
OUTPUT_TAIL_CHARS = 8_000
STREAM_LIMIT_CHARS = 1_000_000  # streamed to the view; the model gets head and tail only


@dataclass(frozen=True)
class CommandResult:
    output: str  # capped: head + note + tail
    exit_code: int | None  # None when it was killed
    timed_out: bool
    cancelled: bool
    chars_cut: int
    duration_s: float
    timeout_s: float

    def as_response(self) -> dict:
        """The tool response the model sees."""
        response: dict = {"exit_code": self.exit_code, "output": self.output}
        if self.timed_out:
            response["error"] = (
                f"timed out after {self.timeout_s:g} s; the command and its children were killed"
            )
        elif self.cancelled:
            response["error"] = "stopped by the user; the command and its children were killed"
        return response


class CommandRunner:
    """Runs commands in one workspace. `cancel()` may be called from any thread.

    Args:
        use_sandbox: None uses the sandbox this system offers (see `Sandbox.detect`); False runs
            unconfined (tests); True is the same as None.
    """

    def __init__(
        self,
        workspace: Path,
        *,
        use_sandbox: bool | None = None,
        kill_grace_s: float = KILL_GRACE_S,
    ) -> None:
        self.workspace = Path(os.path.realpath(workspace))
        self.kill_grace_s = kill_grace_s
        self.sandbox = Sandbox.none() if use_sandbox is False else Sandbox.detect()
        self._temp = tempfile.TemporaryDirectory(prefix="tandem-run-")
        self.temp_dir = Path(os.path.realpath(self._temp.name))
        self._proc: subprocess.Popen[bytes] | None = None
        self._cancelled = threading.Event()

    @property
    def note(self) -> str:
        """"" when commands are confined, else the sentence that says they are not."""
        return self.sandbox.note

    def close(self) -> None:
        """Remove the runner's temporary folder."""
        self._temp.cleanup()

    def argv(self, command: str) -> tuple[list[str], dict[str, str]]:
        """The argument vector and environment that run `command` (in the sandbox, if any)."""
        policy = Policy(self.workspace, self.temp_dir, Path.home())
        env = command_env(self.workspace, self.temp_dir)
        (self.temp_dir / "cache").mkdir(exist_ok=True)
        return self.sandbox.wrap(["/bin/sh", "-c", command], policy, env)

    def run(
        self, command: str, timeout_s: float, on_output: Callable[[str], None] = lambda _: None
    ) -> CommandResult:
        """Run `command`; blocks until it ends, times out or is cancelled.

        `on_output` is called on the caller's thread (not the pipe reader's), chunk by chunk.
        """
        if not command.strip():
            raise ValueError("command is empty")
        self._cancelled.clear()
        argv, env = self.argv(command)
        start = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=self.workspace,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._proc = proc
        chunks: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_read, args=(proc, chunks), daemon=True).start()
        output = _Output(on_output)
        timed_out = eof = False
        try:
            timed_out, eof = self._pump(proc, chunks, output, start + timeout_s)
        finally:
            # Also when the leader exited: background children it left behind end with it.
            self._kill_group(proc)
            self._proc = None
        # A grandchild that left the group may hold the pipe open; do not wait on it forever.
        drain_until = time.monotonic() + 2.0
        while not eof and (left := drain_until - time.monotonic()) > 0:
            try:
                item = chunks.get(timeout=left)
            except queue.Empty:
                break
            if item is None:
                break
            output.add(item)
        text, cut = output.result()
        cancelled = self._cancelled.is_set()
        return CommandResult(
            output=text,
            exit_code=None if (timed_out or cancelled) else proc.returncode,
            timed_out=timed_out,
            cancelled=cancelled,
            chars_cut=cut,
            duration_s=time.monotonic() - start,
            timeout_s=timeout_s,
        )

    def _pump(
        self,
        proc: subprocess.Popen[bytes],
        chunks: queue.Queue[str | None],
        output: _Output,
        deadline: float,
    ) -> tuple[bool, bool]:
        """Pass output on until the end of output, the leader's exit, or the deadline.

        Returns:
            (timed out, end of output seen).
        """
        while not self._cancelled.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return True, False
            try:
                item = chunks.get(timeout=min(left, 0.1))
            except queue.Empty:
                if proc.poll() is not None:
                    return False, False  # the leader is done; a child may still hold the pipe
                continue
            if item is None:
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    return True, True  # closed its output but kept running
                return False, True
            output.add(item)
        return False, False

    def cancel(self) -> None:
        """Kill the running command, if any, with its process group."""
        self._cancelled.set()
        proc = self._proc
        if proc is not None:
            self._kill_group(proc)

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


def _read(proc: subprocess.Popen[bytes], chunks: queue.Queue[str | None]) -> None:
    """Pipe reader thread: decoded chunks into the queue, then None at end of output."""
    assert proc.stdout is not None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for data in iter(lambda: proc.stdout.read1(4096), b""):  # type: ignore[union-attr]
        if text := decoder.decode(data):
            chunks.put(text)
    if tail := decoder.decode(b"", final=True):
        chunks.put(tail)
    chunks.put(None)


class _Output:
    """Keeps the head and a bounded tail of the output and streams it, up to a limit."""

    def __init__(self, on_output: Callable[[str], None]) -> None:
        self.on_output = on_output
        self.head = ""
        self.tail: list[str] = []
        self.tail_len = 0
        self.total = 0

    def add(self, text: str) -> None:
        if self.total < STREAM_LIMIT_CHARS:
            shown = text[: STREAM_LIMIT_CHARS - self.total]
            if len(shown) < len(text):
                shown += "\n[output continues; the rest is not shown live]\n"
            self.on_output(shown)
        self.total += len(text)
        room = OUTPUT_HEAD_CHARS - len(self.head)
        if room > 0:
            self.head, text = self.head + text[:room], text[room:]
        if text:
            self.tail.append(text)
            self.tail_len += len(text)
            if self.tail_len > 2 * OUTPUT_TAIL_CHARS:  # keep memory bounded for endless output
                joined = "".join(self.tail)[-OUTPUT_TAIL_CHARS:]
                self.tail, self.tail_len = [joined], len(joined)

    def result(self) -> tuple[str, int]:
        tail = "".join(self.tail)[-OUTPUT_TAIL_CHARS:]
        cut = self.total - len(self.head) - len(tail)
        if cut == 0:
            return self.head + tail, 0
        return self.head + f"\n[... {cut} characters of output cut here ...]\n" + tail, cut
