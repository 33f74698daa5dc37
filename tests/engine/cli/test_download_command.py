"""`tandem download`: the list of choices, a download through engine.install, failures in one sentence."""

from __future__ import annotations

from engine import install
from engine.cli import main
from engine.download import DownloadError
from engine.releases import RELEASES


def test_list_shows_every_choice_with_its_sizes(capsys):
    assert main(["download", "--list"]) == 0
    out = capsys.readouterr().out
    for r in RELEASES:
        assert r.key in out and r.title in out
    assert "(recommended for this machine)" in out and "text only" in out


def test_downloads_the_named_choice_and_prints_the_folder(tmp_path, capsys, monkeypatch):
    calls = []

    def fake_install_release(release, models_dir, progress, cancelled, token=None):
        calls.append((release.key, models_dir, token))
        progress("model", 50, 100)
        return models_dir / release.folder_name

    monkeypatch.setattr(install, "install_release", fake_install_release)
    assert main(["download", "optiq-4bit", "--to", str(tmp_path), "--token", "hf_x"]) == 0
    out = capsys.readouterr()
    assert calls == [("optiq-4bit", tmp_path, "hf_x")]
    assert out.out.strip().endswith("mlx-community--gemma-4-12B-it-OptiQ-4bit")


def test_failures_are_one_sentence(tmp_path, capsys, monkeypatch):
    def failing(repo_id, models_dir, progress, cancelled, token=None):
        raise DownloadError("Tandem could not reach Hugging Face. Check the internet connection.",
                            detail="ConnectError: [Errno -3]")

    monkeypatch.setattr(install, "install", failing)
    assert main(["download", "org/name", "--to", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "could not reach Hugging Face" in err and "ConnectError" not in err
    assert main(["download", "no-such-choice", "--to", str(tmp_path)]) == 2
    assert "choose one of" in capsys.readouterr().err
