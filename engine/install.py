"""Models on disk: install one (download the model and its drafter, convert a float download to 4-bit once),
list what is installed, delete one. Qt-free and MLX-free; the model manager and `tandem download` use it.

Layout under the models folder: `<owner>--<name>/` holds a downloaded repository (huggingface_hub's resume data in
its `.cache/`), with the drafter in `drafter/` inside it, where the engine looks for it. A float download is
converted once into `<owner>--<name>-4bit/` (written under a hidden name and renamed into place when complete);
the float copy is then deleted, since the 4-bit one is what runs. A folder counts as installed once it has a
config.json and no half-downloaded file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.download import (
    DownloadCancelled,
    DownloadError,
    ProgressCallback,
    download_repo,
    downloaded_bytes,
    missing_files,
)
from engine.releases import RELEASES, Release

# stage ("model", "drafter", "convert"), bytes done, bytes total (0 when unknown)
StageProgress = Callable[[str, int, int], None]
Downloader = Callable[..., Path]  # download_repo's signature
Converter = Callable[[Path, Path, threading.Event], None]
CONVERT_BITS = 4
DELETING = ".deleting-"


def folder_for(repo_id: str) -> str:
    return repo_id.replace("/", "--")


def needs_conversion(folder: Path) -> bool:
    """True for a float checkpoint (no quantization entry in its config.json)."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False  # not a checkpoint folder we understand: let the engine say what is wrong
    return "quantization" not in config and "quantization_config" not in config


def is_complete(folder: Path) -> bool:
    return folder.is_dir() and not missing_files(folder)


def convert_in_subprocess(
    src: Path, dst: Path, cancelled: threading.Event, command: list[str] | None = None
) -> None:
    """Run `tandem convert SRC DST --bits 4` (or `command`) in a child process; DownloadCancelled or DownloadError."""
    command = command or [
        sys.executable,
        "-m",
        "engine.cli",
        "convert",
        str(src),
        str(dst),
        "--bits",
        str(CONVERT_BITS),
    ]
    import engine

    root = str(Path(engine.__file__).resolve().parents[1])  # works from a source checkout too
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    )
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    while process.poll() is None:
        if cancelled.wait(0.1):
            process.kill()
            process.wait()
            shutil.rmtree(dst, ignore_errors=True)  # a half-written folder must not look usable
            raise DownloadCancelled()
    if process.returncode != 0:
        output = (process.stdout.read() if process.stdout else "").strip().splitlines()
        last = output[-1] if output else "no output"
        raise DownloadError(
            "The conversion to 4-bit failed, so the model cannot be used yet. The download is kept; "
            "press Download to try the conversion again.",
            detail=last,
        )


def install(
    repo_id: str,
    models_dir: Path,
    progress: StageProgress,
    cancelled: threading.Event,
    *,
    drafter_repo_id: str | None = None,
    token: str | None = None,
    downloader: Downloader = download_repo,
    converter: Converter = convert_in_subprocess,
) -> Path:
    """Download `repo_id` (and its drafter) into `models_dir`, converting a float model to 4-bit once.

    Returns the folder to load. Raises DownloadCancelled or DownloadError (a sentence); what was downloaded
    stays for the next try, and no half-converted folder is ever left under a usable name.
    """
    source = models_dir / folder_for(repo_id)
    converted = models_dir / f"{source.name}-{CONVERT_BITS}bit"
    if is_complete(converted):
        folder = converted
    else:
        folder = downloader(repo_id, source, _stage(progress, "model"), cancelled, token=token)
    if drafter_repo_id and not is_complete(folder / "drafter"):
        downloader(
            drafter_repo_id, folder / "drafter", _stage(progress, "drafter"), cancelled, token=token
        )
    if folder == converted or not needs_conversion(folder):
        return folder
    progress("convert", 0, 0)
    _convert_into_place(folder, converted, cancelled, converter)
    shutil.rmtree(folder, ignore_errors=True)  # the float copy is no longer needed
    return converted


def install_release(
    release: Release,
    models_dir: Path,
    progress: StageProgress,
    cancelled: threading.Event,
    *,
    token: str | None = None,
    downloader: Downloader = download_repo,
    converter: Converter = convert_in_subprocess,
) -> Path:
    """`install` for a catalog entry: its model and its drafter."""
    return install(
        release.repo_id,
        models_dir,
        progress,
        cancelled,
        drafter_repo_id=release.drafter_repo_id,
        token=token,
        downloader=downloader,
        converter=converter,
    )


def _stage(progress: StageProgress, stage: str) -> ProgressCallback:
    return lambda done, total: progress(stage, done, total)


def _convert_into_place(
    src: Path, dst: Path, cancelled: threading.Event, converter: Converter
) -> None:
    partial = Path(tempfile.mkdtemp(prefix=f".{dst.name}.partial-", dir=dst.parent))
    try:
        partial.rmdir()  # the converter wants a new folder
        converter(src, partial, cancelled)
        if not (partial / "config.json").is_file():
            raise DownloadError(
                "The conversion to 4-bit stopped before it finished. Press Download to try again."
            )
        shutil.rmtree(dst, ignore_errors=True)
        os.replace(partial, dst)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


@dataclass(frozen=True)
class InstalledModel:
    """A folder under the models folder: complete or half-downloaded, and the catalog entry it is, if any."""

    folder: Path
    release: Release | None
    size_bytes: int
    complete: bool
    has_drafter: bool

    @property
    def title(self) -> str:
        return self.release.title if self.release else self.folder.name


def installed_models(models_dir: Path) -> list[InstalledModel]:
    """Every model folder under `models_dir`, catalog entries first; leftovers of an interrupted delete go."""
    if not models_dir.is_dir():
        return []
    by_folder = {}
    for r in RELEASES:
        by_folder[r.folder_name] = r
        by_folder.setdefault(r.download_folder_name, r)  # a download not converted yet
    out = []
    for folder in sorted(models_dir.iterdir()):
        if folder.name.startswith(DELETING):
            shutil.rmtree(folder, ignore_errors=True)
            continue
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        complete = is_complete(folder)
        if not complete and downloaded_bytes(folder) == 0:
            continue
        out.append(
            InstalledModel(
                folder=folder,
                release=by_folder.get(folder.name),
                size_bytes=downloaded_bytes(folder),
                complete=complete,
                has_drafter=is_complete(folder / "drafter"),
            )
        )
    order = {r.key: i for i, r in enumerate(RELEASES)}
    out.sort(
        key=lambda m: (
            order.get(m.release.key, len(order)) if m.release else len(order),
            m.folder.name,
        )
    )
    return out


def delete_model(folder: Path, models_dir: Path) -> None:
    """Remove a model folder under `models_dir`: first renamed away (so it is gone at once, or not at all),
    then deleted. Raises ValueError for a folder outside `models_dir`, OSError when it cannot be moved."""
    folder, models_dir = folder.resolve(), models_dir.resolve()
    if folder.parent != models_dir or not folder.is_dir():
        raise ValueError(f"{folder} is not a model folder under {models_dir}")
    trash = Path(tempfile.mkdtemp(prefix=f"{DELETING}{folder.name}-", dir=models_dir))
    try:
        os.replace(folder, trash / folder.name)
    except OSError:
        trash.rmdir()
        raise
    shutil.rmtree(trash, ignore_errors=True)
