"""Files and pasted images on their way into the composer: checked, then copied into the store.

A file that cannot be attached is refused with a sentence that says why, before anything is copied; so is
an image, a recording or a video the loaded model cannot take (a text-only build). A video is opened
and its frames counted (`engine.inputs.video_probe`): not a video, undecodable or zero-length is refused.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice
from PySide6.QtGui import QImage

from app.chat import MEDIA_KINDS
from app.store import PASTED_IMAGE_NAME, Attachment, Store, kind_of


def not_accepted(kind: str, name: str) -> str:
    """Why `name` (an image or audio) cannot go to the loaded model."""
    what = {"image": "read images", "audio": "hear audio", "video": "watch videos"}[kind]
    return f"{name} cannot be attached: the loaded model is a text-only build and cannot {what}."


def check_attachable(path: str | Path, accepted: frozenset[str] = MEDIA_KINDS) -> str:
    """The attachment kind of `path`, or raise ValueError saying plainly why it cannot be attached."""
    path = Path(path)
    kind = kind_of(path)
    if not kind:
        raise ValueError(f"{path.name} is not an image, audio or video file "
                         f"(videos: .mov, .mp4, .webm, .m4v).")
    if kind not in accepted:
        raise ValueError(not_accepted(kind, path.name))
    if not path.is_file():
        raise ValueError(f"{path.name} does not exist or is not a file.")
    if path.stat().st_size == 0:
        raise ValueError(f"{path.name} is empty.")
    if kind == "image":
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                im.verify()  # reads the whole file: catches truncated and corrupt images
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ValueError(f"{path.name} is not a readable image: it is damaged, cut short or "
                             f"in a format Tandem cannot open.") from None
    if kind == "video":
        check_video(path)
    return kind


def check_video(path: Path) -> None:
    """Raise ValueError with a sentence when `path` is not a video the engine can read."""
    from engine.inputs.video import VideoError
    from engine.inputs.video_probe import probe_video

    try:
        probe_video(path)
    except VideoError as exc:
        sentence = str(exc).replace(f"'{path}'", path.name)  # the engine names the whole path
        raise ValueError(f"{sentence}.") from None


def import_files(store: Store, paths: list[str], kinds: frozenset[str] = MEDIA_KINDS
                 ) -> tuple[list[Attachment], list[str]]:
    """Copy every attachable file of `kinds` into `store`; return them and the reasons for the others."""
    accepted, errors = [], []
    for path in paths:
        try:
            check_attachable(path, kinds)
            accepted.append(store.import_file(path))
        except ValueError as exc:  # ours: already a sentence
            errors.append(str(exc))
        except OSError:
            errors.append(f"{Path(path).name} could not be copied into Tandem: check that the file "
                          f"can be read and that the disk has free space.")
    return accepted, errors


def import_image(store: Store, image: QImage) -> Attachment:
    """Store pasted image data as a PNG. Raises ValueError when it cannot be encoded."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if image.isNull() or not image.save(buffer, "PNG"):
        raise ValueError("The pasted image could not be read.")
    return store.import_bytes(bytes(buffer.data()), ".png", PASTED_IMAGE_NAME)
