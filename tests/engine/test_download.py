"""engine.download: huggingface_hub's failures as sentences, progress, cancel, and partial downloads (no network)."""

from __future__ import annotations

import errno
import json
import threading

import httpx2
import pytest
from huggingface_hub import errors as hub

from engine.download import (
    DownloadCancelled,
    DownloadError,
    describe_download_error,
    download_repo,
    missing_files,
    partial_files,
)

REPO = "someone/model"


def http(cls, status: int, message: str = "raw library text"):
    request = httpx2.Request("GET", f"https://huggingface.co/api/models/{REPO}")
    return cls(message, response=httpx2.Response(status, request=request))


def raised_from(outer: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise outer from inner
    except BaseException as e:  # noqa: BLE001
        return e


CASES = [
    (http(hub.GatedRepoError, 403), "someone/model is gated", True),
    (http(hub.RepositoryNotFoundError, 404), "no repository someone/model", True),
    (http(hub.HfHubHTTPError, 401), "refused access", True),
    (http(hub.HfHubHTTPError, 503), "not answering properly right now (error 503)", False),
    (http(hub.HfHubHTTPError, 429), "limiting how fast", False),
    (httpx2.ConnectError("[Errno -3] Temporary failure in name resolution"), "could not reach", False),
    (raised_from(hub.LocalEntryNotFoundError("An error happened while trying to locate the files"),
                 httpx2.ConnectTimeout("timed out")), "could not reach", False),
    (hub.OfflineModeIsEnabled("offline"), "HF_HUB_OFFLINE", False),
    (OSError(errno.ENOSPC, "No space left on device"), "disk is full", False),
    (PermissionError(errno.EACCES, "Permission denied", "/models/x"), "may not write to /models/x", False),
    (RuntimeError("something inside the library"), "stopped unexpectedly", False),
]


@pytest.mark.parametrize("error, words, token", CASES, ids=[type(c[0]).__name__ + str(i) for i, c in
                                                         enumerate(CASES)])
def test_each_failure_is_a_sentence_with_what_to_do(error, words, token):
    text = describe_download_error(error, REPO)
    assert words in text
    assert text.endswith(".") and text[0].isupper()
    assert "raw library text" not in text and "Error" not in text  # no library text, no class names
    with pytest.raises(DownloadError) as caught:
        download_repo(REPO, _tmp(), lambda *a: None, threading.Event(), snapshot=_raising(error))
    assert str(caught.value) == text and caught.value.needs_token is token
    assert caught.value.detail  # the library's text is kept for a log


def _tmp():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp())


def _raising(error):
    def snapshot(*args, **kwargs):
        raise error
    return snapshot


def fake_repo(target, shards=("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")):
    target.mkdir(parents=True, exist_ok=True)
    (target / "config.json").write_text("{}")
    (target / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {f"w{i}": s for i, s in enumerate(shards)}}))
    for s in shards:
        (target / s).write_bytes(b"x" * 10)


def test_progress_reports_bytes_and_the_token_reaches_the_hub(tmp_path):
    seen, calls = [], []

    def snapshot(repo_id, local_dir, token, tqdm_class):
        calls.append((repo_id, token))
        # huggingface_hub >= 1 keeps two byte bars (received and written) plus a file counter.
        files = tqdm_class(total=2, unit="it")
        received = tqdm_class(total=0, unit="B")
        written = tqdm_class(total=0, unit="B")
        for bar in (received, written):
            bar.total = 100
        for _ in range(4):
            received.update(25)
            written.update(20)
        files.update(2)
        fake_repo(tmp_path / "m")
        return local_dir

    folder = download_repo(REPO, tmp_path / "m", lambda d, t: seen.append((d, t)), threading.Event(),
                           token="hf_secret", snapshot=snapshot)
    assert folder == tmp_path / "m" and calls == [(REPO, "hf_secret")]
    assert seen[-1] == (100, 100) and all(t == 100 for _, t in seen)


def test_cancel_stops_at_the_next_chunk(tmp_path):
    cancelled = threading.Event()

    def snapshot(repo_id, local_dir, token, tqdm_class):
        bar = tqdm_class(total=100, unit="B")
        bar.update(10)
        cancelled.set()
        bar.update(10)
        raise AssertionError("the download went on after a cancel")

    with pytest.raises(DownloadCancelled):
        download_repo(REPO, tmp_path / "m", lambda *a: None, cancelled, snapshot=snapshot)


def test_a_partial_download_is_seen_and_not_taken_for_a_model(tmp_path):
    target = tmp_path / "m"
    fake_repo(target)
    (target / "model-00002-of-00002.safetensors").unlink()
    part = target / ".cache" / "huggingface" / "download" / "abc.123.incomplete"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"half")
    assert partial_files(target) == [part]
    assert missing_files(target) == ["model-00002-of-00002.safetensors", "abc.123.incomplete"]
    # huggingface_hub hands back a partial local folder when it cannot reach the Hub.
    with pytest.raises(DownloadError, match="not complete yet .2 file.s. missing.*resumes where it stopped"):
        download_repo(REPO, target, lambda *a: None, threading.Event(), snapshot=lambda *a, **k: str(target))


def test_the_real_hub_client_offline_says_so(tmp_path):
    """tests/conftest.py sets HF_HUB_OFFLINE=1: the real snapshot_download refuses, and we say why."""
    with pytest.raises(DownloadError, match="HF_HUB_OFFLINE"):
        download_repo(REPO, tmp_path / "m", lambda *a: None, threading.Event())


def test_the_real_hub_client_returns_a_partial_folder_offline_and_we_notice(tmp_path):
    target = tmp_path / "m"
    fake_repo(target)
    (target / "model-00001-of-00002.safetensors").unlink()
    with pytest.raises(DownloadError, match="not complete yet"):
        download_repo(REPO, target, lambda *a: None, threading.Event())
