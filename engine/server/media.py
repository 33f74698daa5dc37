"""Images and audio in API requests: digests for comparing turns, decoding only when fed.

Contract:
- `image_ref(url)` takes an OpenAI `image_url.url` (or an Anthropic image source turned into one):
  a `data:image/...;base64,...` URL, a `file://` URL or an absolute local path. It returns a digest
  (the same for the same image in a later request) and a loader that gives a decoded RGB
  `PIL.Image`. Remote `http(s)` URLs are refused: the server never fetches anything. Local paths
  can be turned off (`allow_files=False`) for a server that others reach.
- `audio_ref(data_b64, fmt)` does the same for an OpenAI `input_audio` part (base64 WAV, MP3, FLAC,
  OGG): the loader gives 16 kHz mono float32 clips, a recording over the model's 30 s per clip split
  into consecutive clips.
- Every problem raises `RequestError` (HTTP 400) that says what is wrong with which part.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlparse

from engine.server.items import RequestError

AUDIO_FORMATS = ("wav", "mp3", "flac", "ogg")


def _digest(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def _b64(data: str, where: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as e:
        raise RequestError(f"{where} is not valid base64: {e}", where) from e


def image_ref(url: str, where: str, allow_files: bool = True) -> tuple[str, Callable]:
    if not isinstance(url, str) or not url:
        raise RequestError(f"{where} must be a non-empty URL string", where)
    if url.startswith("data:"):
        head, sep, payload = url.partition(",")
        if not sep or ";base64" not in head or not head[5:].startswith("image/"):
            raise RequestError(
                f"{where} must be a base64 data URL (data:image/...;base64,...)", where
            )
        return _digest(payload), lambda: _load_image(_b64(payload, where), where)
    path = local_media_path(url, where, allow_files, "image")
    st = Path(path).stat()
    return _digest(f"{path}|{st.st_size}|{st.st_mtime_ns}"), lambda: _load_image(path, where)


def local_media_path(url: str, where: str, allow_files: bool, kind: str, named: str | None = None) -> str:
    """The local file a `file://` URL or absolute path names (an image's or a video's), checked.

    `kind` is what the person should send as a data URL instead; `named` the field the message names.
    """
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https"):
        raise RequestError(
            f"{where}: this server does not fetch remote URLs; send the {kind} as a data URL", where
        )
    if parsed.scheme == "file":
        path = unquote(parsed.path)
    elif parsed.scheme == "" and os.path.isabs(url):
        path = url
    else:
        raise RequestError(f"{named or where} must be a data URL, a file:// URL or an absolute path", where)
    if not allow_files:
        raise RequestError(
            f"{where}: local files are turned off on this server; send a data URL", where
        )
    if not Path(path).is_file():
        raise RequestError(f"{where}: '{path}' does not exist or is not a file", where)
    return path


def _load_image(source, where: str):
    from engine.inputs.image import ImageError, load_image

    try:
        return load_image(source)
    except ImageError as e:
        raise RequestError(f"{where}: {e}", where) from e


def audio_ref(data: str, fmt: str, where: str) -> tuple[str, Callable]:
    if not isinstance(data, str) or not data:
        raise RequestError(f"{where}.data must be a non-empty base64 string", where)
    if fmt not in AUDIO_FORMATS:
        raise RequestError(f"{where}.format must be one of {', '.join(AUDIO_FORMATS)}", where)
    return _digest(data), lambda: _load_audio(_b64(data, where), where)


def _load_audio(raw: bytes, where: str) -> list:
    from engine.inputs.audio import AudioError, load_audio, split_audio

    try:
        return split_audio(load_audio(raw))
    except AudioError as e:
        raise RequestError(f"{where}: {e}", where) from e
