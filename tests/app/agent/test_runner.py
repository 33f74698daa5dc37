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


def _alive_with(token: str) -> list[int]:
    """Processes on this machine whose command line holds `token`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if token.encode() in f.read() and not _dead(int(entry)):
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_commands_see_no_secrets_and_get_the_workspace_virtualenv(ws: Path, monkeypatch):
    monkeypatch.setenv("MY_API_TOKEN", "t0ken")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws")
    monkeypatch.setenv("DATABASE_PASSWORD", "pw")
    monkeypatch.setenv("UNRELATED_APP_SETTING", "x")
    (ws / ".venv" / "bin").mkdir(parents=True)
    (ws / ".venv" / "bin" / "python").write_text("#!/bin/sh\n")
    result = CommandRunner(ws, use_sandbox=False).run("env", 10)
    env = dict(line.split("=", 1) for line in result.output.splitlines() if "=" in line)
    assert not {"MY_API_TOKEN", "AWS_SECRET_ACCESS_KEY", "DATABASE_PASSWORD"} & set(env)
    assert "UNRELATED_APP_SETTING" not in env  # an allow-list, not only a deny-list
    assert env["PATH"].startswith(f"{ws.resolve() / '.venv' / 'bin'}:")
    assert env["VIRTUAL_ENV"] == str(ws.resolve() / ".venv") and env["HOME"]


needs_bwrap = pytest.mark.skipif(
    not sandbox.Sandbox.detect().confined or sys.platform == "darwin",
    reason="bubblewrap is not available here",
)


@needs_bwrap
def test_in_bubblewrap_only_the_workspace_and_temp_are_writable(ws: Path, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("private key")
    (home / ".netrc").write_text("machine x password y")
    (home / "notes.txt").write_text("visible")
    monkeypatch.setenv("HOME", str(home))
    (ws / ".git").mkdir()
    (ws / "sub" / ".Git").mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    runner = CommandRunner(ws)
    assert runner.sandbox.kind == "bwrap" and runner.note == ""
    result = runner.run(
        f"echo ok > inside.txt; echo bad > {outside}; echo bad > .git/config; "
        "echo bad > sub/.Git/config; echo t > /tmp/t && echo tmp-ok; "
        f"cat {home}/.ssh/id_rsa {home}/.netrc; cat {home}/notes.txt",
        20,
    )
    assert (ws / "inside.txt").read_text() == "ok\n"
    assert not outside.exists() and not (ws / ".git" / "config").exists()
    assert not (ws / "sub" / ".Git" / "config").exists()
    assert "tmp-ok" in result.output and "visible" in result.output
    assert "private key" not in result.output and "password" not in result.output
    assert (runner.temp_dir / "t").exists()  # the run's own /tmp
    runner.close()
    assert not runner.temp_dir.exists()


@needs_bwrap
def test_in_bubblewrap_a_setsid_daemon_dies_with_the_command(ws: Path):
    token = f"3{os.getpid()}.25"
    result = CommandRunner(ws, kill_grace_s=0.2).run(
        f"setsid sh -c 'sleep {token}' > /dev/null 2>&1 < /dev/null & echo started", 10
    )
    assert "started" in result.output
    deadline = time.monotonic() + 3
    while _alive_with(f"sleep {token}") and time.monotonic() < deadline:
        time.sleep(0.05)
    leftover = _alive_with(f"sleep {token}")
    for pid in leftover:
        os.kill(pid, 9)
    assert leftover == []


@needs_bwrap
def test_in_bubblewrap_a_timeout_ends_every_process(ws: Path):
    token = f"4{os.getpid()}.5"
    result = CommandRunner(ws, kill_grace_s=0.2).run(f"sleep {token} & sleep {token}", 1)
    assert result.timed_out and result.exit_code is None
    deadline = time.monotonic() + 3
    while _alive_with(f"sleep {token}") and time.monotonic() < deadline:
        time.sleep(0.05)
    leftover = _alive_with(f"sleep {token}")
    for pid in leftover:
        os.kill(pid, 9)
    assert leftover == []


def test_without_a_sandbox_the_runner_says_so(ws: Path, monkeypatch):
    monkeypatch.setattr(sandbox, "_detected", None)
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    monkeypatch.setattr(sandbox.sys, "platform", "linux")
    runner = CommandRunner(ws)
    assert not runner.sandbox.confined
    assert runner.note.startswith("Commands run without a sandbox on this system")
    assert runner.run("echo hi", 10).output == "hi\n"
    assert CommandRunner(ws, use_sandbox=False).note == sandbox.UNCONFINED_NOTE


def test_on_macos_commands_run_under_sandbox_exec(ws: Path):
    box = sandbox.Sandbox("sandbox-exec", sandbox.SANDBOX_EXEC)
    policy = sandbox.Policy(ws, ws.parent / "tmp", Path.home())
    argv, env = box.wrap(["/bin/sh", "-c", "make test"], policy, {"PATH": "/usr/bin"})
    assert argv[0] == sandbox.SANDBOX_EXEC and argv[1] == "-p"
    assert f"WORKSPACE={os.path.realpath(ws)}" in argv
    assert argv[-3:] == ["/bin/sh", "-c", "make test"] and env == {"PATH": "/usr/bin"}
    assert argv[2] == sandbox.profile_text()
