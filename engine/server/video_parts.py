"""Video content parts in OpenAI-style requests.

Contract:
- Accepted parts (the shapes clients send; OpenAI's own API has no video part):
  `{"type": "video_url", "video_url": {"url": URL}}` (vLLM, SGLang, OpenRouter, mlx-vlm) and
  `{"type": "input_video", "video_url": {"url": URL}}` (mlx-vlm's Responses-style name); in both,
  `video_url` may also be the URL string itself. URL: a base64 data URL `data:video/<any>;base64,...`
  (MP4, MOV, WebM, MKV, AVI inside), a `file://` URL or an absolute path (only when the server
  allows local files). Remote `http(s)` URLs are refused: the server never fetches anything.
- An optional `"sound": false` on the part (or in `video_url`) sends the pictures without the sound.
- `video_part(part, where, allow_files)` gives the part as a `conversation.Part` of kind "video".
- `video_ref(part, where, allow_files)` returns a digest (the same video in a later request gives
  the same digest, so a kept conversation is recognised) and a loader that reads the video with
  `engine.inputs.video` and gives the content items: the video, then its sound as audio clips
  (the reference's order). Every problem raises `RequestError` (HTTP 400) naming the part.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.server.conversation import Part
from engine.server.items import RequestError
from engine.server.media import local_media_path

VIDEO_PART_TYPES = ("video_url", "input_video")


def _url_and_sound(part: dict, where: str) -> tuple[str, bool]:
    ref = part.get("video_url")
    if isinstance(ref, dict):
        url, sound = ref.get("url"), ref.get("sound", part.get("sound", True))
    else:
        url, sound = ref, part.get("sound", True)
    if not isinstance(url, str) or not url:
        raise RequestError(f"{where}.video_url must be a URL string or {{\"url\": ...}}", where)
    if not isinstance(sound, bool):
        raise RequestError(f"{where}.sound must be true or false", where)
    return url, sound


def video_ref(part: dict, where: str, allow_files: bool = True) -> tuple[str, Callable]:
    """(digest, loader) for one video part; the loader returns a list of content items."""
    url, sound = _url_and_sound(part, where)
    tag = "|sound" if sound else "|silent"
    if url.startswith("data:"):
        head, sep, payload = url.partition(",")
        if not sep or ";base64" not in head or not head[5:].startswith("video/"):
            raise RequestError(
                f"{where}.video_url must be a base64 data URL (data:video/...;base64,...)", where
            )
        digest = hashlib.sha256(payload.encode() + tag.encode()).hexdigest()
        return digest, lambda: _load(_b64(payload, where), sound, where)
    path = local_media_path(url, where, allow_files, "video", named=f"{where}.video_url")
    st = Path(path).stat()
    digest = hashlib.sha256(f"{path}|{st.st_size}|{st.st_mtime_ns}{tag}".encode()).hexdigest()
    return digest, lambda: _load(path, sound, where)


def video_part(part: dict, where: str, allow_files: bool = True) -> Part:
    """A video part of a user message; its size counts the data URL it holds."""
    digest, load = video_ref(part, where, allow_files)
    url, _ = _url_and_sound(part, where)
    return Part("video", digest=digest, load=load, size=len(url))


def _b64(data: str, where: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as e:
        raise RequestError(f"{where}.video_url is not valid base64", where) from e


def _load(source: Any, sound: bool, where: str) -> list[dict]:
    from engine.inputs.video import VideoError, with_soundtracks

    try:
        return with_soundtracks([{"type": "video", "video": source, "sound": sound}])
    except VideoError as e:
        raise RequestError(f"{where}: {e}", where) from e
