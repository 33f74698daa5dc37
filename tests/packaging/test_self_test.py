"""`app.self_test.run_self_test` in this process: the real engine thread on a tiny checkpoint."""

from __future__ import annotations

import io

from app.self_test import run_self_test


def test_self_test_answers_and_builds_the_window():
    out = io.StringIO()
    assert run_self_test(out) == 0, out.getvalue()
    text = out.getvalue()
    assert "engine generated" in text and "self-test: answer:" in text
    assert "built the main window" in text
    assert text.rstrip().splitlines()[-1].startswith("self-test: OK")


def test_self_test_reports_a_failure_with_a_nonzero_status(monkeypatch, capsys):
    import engine.checkpoint

    def broken(*args, **kwargs):
        raise engine.checkpoint.CheckpointWriteError("disk full")

    monkeypatch.setattr(engine.checkpoint, "make_checkpoint", broken)
    assert run_self_test(io.StringIO()) == 1
    assert "self-test: FAILED" in capsys.readouterr().err


def test_self_test_fails_fast_when_the_engine_thread_dies(monkeypatch, capsys):
    import time

    import engine.worker

    monkeypatch.setattr(engine.worker.EngineWorker, "_run", lambda self: None)
    started = time.monotonic()
    assert run_self_test(io.StringIO()) == 1
    assert time.monotonic() - started < 60
    assert "engine thread stopped" in capsys.readouterr().err


def test_self_test_fails_when_the_window_does_not_import(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def broken_qt(name, *args, **kwargs):
        if name == "app.ui.main_window":
            raise ImportError("libshiboken6.abi3.so.6: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken_qt)
    assert run_self_test(io.StringIO()) == 1
    assert "the window does not import" in capsys.readouterr().err
