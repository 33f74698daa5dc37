"""Bad input and failed writes: a clear message, a non-zero exit, and nothing left that looks like a checkpoint."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from engine.checkpoint import (
    CheckpointWriteError,
    is_random_checkpoint,
    make_checkpoint,
    safetensors_stream,
)
from engine.checkpoint import cli as ckpt_cli
from engine.cli import main


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_unknown_shape(tmp_path, capsys):
    assert main(["make-checkpoint", "--shape", "huge", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown --shape 'huge'" in err and "tiny, small, 12b" in err
    assert _leftovers(tmp_path) == []
    with pytest.raises(CheckpointWriteError, match="unknown checkpoint shape"):
        make_checkpoint(tmp_path / "y", "huge")
    assert _leftovers(tmp_path) == []


def test_bad_bits(tmp_path, capsys):
    assert main(["make-checkpoint", "--bits", "3", "--out", str(tmp_path / "x")]) == 2
    assert "--bits must be 4 or 8" in capsys.readouterr().err
    with pytest.raises(CheckpointWriteError, match="4 or 8"):
        make_checkpoint(tmp_path / "y", bits=2)
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_out_as_user(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert main(["make-checkpoint", "--out", str(ro / "ckpt")]) == 1
        assert "cannot write" in capsys.readouterr().err
        assert _leftovers(ro) == []
    finally:
        ro.chmod(0o700)


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["make-checkpoint", "--out", str(blocker / "ckpt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tandem make-checkpoint: cannot write to") and str(blocker) in err
    assert _leftovers(tmp_path) == ["file"]


def test_out_that_is_a_non_empty_folder_is_refused(tmp_path, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    assert main(["make-checkpoint", "--out", str(tmp_path / "busy")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert _leftovers(tmp_path / "busy") == ["keep.txt"]


def test_full_disk_leaves_nothing(tmp_path, monkeypatch, capsys):
    real_write = safetensors_stream.write
    calls = []

    def failing(path, entries, metadata=None):
        calls.append(path)
        if len(calls) == 2:  # the first shard is on disk when the disk fills
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(path, entries, metadata)

    monkeypatch.setattr(safetensors_stream, "write", failing)
    assert main(["make-checkpoint", "--out", str(tmp_path / "ckpt")]) == 1
    err = capsys.readouterr().err
    assert "no space left" in err and "nothing was kept" in err
    assert len(calls) == 2
    assert _leftovers(tmp_path) == []  # neither the target nor the hidden partial folder


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors_stream, "write", boom)
    with pytest.raises(KeyboardInterrupt):
        make_checkpoint(tmp_path / "ckpt", "tiny")
    assert _leftovers(tmp_path) == []


def test_empty_existing_folder_is_filled(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert ckpt_cli.run(_args(out=str(tmp_path / "empty"))) == 0
    assert "wrote random-weight tiny checkpoint" in capsys.readouterr().out
    assert is_random_checkpoint(tmp_path / "empty")
    assert not is_random_checkpoint(tmp_path)
    assert _leftovers(tmp_path) == ["empty"]


def _args(**kw):
    import argparse

    p = argparse.ArgumentParser()
    ckpt_cli.add_arguments(p)
    argv = []
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", v]
    return p.parse_args(argv)


def test_console_entry_point(tmp_path):
    """`python -m engine.cli make-checkpoint` as a user runs it: exit codes and the written folder."""
    import subprocess
    import sys

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "engine.cli", "make-checkpoint", *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parents[3],  # the repository root
        )

    ok = run(
        "--shape",
        "tiny",
        "--bits",
        "8",
        "--with-drafter",
        "--seed",
        "7",
        "--out",
        str(tmp_path / "c"),
    )
    assert ok.returncode == 0, ok.stderr
    assert (
        is_random_checkpoint(tmp_path / "c")
        and (tmp_path / "c" / "drafter" / "config.json").is_file()
    )
    bad = run("--shape", "70b", "--out", str(tmp_path / "d"))
    assert bad.returncode != 0 and "unknown --shape '70b'" in bad.stderr
    assert _leftovers(tmp_path) == ["c"]


def test_full_disk_in_the_tokenizer_writer(tmp_path, monkeypatch, capsys):
    """The tokenizers library raises a plain Exception on I/O errors; the message is still clear."""
    from tokenizers import Tokenizer

    def no_space(self, path, pretty=True):
        raise Exception("No space left on device (os error 28)")  # noqa: TRY002 (what tokenizers raises)

    monkeypatch.setattr(Tokenizer, "save", no_space, raising=False)
    assert main(["make-checkpoint", "--out", str(tmp_path / "ckpt")]) == 1
    assert "no space left" in capsys.readouterr().err
    assert _leftovers(tmp_path) == []
