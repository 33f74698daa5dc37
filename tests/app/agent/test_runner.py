import os
import sys
import time
from pathlib import Path

import pytest

from app.agent import runner, sandbox
from app.agent.runner import CommandRunner


def _dead(pid: int) -> bool:
    """True when the process is gone or a zombie (killed, waiting only to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_runs_in_the_workspace_and_streams_output(ws: Path):
    chunks: list[str] = []
    result = CommandRunner(ws, use_sandbox=False).run(
        "pwd; echo err >&2; exit 3", 10, chunks.append
    )
    assert result.exit_code == 3 and not result.timed_out
    assert result.output.splitlines() == [str(ws.resolve()), "err"]
    assert "".join(chunks) == result.output


def test_a_hanging_command_is_killed_with_its_children(ws: Path):
    # The shell starts two children that would outlive it, then hangs itself.
    cmd = (
        "sleep 60 & echo $! > pids; "
        "python3 -c 'import time; time.sleep(60)' & echo $! >> pids; "
        "sleep 60"
    )
    start = time.monotonic()
    result = CommandRunner(ws, use_sandbox=False, kill_grace_s=0.2).run(cmd, 1.0)
    assert time.monotonic() - start < 5
    assert result.timed_out and result.exit_code is None
    assert result.as_response()["error"].startswith("timed out after 1 s; the command and its")
    pids = [int(p) for p in (ws / "pids").read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 3
    while not all(_dead(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_dead(p) for p in pids)


def test_children_left_behind_by_a_finished_command_are_ended(ws: Path):
    result = CommandRunner(ws, use_sandbox=False, kill_grace_s=0.2).run(
        "sleep 60 & echo $! > pid", 5
    )
    assert result.exit_code == 0
    pid = int((ws / "pid").read_text())
    deadline = time.monotonic() + 3
    while not _dead(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _dead(pid)


def test_cancel_from_another_thread(ws: Path):
    import threading

    runner = CommandRunner(ws, use_sandbox=False, kill_grace_s=0.2)
    threading.Timer(0.3, runner.cancel).start()
    result = runner.run("sleep 30", 20)
    assert result.cancelled and not result.timed_out and result.duration_s < 5


def test_long_output_is_capped_with_a_note(ws: Path):
    result = CommandRunner(ws, use_sandbox=False).run("seq 1 20000", 10)
    assert result.chars_cut > 0
    assert f"[... {result.chars_cut} characters of output cut here ...]" in result.output
    assert result.output.startswith("1\n2\n") and result.output.rstrip().endswith("20000")


def test_endless_output_is_bounded_in_memory_and_in_streaming(ws: Path):
    streamed: list[str] = []
    result = CommandRunner(ws, use_sandbox=False).run(
        "yes abcdefgh | head -c 3000000", 20, streamed.append
    )
    assert result.exit_code == 0 and result.chars_cut == 3_000_000 - len(result.output) + len(
        f"\n[... {result.chars_cut} characters of output cut here ...]\n"
    )
    assert len(result.output) < runner.OUTPUT_HEAD_CHARS + runner.OUTPUT_TAIL_CHARS + 100
    live = "".join(streamed)
    assert runner.STREAM_LIMIT_CHARS <= len(live) < runner.STREAM_LIMIT_CHARS + 100
    assert live.endswith("not shown live]\n")


def test_output_is_streamed_on_the_calling_thread(ws: Path):
    import threading

    threads = set()
    CommandRunner(ws, use_sandbox=False).run(
        "echo a; sleep 0.2; echo b", 10, lambda _: threads.add(threading.get_ident())
    )
    assert threads == {threading.get_ident()}


def test_empty_command_is_refused(ws: Path):
    with pytest.raises(ValueError, match="empty"):
        CommandRunner(ws, use_sandbox=False).run("  ", 1)


def test_macos_commands_run_under_sandbox_exec(ws: Path):
    argv = CommandRunner(ws, use_sandbox=True).argv("make test")
    assert argv[0] == sandbox.SANDBOX_EXEC and argv[1] == "-p"
    assert f"WORKSPACE={os.path.realpath(ws)}" in argv
    assert argv[-3:] == ["/bin/sh", "-c", "make test"]
    profile = argv[2]
    assert "(deny file-write*)" in profile and '(subpath (param "WORKSPACE"))' in profile


def test_sandbox_is_on_by_default_only_on_macos(ws: Path):
    assert CommandRunner(ws).use_sandbox is (sys.platform == "darwin")
