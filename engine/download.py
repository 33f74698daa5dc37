"""Fetch a Hugging Face repository into a folder: progress, cancel, resume, and failures told as sentences.

`download_repo(repo_id, target, progress, cancelled)` runs huggingface_hub's `snapshot_download` into `target`.
Files already there are kept, and a file cut off halfway resumes where it stopped (huggingface_hub keeps the part
under `target/.cache/huggingface/download/`). `progress(done, total)` gets bytes; setting `cancelled` stops the
download at the next chunk with `DownloadCancelled`. Every other failure raises `DownloadError`, whose message
says what happened and what to do next (`describe_download_error` maps huggingface_hub's exceptions, network
errors and a full disk); `detail` keeps the library's own text for a log. Qt-free and MLX-free.
"""

from __future__ import annotations

import errno
import importlib
import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

ProgressCallback = Callable[[int, int], None]  # bytes done, bytes total
HUB = "https://huggingface.co"
TOKEN_HELP = (
    f"create a read token at {HUB}/settings/tokens and paste it into Tandem's model manager "
    "(or run `hf auth login` in Terminal, or set HF_TOKEN)"
)
RESUMES = "What was downloaded so far is kept; the download resumes where it stopped."


class DownloadCancelled(Exception):
    """The person stopped the download; what was fetched is kept for next time."""


class DownloadError(Exception):
    """A download failed; the message is a sentence for the person, `detail` the library's own text."""

    def __init__(self, message: str, detail: str = "", needs_token: bool = False) -> None:
        super().__init__(message)
        self.detail = detail
        self.needs_token = needs_token


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _types(module: str, *names: str) -> tuple[type, ...]:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return ()
    return tuple(t for t in (getattr(mod, n, None) for n in names) if isinstance(t, type))


def _network_types() -> tuple[type, ...]:
    """Connection and timeout errors of the HTTP libraries huggingface_hub has used (httpx2, httpx, requests)."""
    out: tuple[type, ...] = (ConnectionError, TimeoutError)
    for module in ("httpx2", "httpx"):
        out += _types(
            module, "ConnectError", "TimeoutException", "NetworkError", "RemoteProtocolError"
        )
    out += _types("requests.exceptions", "ConnectionError", "Timeout")
    return out


def _status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def describe_download_error(error: BaseException, repo_id: str) -> str:
    """One or two sentences for the person: what went wrong with `repo_id` and what to do next."""
    return _classify(error, repo_id)[0]


def _classify(error: BaseException, repo_id: str) -> tuple[str, bool]:
    """(the sentence, whether an access token would help)."""
    gated = _types("huggingface_hub.errors", "GatedRepoError")
    not_found = _types("huggingface_hub.errors", "RepositoryNotFoundError")
    revision = _types("huggingface_hub.errors", "RevisionNotFoundError")
    http = _types("huggingface_hub.errors", "HfHubHTTPError")
    offline = _types("huggingface_hub.errors", "OfflineModeIsEnabled")
    network = _network_types()
    for e in _chain(error):
        if isinstance(e, DownloadError):
            return str(e), e.needs_token
        if gated and isinstance(e, gated):
            return (
                f"The repository {repo_id} is gated: open {HUB}/{repo_id}, sign in and accept its terms, "
                f"then {TOKEN_HELP}, and press Download again."
            ), True
        if not_found and isinstance(e, not_found) or _status(e) == 404:
            return (
                f"There is no repository {repo_id} on Hugging Face, or it is private. Check the name; for "
                f"a private repository, {TOKEN_HELP}."
            ), True
        if revision and isinstance(e, revision):
            return (
                f"The repository {repo_id} has no such revision. Check the name and try again.",
                False,
            )
        if _status(e) in (401, 403):
            return (
                f"Hugging Face refused access to {repo_id}: the access token is missing, wrong or lacks "
                f"permission. To give one, {TOKEN_HELP}; then try again."
            ), True
        if _status(e) == 429:
            return (
                "Hugging Face is limiting how fast this computer may download. Wait a few minutes and "
                f"press Download again. {RESUMES}"
            ), False
        if (status := _status(e)) is not None and status >= 500:
            return (
                f"Hugging Face is not answering properly right now (error {status}). Try again in a few "
                f"minutes. {RESUMES}"
            ), False
        if offline and isinstance(e, offline):
            return _offline(), False
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return (
                "The disk is full. Free some space (the model manager says how much each model needs) and "
                f"press Download again. {RESUMES}"
            ), False
        if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            where = f" {e.filename}" if e.filename else ""
            return (
                f"Tandem may not write to{where or ' the models folder'}. Check that the disk is writable "
                "and try again."
            ), False
        if network and isinstance(e, network):
            return _no_network(), False
    if _is_local_entry_missing(error) and os.environ.get("HF_HUB_OFFLINE", "").lower() in (
        "1",
        "true",
    ):
        return _offline(), False
    if http and isinstance(error, http) or _is_local_entry_missing(error):
        return _no_network(), False
    return (
        f"The download of {repo_id} stopped unexpectedly. Press Download to try again. {RESUMES}"
    ), False


