"""Model > Manage Models: choose a build of Gemma 4 12B, download it with its drafter, use, or delete one.

The list shows the builds of `engine.releases` with their download size, the memory they need and what they take
(text, images, audio), the one recommended for this Mac, and every model folder already under the models folder
(which one is in use, which downloads are unfinished). Before a download the dialog checks free disk space and
memory and says plainly what is missing. The install (`engine.install`) runs off the GUI thread (`InstallJob`, on
app.ui.tasks): progress comes back to the GUI thread, Cancel stops it between chunks, and an interrupted download resumes where it stopped. A float
download is converted to 4-bit once, in a child process. Every failure is a sentence in the message area, with
what to do next; a gated repository opens a field for an access token. When done it emits
`model_chosen(folder)`; `demo_requested` asks for the generated demo checkpoint (random weights).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.model.install_job import InstallJob
from app.ui.model.texts import check_requirements, folder_text, intro_text, release_text, state_text
from app.ui.status_bar import format_bytes
from engine.download import download_repo, downloaded_bytes
from engine.install import (
    Converter,
    Downloader,
    InstalledModel,
    convert_in_subprocess,
    delete_model,
    folder_for,
    install,
    install_release,
    installed_models,
)
from engine.releases import RELEASES, Release, recommend, total_memory

REPO_ID = re.compile(r"[\w.-]+/[\w.-]+")
STAGES = {"model": "Downloading {title}", "drafter": "Downloading its drafter (for faster answers)"}


class ModelManagerDialog(QDialog):
    model_chosen = Signal(str)
    demo_requested = Signal()

    def __init__(
        self,
        models_dir: Path,
        parent: QWidget | None = None,
        *,
        current_model: str = "",
        downloader: Downloader = download_repo,
        converter: Converter = convert_in_subprocess,
        disk_free: Callable[[Path], int] | None = None,
        memory: Callable[[], int] = total_memory,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setMinimumSize(640, 520)
        self.setSizeGripEnabled(True)
        self.models_dir = Path(models_dir)
        self.current_model = current_model
        self._downloader, self._converter = downloader, converter
        self._disk_free = disk_free or (lambda p: shutil.disk_usage(_existing(p)).free)
        self._memory = memory()
        self.job = InstallJob(self)
        self._title = ""

        self.recommended = recommend(self._memory)
        intro = QLabel(intro_text(self._memory, self.recommended, self.models_dir))
        intro.setWordWrap(True)
        intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.choices = QListWidget()
        self.choices.setWordWrap(True)
        self.choices.setAccessibleName("Models")
        self.choices.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.choices.itemDoubleClicked.connect(lambda *_: self.action_button.click())
        self.action_button = QPushButton("Download")
        self.action_button.setDefault(True)
        self.action_button.clicked.connect(self._act)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.ask_delete)
        self.cancel_button = QPushButton("Cancel Download")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.repo = QLineEdit()
        self.repo.setPlaceholderText("Another Hugging Face repository, like owner/name")
        self.repo_button = QPushButton("Download")
        self.repo_button.clicked.connect(self.download_repo)
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText(
            "Hugging Face access token (hf_…), used for this download only"
        )
        self.token.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.message.setMinimumHeight(48)
        self.folder_button = QPushButton("Use a Folder…")
        self.folder_button.clicked.connect(self._choose_folder)
        self.demo_button = QPushButton("Use Demo Checkpoint (random weights)")
        self.demo_button.clicked.connect(self._use_demo)

        actions = QHBoxLayout()
        actions.addWidget(self.delete_button)
        actions.addStretch(1)
        actions.addWidget(self.cancel_button)
        actions.addWidget(self.action_button)
        repo_row = QHBoxLayout()
        repo_row.addWidget(self.repo, 1)
        repo_row.addWidget(self.repo_button)
        banner = QFrame()
        banner.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(banner)
        box.addWidget(self.progress)
        box.addWidget(self.message, 1)
        other = QHBoxLayout()
        other.addWidget(self.folder_button)
        other.addStretch(1)
        other.addWidget(self.demo_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.choices, 3)
        layout.addLayout(actions)
        layout.addLayout(repo_row)
        layout.addWidget(self.token)
        layout.addWidget(banner, 1)
        layout.addLayout(other)
        self.job.progress.connect(self._show_progress)
        self.job.finished.connect(self._finished)
        self.refresh()

    # ------------------------------------------------------------ the list

    def refresh(self) -> None:
        """Rebuild the list: the catalog, then every other model folder; keep the selection."""
        selected = self._selected_key()
        installed = {m.folder.name: m for m in installed_models(self.models_dir)}
        self.choices.clear()
        for choice in RELEASES:
            model = installed.pop(choice.folder_name, None) or installed.pop(
                choice.download_folder_name, None
            )
            self._add_row(
                choice.key,
                release_text(choice, self._memory, self.recommended, self._state(model)),
                choice,
                model,
            )
        for model in installed.values():
            self._add_row(model.folder.name, folder_text(model, self._state(model)), None, model)
        keys = [
            self.choices.item(i).data(Qt.ItemDataRole.UserRole)[0]
            for i in range(self.choices.count())
        ]
        wanted = selected or (self.recommended.key if self.recommended else keys[0])
        self.choices.setCurrentRow(keys.index(wanted) if wanted in keys else 0)
        self._update_buttons()

    def _add_row(
        self, key: str, text: str, choice: Release | None, model: InstalledModel | None
    ) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, (key, choice, model))
        self.choices.addItem(item)

    def _state(self, model: InstalledModel | None) -> str:
        return state_text(model, model is not None and self._in_use(model))

    def _in_use(self, model: InstalledModel) -> bool:
        if not self.current_model:
            return False
        try:
            return Path(self.current_model).resolve() == model.folder.resolve()
        except OSError:
            return False

    def _selected(self) -> tuple[str, Release | None, InstalledModel | None] | None:
        item = self.choices.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _selected_key(self) -> str | None:
        selected = self._selected()
        return selected[0] if selected else None

    def select(self, key: str) -> None:
        """Select the row of a catalog key or a folder name."""
        for i in range(self.choices.count()):
            if self.choices.item(i).data(Qt.ItemDataRole.UserRole)[0] == key:
                self.choices.setCurrentRow(i)
                return
        raise KeyError(key)

    def _update_buttons(self) -> None:
        busy = self.is_downloading()
        selected = self._selected()
        _, choice, model = selected if selected else (None, None, None)
        ready = (
            model is not None
            and model.complete
            and (choice is None or model.folder.name == choice.folder_name)
        )
        in_use = model is not None and self._in_use(model)
        if in_use:
            self.action_button.setText("In Use")
        elif ready:
            self.action_button.setText("Use")
        else:
            self.action_button.setText("Resume Download" if model is not None else "Download")
        self.action_button.setEnabled(selected is not None and not busy and not in_use)
        self.delete_button.setEnabled(model is not None and not busy and not in_use)
        self.cancel_button.setVisible(busy)
        for widget in (self.repo_button, self.folder_button, self.demo_button, self.choices):
            widget.setEnabled(not busy)

    # ------------------------------------------------------------ actions

    def _act(self) -> None:
        selected = self._selected()
        if selected is None:
            return
        _, choice, model = selected
        if (
            model is not None
            and model.complete
            and (choice is None or model.folder.name == choice.folder_name)
        ):
            self.model_chosen.emit(str(model.folder))
            self.accept()
        elif choice is not None:
            self.start_download(choice)
        elif model is not None:  # an unfinished download of another repository: its folder names it
            self.repo.setText(model.folder.name.replace("--", "/", 1))
            self.download_repo()

    def start_download(self, choice: Release) -> bool:
        problems = check_requirements(choice, self._disk_free(self.models_dir), self._memory)
        if problems:
            better = self.recommended
            hint = (
                f" Choose {better.title} instead."
                if better is not None and better.key != choice.key
                else ""
            )
            self._say(
                f"{choice.title} does not fit this Mac. " + " ".join(problems) + hint, error=True
            )
            return False
        self._title = choice.title
        return self._start(choice.download_folder_name, partial(install_release, choice))

    def download_repo(self) -> bool:
        repo_id = self.repo.text().strip()
        if not REPO_ID.fullmatch(repo_id):
            example = RELEASES[0].repo_id
            self._say(f"Enter a Hugging Face repository as owner/name, like {example}.", error=True)
            return False
        self._title = repo_id
        return self._start(folder_for(repo_id), partial(install, repo_id))

    def _start(self, folder_name: str, install_to: Callable) -> bool:
        already = downloaded_bytes(self.models_dir / folder_name)
        token = self.token.text().strip() or None
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        if already:
            self._say(
                f"Resuming the download of {self._title} where it stopped "
                f"({format_bytes(already)} already here)…"
            )
        else:
            self._say(f"Downloading {self._title}…")
        options = {"token": token, "downloader": self._downloader, "converter": self._converter}
        self.job.start(
            lambda progress, cancelled: install_to(self.models_dir, progress, cancelled, **options),
            self._title,
        )
        self._update_buttons()
        return True

    def cancel_download(self) -> None:
        self.job.cancel()
        self._say("Cancelling…")

    def is_downloading(self) -> bool:
        return self.job.running()

    def _show_progress(self, stage: str, done: int, total: int) -> None:
        if stage == "convert":
            self.progress.setRange(0, 0)
            self._say(
                "Converting to 4-bit (once; a few minutes). The full-precision download is deleted "
                "afterwards."
            )
        elif total > 0:
            scale = 1024 * 1024  # QProgressBar holds ints; MB keep tens of GB in range
            self.progress.setRange(0, max(1, total // scale))
            self.progress.setValue(done // scale)
            what = STAGES.get(stage, "Downloading").format(title=self._title)
            self._say(f"{what}: {format_bytes(done)} of {format_bytes(total)}")

    def _finished(self, folder: str, error: str, needs_token: bool) -> None:
        self.progress.setVisible(False)
        self.refresh()
        if error == "cancelled":
            self._say(
                "Download cancelled. What was downloaded is kept: press Download to resume it."
            )
        elif error:
            if needs_token:
                self.token.setVisible(True)
                self.token.setFocus()
            self._say(error, error=True)
        else:
            self._say("Installed.")
            self.model_chosen.emit(folder)
            self.accept()

    def ask_delete(self) -> bool:
        """Delete the selected model folder after a confirmation that names it; True if it was deleted."""
        selected = self._selected()
        if selected is None or selected[2] is None:
            return False
        model = selected[2]
        if self._in_use(model):
            self._say(
                "Tandem is using this model now. Choose another one first, then delete this one.",
                error=True,
            )
            return False
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Delete Model", f"Delete “{model.title}”?", parent=self
        )
        box.setInformativeText(
            f"This removes {format_bytes(model.size_bytes)} from {model.folder}. "
            "You can download it again later."
        )
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is not delete:
            return False
        try:
            delete_model(model.folder, self.models_dir)
        except (OSError, ValueError):
            self._say(
                f"“{model.title}” could not be deleted: check that {model.folder} is writable and "
                "try again. Nothing was removed.",
                error=True,
            )
            return False
        self.refresh()
        self._say(f"Deleted “{model.title}”.")
        return True

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setObjectName("ErrorLabel" if error else "")
        self.message.style().unpolish(self.message)  # the style sheet colours #ErrorLabel
        self.message.style().polish(self.message)
        self.message.setText(text)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.model_chosen.emit(folder)
            self.accept()

    def _use_demo(self) -> None:
        self.demo_requested.emit()
        self.accept()

    def reject(self) -> None:
        self.job.cancel()  # closing the dialog stops a running download
        super().reject()


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
