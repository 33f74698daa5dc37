"""Get a model: download it from Hugging Face, pick a local folder, or use the demo checkpoint.

Before a download the dialog checks free disk space and installed memory and says plainly when the
Mac is too small. The download runs off the GUI thread (`Tasks`, app.ui.tasks) through a
`Downloader` (by default huggingface_hub's `snapshot_download`, which resumes partial files on its
own); progress comes back to the GUI thread, and Cancel stops it between chunks. A checkpoint that
is not quantized yet is then converted to 4-bit once, by `tandem convert` in a child process (MLX
work stays off the GUI process's threads, and Cancel can stop it). When done it emits
`model_chosen(folder)`.
`demo_requested` asks for the generated demo checkpoint (random weights).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.status_bar import format_bytes
from app.ui.tasks import Tasks

DEFAULT_REPO = "google/gemma-4-12B-unified-it"  # editable in the dialog
GB = 1024**3
NEED_DISK = 34 * GB  # bf16 weights (~24 GB) and the drafter, plus the 4-bit copy (~7 GB)
NEED_MEMORY = 16 * GB  # the 4-bit 12B model plus a working KV cache and the app


class DownloadCancelled(Exception):
    pass


ProgressCallback = Callable[[int, int], None]  # bytes done, bytes total


class Downloader(Protocol):
    def __call__(self, repo_id: str, target: Path, progress: ProgressCallback,
                 cancelled: threading.Event) -> Path: ...


def hub_download(repo_id: str, target: Path, progress: ProgressCallback,
                 cancelled: threading.Event) -> Path:
    """Download `repo_id` into `target` with huggingface_hub; partial files resume next time."""
    from huggingface_hub import snapshot_download
    from tqdm.auto import tqdm

    class Reporter(tqdm):  # snapshot_download reports bytes through its tqdm_class
        def update(self, n: float | None = 1) -> bool | None:
            if cancelled.is_set():
                raise DownloadCancelled()
            result = super().update(n)
            if self.unit == "B":
                progress(int(self.n), int(self.total or 0))
            return result

    path = snapshot_download(repo_id, local_dir=str(target), tqdm_class=Reporter)
    return Path(path)


Converter = Callable[[Path, Path, threading.Event], None]


def needs_conversion(folder: Path) -> bool:
    """True for a float checkpoint (no quantization entry in its config.json)."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False  # not a checkpoint folder we understand: let the engine say what is wrong
    return "quantization" not in config and "quantization_config" not in config


def convert_in_subprocess(src: Path, dst: Path, cancelled: threading.Event,
                          command: list[str] | None = None) -> None:
    """Run `tandem convert SRC DST --bits 4` (or `command`); raise DownloadCancelled or RuntimeError."""
    command = command or [sys.executable, "-m", "engine.cli", "convert", str(src), str(dst),
                          "--bits", "4"]
    import engine

    root = str(Path(engine.__file__).resolve().parents[1])  # works from a source checkout too
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    while process.poll() is None:
        if cancelled.wait(0.1):
            process.kill()
            process.wait()
            shutil.rmtree(dst, ignore_errors=True)  # a half-written folder must not look usable
            raise DownloadCancelled()
    if process.returncode != 0:
        output = (process.stdout.read() if process.stdout else "").strip().splitlines()
        raise RuntimeError("the 4-bit conversion failed: " + (output[-1] if output else "no output"))


def total_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0  # unknown: do not block the download on it


def check_requirements(free_disk: int, memory: int, need_disk: int = NEED_DISK,
                       need_memory: int = NEED_MEMORY) -> list[str]:
    """Plain-language reasons this Mac cannot run the model; empty when it can."""
    problems = []
    if free_disk < need_disk:
        problems.append(f"The download needs {format_bytes(need_disk)} of free disk space, "
                        f"and this Mac has {format_bytes(free_disk)} free.")
    if memory and memory < need_memory:
        problems.append(f"The model needs a Mac with at least {format_bytes(need_memory)} of memory; "
                        f"this one has {format_bytes(memory)}.")
    return problems


