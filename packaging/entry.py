"""The bundle's executable: `Tandem [--self-test | COMMAND ...]`.

`--self-test` runs `app.self_test.run_self_test()` and exits with its status. Anything else goes to
the `tandem` command line (`engine.cli.main`), with `app` as the command when none is named, so a
double-click opens the window and `Tandem --model PATH` passes the option on to `tandem app`.
"""

from __future__ import annotations

import multiprocessing
import sys

SELF_TEST_FLAG = "--self-test"


def command_line(argv: list[str]) -> list[str]:
    """The `tandem` arguments for the bundle's `argv` (without the program name)."""
    from engine.cli import SUBCOMMANDS

    # Finder passes -psn_0_NNN (a process serial number) to apps started from it on old macOS.
    argv = [a for a in argv if not a.startswith("-psn_")]
    if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help")):
        return argv
    return ["app", *argv]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if SELF_TEST_FLAG in argv:
        from app.self_test import run_self_test

        return run_self_test()
    from engine.cli import main as cli_main

    return cli_main(command_line(argv))


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