def _offline() -> str:
    return (
        "Downloads are switched off on this computer (HF_HUB_OFFLINE is set). Unset it and start Tandem "
        "again to download a model."
    )


def _no_network() -> str:
    return (
        "Tandem could not reach Hugging Face. Check the internet connection and press Download again. "
        f"{RESUMES}"
    )


def _is_local_entry_missing(error: BaseException) -> bool:
    missing = _types("huggingface_hub.errors", "LocalEntryNotFoundError")
    return bool(missing) and isinstance(error, missing)


def partial_files(target: Path) -> list[Path]:
    """Files huggingface_hub left half-downloaded in `target` (they resume on the next download)."""
    cache = target / ".cache" / "huggingface" / "download"
    return sorted(cache.rglob("*.incomplete")) if cache.is_dir() else []


def downloaded_bytes(target: Path) -> int:
    """Bytes already in `target`, finished files and partial ones alike."""
    if not target.is_dir():
        return 0
    return sum(p.stat().st_size for p in target.rglob("*") if p.is_file())


def missing_files(folder: Path) -> list[str]:
    """What a downloaded checkpoint still lacks: config.json, shards its index lists, or half-done files."""
    out = []
    if not (folder / "config.json").is_file():
        out.append("config.json")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (ValueError, KeyError, TypeError, AttributeError):
            shards = set()
            out.append(index.name)
        out += sorted(name for name in shards if not (folder / name).is_file())
    out += [p.name for p in partial_files(folder)]
    return out


def _reporter(progress: ProgressCallback, cancelled: threading.Event) -> type:
    """A tqdm class for snapshot_download: reports bytes, and stops the download when `cancelled` is set."""
    from tqdm.auto import tqdm

    bars: list[tqdm] = []
    lock = threading.Lock()

    class Reporter(tqdm):
        def __init__(self, *args, **kwargs) -> None:
            kwargs.setdefault("file", io.StringIO())  # counted, never drawn
            kwargs.pop("name", None)
            super().__init__(*args, **kwargs)
            with lock:
                bars.append(self)

        def update(self, n: float | None = 1) -> bool | None:
            if cancelled.is_set():
                raise DownloadCancelled()
            result = super().update(n)
            with lock:
                # huggingface_hub 1.x+ keeps two byte counters (received and written); report the one ahead.
                counted = [b for b in bars if b.unit == "B"]
                if counted:
                    progress(
                        max(int(b.n) for b in counted), max(int(b.total or 0) for b in counted)
                    )
            return result

    return Reporter


def download_repo(
    repo_id: str,
    target: Path,
    progress: ProgressCallback,
    cancelled: threading.Event,
    token: str | None = None,
    snapshot: Callable[..., str] | None = None,
) -> Path:
    """Download (or finish downloading) `repo_id` into the folder `target`; returns it.

    Raises:
        DownloadCancelled: `cancelled` was set; the files fetched so far stay for the next try.
        DownloadError: anything else, as a sentence (see `describe_download_error`).
    """
    if snapshot is None:
        from huggingface_hub import snapshot_download as snapshot
    if cancelled.is_set():
        raise DownloadCancelled()
    try:
        target.mkdir(parents=True, exist_ok=True)
        folder = Path(
            snapshot(
                repo_id,
                local_dir=str(target),
                token=token or None,
                tqdm_class=_reporter(progress, cancelled),
            )
        )
    except DownloadCancelled:
        raise
    except Exception as e:
        if cancelled.is_set():
            raise DownloadCancelled() from e
        message, needs_token = _classify(e, repo_id)
        raise DownloadError(
            message, detail=f"{type(e).__name__}: {e}", needs_token=needs_token
        ) from e
    missing = missing_files(folder)
    if missing:
        # huggingface_hub hands back a partial folder when it cannot reach the Hub to finish it.
        raise DownloadError(
            f"The download of {repo_id} is not complete yet ({len(missing)} file(s) missing, such as "
            f"{missing[0]}), and Tandem could not reach Hugging Face to finish it. Check the internet "
            f"connection and press Download again. {RESUMES}",
            detail=", ".join(missing),
        )
    return folder
