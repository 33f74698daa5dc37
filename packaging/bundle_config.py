"""What goes into Tandem's bundle, in plain data: names, version, Info.plist, what to leave out.

`tandem.spec` (PyInstaller) reads this file, and so do the tests; nothing here imports PyInstaller.
It is loaded by file path, never as `packaging.bundle_config`: the folder is not a Python package,
and the name `packaging` belongs to the PyPI library of that name.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "Tandem"
BUNDLE_ID = "app.tandem.Tandem"
ENTRY_SCRIPT = ROOT / "packaging" / "entry.py"
ICON_ICNS = ROOT / "assets" / "icon" / "Tandem.icns"
ICON_ICO = ROOT / "assets" / "icon" / "Tandem.ico"
ICON_PNG = ROOT / "assets" / "icon" / "tandem-1024.png"
MINIMUM_MACOS = "13.5"  # MLX's Metal backend needs macOS 13.5 or later on Apple silicon
METAL_WHEEL = "mlx-metal"  # holds libmlx.dylib and mlx.metallib (in mlx/lib/) on macOS
METALLIB = "mlx/lib/mlx.metallib"  # where the bundle keeps it, as in the wheel

MICROPHONE_USAGE = (
    "Tandem listens to the microphone only while you hold a voice turn, so that you can talk to "
    "the model. The sound stays on this Mac."
)

# Files people drop on the window or the Dock icon: what engine.inputs can decode.
IMAGE_TYPES = {
    "public.png": ["png"],
    "public.jpeg": ["jpg", "jpeg"],
    "public.heic": ["heic"],
    "public.heif": ["heif"],
    "com.compuserve.gif": ["gif"],
    "org.webmproject.webp": ["webp"],
    "public.tiff": ["tif", "tiff"],
    "com.microsoft.bmp": ["bmp"],
}
AUDIO_TYPES = {
    "com.microsoft.waveform-audio": ["wav"],
    "public.mp3": ["mp3"],
    "org.xiph.flac": ["flac"],
    "org.xiph.ogg-audio": ["ogg", "oga"],
}
VIDEO_TYPES = {  # what engine.inputs.video reads and the window attaches (app.store.store.VIDEO_SUFFIXES)
    "com.apple.quicktime-movie": ["mov"],
    "public.mpeg-4": ["mp4"],
    "com.apple.m4v-video": ["m4v"],
    "org.webmproject.webm": ["webm"],
}

# Never in the bundle: test-only and benchmark-only packages, and GUI toolkits Tandem does not use.
EXCLUDES = [
    "torch", "torchvision", "torchaudio", "torchao", "torchtext",
    "tensorflow", "keras", "jax", "jaxlib", "flax",
    "pytest", "_pytest", "pytestqt", "pytest_timeout", "pluggy",
    "tests", "engine.bench", "app.audio.bench", "mlx_vlm", "mlx_audio", "ten_vad", "webrtcvad",
    "matplotlib", "pandas", "scipy", "sklearn", "sympy", "networkx",
    "openai", "anthropic", "IPython", "jupyter_client", "notebook",
    "tkinter", "_tkinter", "PyQt5", "PyQt6", "PySide2",
    "accelerate", "datasets", "pyarrow", "onnx", "timm", "torchcodec",
    # onnxruntime runs the voice detector; its model-conversion tools are not needed
    "onnxruntime.transformers", "onnxruntime.quantization", "onnxruntime.tools",
    # PyAV ("av") stays: it decodes the videos people attach
    "cv2", "decord", "librosa", "numba", "llvmlite", "cryptography", "OpenSSL",
]

# Distribution metadata transformers' hook copies for every package it knows of; these are not
# in the bundle, so their metadata must not claim they are.
EXCLUDED_METADATA = {
    "torch", "torchvision", "torchaudio", "datasets", "opencv_python", "openai", "anthropic",
    "scipy", "pandas", "matplotlib", "pytest", "pytest_timeout", "pytest_qt", "mlx_vlm",
    "accelerate", "timm", "onnx",
}

# Qt modules PySide6-Essentials ships that Tandem never imports; leaving them out saves ~100 MB.
QT_EXCLUDES = [
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtQuickControls2",
    "PySide6.QtQuickTest", "PySide6.QtDesigner", "PySide6.QtUiTools", "PySide6.QtHelp",
    "PySide6.QtSql", "PySide6.QtTest", "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets",
    "PySide6.QtDBus", "PySide6.QtConcurrent", "PySide6.QtXml",
]


def is_excluded_metadata(dest: str) -> bool:
    """Whether `dest` lies in the .dist-info folder of a package in EXCLUDED_METADATA."""
    top = dest.replace("\\", "/").split("/", 1)[0]
    if not top.endswith(".dist-info"):
        return False
    name = top[: -len(".dist-info")].rsplit("-", 1)[0]
    return name.lower().replace("-", "_").replace(".", "_") in EXCLUDED_METADATA


def metallib_links(binary_dests: list[str], metallib: str = METALLIB) -> list[tuple[str, str, str]]:
    """PyInstaller SYMLINK entries that put the Metal library beside every libmlx in the bundle.

    MLX looks for mlx.metallib in the folder of the libmlx it was loaded from (dladdr gives the
    path it was loaded by, links unresolved), and PyInstaller also links libmlx.dylib at the top
    level of the bundle, so the library gets a link there too.
    """
    home = PurePosixPath(metallib).parent
    folders = {PurePosixPath(d.replace("\\", "/")).parent for d in binary_dests
               if PurePosixPath(d.replace("\\", "/")).name.startswith("libmlx")}
    links = []
    for folder in sorted(folders | {PurePosixPath(".")}):
        if folder != home:
            target = os.path.relpath(metallib, folder.as_posix())
            links.append(((folder / "mlx.metallib").as_posix(), target, "SYMLINK"))
    return links


def project_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """`[project] version` from pyproject.toml."""
    text = pyproject.read_text(encoding="utf-8")
    if sys.version_info >= (3, 11):
        import tomllib

        return str(tomllib.loads(text)["project"]["version"])
    match = re.search(r'^\[project\][^\[]*?^version\s*=\s*"([^"]+)"', text,
                      re.MULTILINE | re.DOTALL)
    if not match:
        raise ValueError(f"no [project] version in {pyproject}")
    return match.group(1)


def wheel_minimum_macos(wheel_text: str) -> str | None:
    """The oldest macOS a wheel runs on, from its WHEEL file's `Tag: ...-macosx_14_0_arm64` lines.

    The Metal library in the mlx-metal wheel is compiled for that macOS: an app built from a
    `macosx_26_0` wheel fails to load it on macOS 15, so the app must not claim to run there.
    """
    versions = [tuple(int(p) for p in m.groups())
                for m in re.finditer(r"^Tag:.*-macosx_(\d+)_(\d+)_", wheel_text, re.MULTILINE)]
    if not versions:
        return None
    major, minor = min(versions)
    return f"{major}.{minor}"


def installed_minimum_macos() -> str:
    """LSMinimumSystemVersion for this build: MINIMUM_MACOS or the mlx-metal wheel's, the later."""
    from importlib import metadata

    try:
        found = wheel_minimum_macos(metadata.distribution(METAL_WHEEL).read_text("WHEEL") or "")
    except metadata.PackageNotFoundError:
        found = None
    candidates = [MINIMUM_MACOS] + ([found] if found else [])
    return max(candidates, key=lambda v: tuple(int(p) for p in v.split(".")))


