"""`tandem generate`: answer one prompt (text, images, audio and video files) and exit."""

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
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--image", action="append", default=[], help="an image file (repeatable)")
    parser.add_argument("--audio", action="append", default=[], help="an audio file (repeatable)")
    parser.add_argument("--video", action="append", default=[],
                        help="a video file: 32 frames and its sound (repeatable)")
    parser.add_argument("--no-video-sound", action="store_true",
                        help="send the videos' pictures without their sound")


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except user_errors() as e:
        print(f"tandem: {e}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from engine.inputs.audio import load_audio, split_audio
    from engine.inputs.video import with_soundtracks

    content: list[dict] = [{"type": "image", "image": path} for path in args.image]
    for path in args.audio:
        clips = split_audio(load_audio(path))
        if len(clips) > 1:
            print(f"tandem: {path} is longer than 30 s; sent as {len(clips)} consecutive clips",
                  file=sys.stderr)
        content += [{"type": "audio", "audio": clip} for clip in clips]
    # Videos are read before the model loads, so a bad file is reported at once.
    videos = [{"type": "video", "video": path, "sound": not args.no_video_sound}
              for path in args.video]
    for item in with_soundtracks(videos):
        content.append(item)
        if item["type"] == "video":
            print(f"tandem: {item['video'].summary}", file=sys.stderr)
    content.append({"type": "text", "text": args.prompt})
    session = open_session(args)
    reason = print_turn(session.send(content, settings_from(args)), args.stats)
    return 0 if reason in ("stop", "length", "tool_calls") else 1
