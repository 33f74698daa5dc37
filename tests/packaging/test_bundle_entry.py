"""The bundle's entry point: `--self-test`, and `app` as the default `tandem` command."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("argv, expected", [
    ([], ["app"]),
    (["--model", "/m"], ["app", "--model", "/m"]),
    (["-psn_0_12345"], ["app"]),
    (["generate", "--help"], ["generate", "--help"]),
    (["make-checkpoint", "--out", "x"], ["make-checkpoint", "--out", "x"]),
    (["--help"], ["--help"]),
])
def test_command_line_defaults_to_app(bundle_entry, argv, expected):
    assert bundle_entry.command_line(argv) == expected


def test_self_test_flag_runs_the_self_test(bundle_entry, monkeypatch):
    import app.self_test

    monkeypatch.setattr(app.self_test, "run_self_test", lambda: 7)
    assert bundle_entry.main(["--self-test"]) == 7


def test_other_arguments_go_to_the_tandem_cli(bundle_entry, monkeypatch):
    import engine.cli

    seen = []
    monkeypatch.setattr(engine.cli, "main", lambda argv: seen.append(argv) or 0)
    assert bundle_entry.main(["--demo"]) == 0
    assert seen == [["app", "--demo"]]