def _document_type(name: str, types: dict[str, list[str]]) -> dict:
    return {
        "CFBundleTypeName": name,
        "CFBundleTypeRole": "Viewer",
        "LSHandlerRank": "Alternate",  # offered in "Open With", never made the default
        "LSItemContentTypes": list(types),
        "CFBundleTypeExtensions": [ext for exts in types.values() for ext in exts],
    }


def info_plist(version: str | None = None, minimum_macos: str = MINIMUM_MACOS) -> dict:
    """The keys Tandem adds to the Info.plist PyInstaller writes (which has the executable name)."""
    version = version or project_version()
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "CFBundlePackageType": "APPL",
        "CFBundleIconFile": ICON_ICNS.name,
        "LSMinimumSystemVersion": minimum_macos,
        "LSApplicationCategoryType": "public.app-category.productivity",
        "LSArchitecturePriority": ["arm64"],
        "NSHighResolutionCapable": True,
        "NSSupportsAutomaticGraphicsSwitching": True,
        "NSRequiresAquaSystemAppearance": False,  # follow the system's dark mode
        "NSMicrophoneUsageDescription": MICROPHONE_USAGE,
        "NSHumanReadableCopyright": "Tandem runs Gemma locally; nothing leaves this Mac.",
        "CFBundleDocumentTypes": [
            _document_type("Image", IMAGE_TYPES),
            _document_type("Audio", AUDIO_TYPES),
            _document_type("Video", VIDEO_TYPES),
        ],
    }

