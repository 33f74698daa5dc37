"""`tandem chat`: a conversation in the terminal, on one live session (the cache is kept across turns).

Commands inside the chat: /image PATH and /audio PATH attach a file to the next message,
/undo goes back one turn, /regen regenerates the last answer, /save PATH and /load PATH keep the
conversation's cache on disk, /quit ends.
"""

from __future__ import annotations

import argparse
import sys

from engine.cli.common import (
    add_model_arguments,
    open_session,
    print_turn,
    settings_from,
    user_errors,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from engine.inputs.audio import load_audio
    from engine.session import Cancelled
    from engine.session.persistence import load_session, save_session

    try:
        session = open_session(args)
    except user_errors() as e:
        print(f"tandem: {e}", file=sys.stderr)
        return 1
    settings = settings_from(args)
    attachments: list[dict] = []
    print("tandem chat: type a message; /image, /audio, /undo, /regen, /save, /load, /quit",
          file=sys.stderr)
    while True:
        try:
            line = input("> ")
        except EOFError:
            return 0
        word, _, rest = line.strip().partition(" ")
        try:
            if word == "/quit":
                return 0
            elif word == "/image":
                attachments.append({"type": "image", "image": rest.strip()})
            elif word == "/audio":
                attachments.append({"type": "audio", "audio": load_audio(rest.strip())})
            elif word == "/undo":
                if session.user_turns:
                    list(session.rollback(session.user_turns - 1))
            elif word == "/regen":
                print_turn(session.regenerate(settings), args.stats)
            elif word == "/save":
                save_session(session, rest.strip())
            elif word == "/load":
                load_session(session, rest.strip())
            elif line.strip():
                content = attachments + [{"type": "text", "text": line}]
                attachments = []
                print_turn(session.send(content, settings), args.stats)
        except user_errors() as e:
            print(f"tandem: {e}", file=sys.stderr)
        except (KeyboardInterrupt, Cancelled):
            print("\ntandem: stopped", file=sys.stderr)
