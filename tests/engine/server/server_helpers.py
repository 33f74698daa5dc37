"""Test media (a PNG, a WAV) made here, and raw HTTP for bodies the official clients never send."""

import base64
import http.client
import io
import json

import numpy as np
import soundfile
from PIL import Image

API_KEY = "test-key"
BODY_LIMIT = 256 * 1024


def png_bytes(size=(96, 64), color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def png_data_url(**kw) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(**kw)).decode()


def wav_bytes(seconds=0.5, rate=16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    soundfile.write(
        buf,
        (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
        rate,
        format="WAV",
        subtype="PCM_16",
    )
    return buf.getvalue()


def wav_b64(**kw) -> str:
    return base64.b64encode(wav_bytes(**kw)).decode()


def post(base: str, path: str, body: bytes | dict, headers: dict | None = None):
    """POST raw bytes (or JSON) to the server; returns (status, parsed JSON body)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn.request(
        "POST", path, body=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, json.loads(raw) if raw else None