class ModelManagerDialog(QDialog):
    model_chosen = Signal(str)
    demo_requested = Signal()
    progress_changed = Signal(int, int)  # bytes done, total; -1, -1 while converting
    download_finished = Signal(str, str)  # folder, error ("" on success; "cancelled")

    def __init__(self, models_dir: Path, parent: QWidget | None = None,
                 downloader: Downloader = hub_download,
                 disk_free: Callable[[Path], int] | None = None,
                 memory: Callable[[], int] = total_memory,
                 converter: Converter = convert_in_subprocess) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setMinimumWidth(520)
        self.models_dir = Path(models_dir)
        self._downloader = downloader
        self._disk_free = disk_free or (lambda p: shutil.disk_usage(_existing(p)).free)
        self._memory = memory
        self._converter = converter
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._tasks = Tasks(self)

        intro = QLabel("Tandem runs Gemma 4 12B on this Mac. Download it once (about 24 GB), "
                       "or try the app with a demo checkpoint whose random weights answer with noise.")
        intro.setWordWrap(True)
        self.repo = QLineEdit(DEFAULT_REPO)
        self.repo.setPlaceholderText("Hugging Face repo id, like org/name")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button = QPushButton("Cancel Download")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.folder_button = QPushButton("Use a Folder…")
        self.folder_button.clicked.connect(self._choose_folder)
        self.demo_button = QPushButton("Use Demo Checkpoint (random weights)")
        self.demo_button.clicked.connect(self._use_demo)
        repo_row = QHBoxLayout()
        repo_row.addWidget(self.repo, 1)
        repo_row.addWidget(self.download_button)
        repo_row.addWidget(self.cancel_button)
        other = QHBoxLayout()
        other.addWidget(self.folder_button)
        other.addStretch(1)
        other.addWidget(self.demo_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(repo_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(other)
        self.progress_changed.connect(self._show_progress)
        self.download_finished.connect(self._finished)

    def target_for(self, repo_id: str) -> Path:
        return self.models_dir / repo_id.replace("/", "--")

    def start_download(self) -> bool:
        repo_id = self.repo.text().strip()
        if repo_id.count("/") != 1 or " " in repo_id or repo_id.startswith("/"):
            self.message.setText("Enter a Hugging Face repo id like org/name.")
            return False
        problems = check_requirements(self._disk_free(self.models_dir), self._memory())
        if problems:
            self.message.setText("This Mac is too small for the model. " + " ".join(problems))
            return False
        target = self.target_for(repo_id)
        target.mkdir(parents=True, exist_ok=True)
        self._cancel.clear()
        self.download_button.setVisible(False)
        self.cancel_button.setVisible(True)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.message.setText(f"Downloading {repo_id}… (an interrupted download resumes where it stopped)")

        def report(done: int, total: int) -> None:  # on the download thread
            self._tasks.run_on_main(lambda: self.progress_changed.emit(done, total))

        def work() -> str:
            folder = Path(self._downloader(repo_id, target, report, self._cancel))
            if needs_conversion(folder):
                converted = folder.with_name(folder.name + "-4bit")
                if not (converted / "config.json").exists():
                    report(-1, -1)  # "converting" (no byte counts)
                    self._converter(folder, converted, self._cancel)
                folder = converted
            return str(folder)

        def failed(exc: Exception) -> None:
            if isinstance(exc, DownloadCancelled):
                self.download_finished.emit(str(target), "cancelled")
            else:
                self.download_finished.emit(str(target), str(exc) or type(exc).__name__)

        self._thread = self._tasks.run_in_background(
            work, on_done=lambda folder: self.download_finished.emit(folder, ""),
            on_failure=failed, name="model-download")
        return True

    def cancel_download(self) -> None:
        self._cancel.set()
        self.message.setText("Cancelling…")

    def is_downloading(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _show_progress(self, done: int, total: int) -> None:
        if total < 0:
            self.progress.setRange(0, 0)
            self.message.setText("Converting to 4-bit (once; a few minutes)…")
        elif total > 0:
            scale = 1024 * 1024  # QProgressBar holds ints; MB keep 24 GB in range
            self.progress.setRange(0, max(1, total // scale))
            self.progress.setValue(done // scale)
            self.message.setText(f"Downloaded {format_bytes(done)} of {format_bytes(total)}")

    def _finished(self, folder: str, error: str) -> None:
        self.download_button.setVisible(True)
        self.cancel_button.setVisible(False)
        self.progress.setVisible(False)
        if error == "cancelled":
            self.message.setText("Download cancelled. Press Download to resume it later.")
        elif error:
            self.message.setText(f"The download failed: {error}")
        else:
            self.message.setText("Downloaded.")
            self.model_chosen.emit(folder)
            self.accept()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.model_chosen.emit(folder)
            self.accept()

    def _use_demo(self) -> None:
        self.demo_requested.emit()
        self.accept()

    def reject(self) -> None:
        self._cancel.set()  # closing the dialog stops a running download
        super().reject()


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
