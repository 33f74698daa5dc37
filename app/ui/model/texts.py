"""What the model manager says about each build and each installed model, in words."""

from __future__ import annotations

from pathlib import Path

from app.ui.status_bar import format_bytes
from engine.install import InstalledModel
from engine.releases import Release, fits, usable_memory


def intro_text(memory: int, recommended: Release | None, models_dir: Path) -> str:
    have = f"This Mac has {format_bytes(memory)} of memory. " if memory else ""
    if recommended is None:
        advice = "None of the builds below fits it well; the smallest needs more memory than the model may use."
    else:
        advice = f"Recommended for it: {recommended.title}."
    return (
        f"Tandem runs Gemma 4 12B on this Mac. {have}{advice} Each build downloads with its drafter "
        f"(for faster answers) into {models_dir}; an interrupted download resumes where it stopped."
    )


def release_text(choice: Release, memory: int, recommended: Release | None, state: str) -> str:
    """Title, summary, sizes and what it takes; then whether it is installed or in use."""
    title = choice.title
    if recommended is not None and choice.key == recommended.key:
        title += " — recommended for this Mac"
    facts = [
        f"download {format_bytes(choice.download_bytes)}",
        f"needs {format_bytes(choice.memory_bytes)} of memory",
        choice.inputs,
    ]
    if memory and not fits(choice, memory):
        facts.append("more memory than this Mac gives the model")
    return "\n".join([title, choice.summary, " · ".join(facts), state]).strip()


def folder_text(model: InstalledModel, state: str) -> str:
    return "\n".join(
        [model.folder.name, f"{format_bytes(model.size_bytes)} in {model.folder.parent}", state]
    )


def state_text(model: InstalledModel | None, in_use: bool) -> str:
    if model is None:
        return ""
    if not model.complete:
        return (
            f"Download not finished ({format_bytes(model.size_bytes)} so far): Download resumes it."
        )
    state = "In use" if in_use else "Installed"
    missing_drafter = model.release is not None and not model.has_drafter
    return state + (", without its drafter (slower answers)" if missing_drafter else "")


def check_requirements(choice: Release, free_disk: int, memory: int) -> list[str]:
    """Plain-language reasons this Mac cannot take `choice`; empty when it can (unknown memory: no check)."""
    problems = []
    if free_disk < choice.peak_disk_bytes:
        while_converting = (
            f" while it converts to 4-bit ({format_bytes(choice.disk_bytes)} once done)"
            if choice.convert_bits
            else ""
        )
        problems.append(
            f"It needs {format_bytes(choice.peak_disk_bytes)} of free disk space"
            f"{while_converting}, and the disk has {format_bytes(free_disk)} free."
        )
    if memory and not fits(choice, memory):
        problems.append(
            f"It needs about {format_bytes(choice.memory_bytes)} of memory to run; this Mac has "
            f"{format_bytes(memory)}, of which the model may use about "
            f"{format_bytes(usable_memory(memory))}."
        )
    return problems


NEXT_STEPS = ("Choose another model in Settings, download one in Model ▸ Manage Models, or go back "
              "to the demo model.")


def load_failure_text(path: str) -> str:
    """Why a model at `path` may not have loaded, in words, and what to do next."""
    folder = Path(path).expanduser()
    if not folder.exists():
        if "/" in path and not path.startswith(("/", "~", ".")) and path.count("/") == 1:
            why = (f"“{path}” is not a folder on this Mac, and Tandem could not open it as a "
                   f"Hugging Face model.")
        else:
            why = f"There is no model at {path}: the folder does not exist (it may have been moved)."
    elif not (folder / "config.json").exists():
        why = f"The folder {path} has no model in it (there is no config.json)."
    else:
        why = (f"The model in {path} could not be opened: it may be incomplete, damaged, or not a "
               f"Gemma 4 checkpoint.")
    return f"{why} {NEXT_STEPS}"


def demo_failure_text(folder: Path) -> str:
    return (f"On first run Tandem makes a small demo model (random weights) in {folder}, and that "
            f"failed. Check that the disk has free space and the folder can be written, then try "
            f"again; or download the real model in Model ▸ Manage Models.")
