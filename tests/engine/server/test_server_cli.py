"""`tandem serve` arguments and the loopback-only default."""

import argparse
import os

import pytest

from engine.server import cli
from engine.server.server import ServerError, check_host, is_loopback, start_server


def parse(*argv):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_bind_to_loopback():
    args = parse("--model", "m")
    assert args.host == "127.0.0.1" and args.port == cli.DEFAULT_PORT
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_a_non_loopback_host_needs_an_api_key(capsys):
    with pytest.raises(ServerError, match="set an API key"):
        check_host("0.0.0.0", None)
    check_host("0.0.0.0", "secret")
    with pytest.raises(ServerError):
        start_server(object(), "0.0.0.0", 0, None)
    assert cli.run(parse("--model", "m", "--host", "0.0.0.0")) == 2
    assert "API key" in capsys.readouterr().err


def test_bad_arguments_are_refused_before_loading(capsys):
    no_model = parse()
    no_model.model = None  # whatever TANDEM_MODEL says
    assert cli.run(no_model) == 2
    assert cli.run(parse("--model", "m", "--max-sessions", "0")) == 2
    assert "must be positive" in capsys.readouterr().err


def test_a_model_that_cannot_load_is_a_clear_failure(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TANDEM_API_KEY", raising=False)
    assert cli.run(parse("--model", str(tmp_path / "nothing-here"), "--port", "0")) == 1
    assert "cannot load the model" in capsys.readouterr().err


def test_the_server_gives_its_engine_its_own_eviction_folder_and_removes_it(tmp_path, monkeypatch):
    import engine.worker

    folders = []
    real = engine.worker.EngineWorker

    def recording(on_event, **options):
        folders.append(options.get("eviction_folder"))
        assert folders[-1] is not None and os.path.isdir(folders[-1])
        return real(on_event, **options)

    monkeypatch.setattr(engine.worker, "EngineWorker", recording)
    monkeypatch.delenv("TANDEM_API_KEY", raising=False)
    assert cli.run(parse("--model", str(tmp_path / "nothing-here"), "--port", "0")) == 1
    [folder] = folders
    assert "tandem-serve-kv-" in folder and not os.path.exists(folder)  # gone on exit
