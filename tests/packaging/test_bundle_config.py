"""The PyInstaller spec and its Info.plist: entry point, icon, bundle id, version, keys."""

from __future__ import annotations

import ast
import plistlib
import sys

from PIL import Image

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

REQUIRED_IMAGE_UTIS = {"public.png", "public.jpeg", "public.heic", "com.compuserve.gif",
                       "org.webmproject.webp", "public.tiff", "com.microsoft.bmp"}
REQUIRED_AUDIO_UTIS = {"com.microsoft.waveform-audio", "public.mp3", "org.xiph.flac",
                       "org.xiph.ogg-audio"}


def _spec_source(bundle_config) -> str:
    return (bundle_config.ROOT / "packaging" / "tandem.spec").read_text(encoding="utf-8")


def test_spec_parses_and_builds_entry_exe_and_bundle(bundle_config):
    tree = ast.parse(_spec_source(bundle_config), filename="tandem.spec")
    calls = {n.func.id: n for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"} <= set(calls)
    assert ast.unparse(calls["Analysis"].args[0]) == "[str(cfg.ENTRY_SCRIPT)]"
    bundle_kwargs = {k.arg: ast.unparse(k.value) for k in calls["BUNDLE"].keywords}
    assert bundle_kwargs["icon"] == "str(cfg.ICON_ICNS)"
    assert bundle_kwargs["bundle_identifier"] == "cfg.BUNDLE_ID"
    assert bundle_kwargs["info_plist"] == (
        "cfg.info_plist(minimum_macos=cfg.installed_minimum_macos())")
    assert bundle_kwargs["version"] == "cfg.project_version()"
    exe_kwargs = {k.arg: ast.unparse(k.value) for k in calls["EXE"].keywords}
    assert exe_kwargs["name"] == "cfg.APP_NAME"
    analysis_kwargs = {k.arg: ast.unparse(k.value) for k in calls["Analysis"].keywords}
    assert "cfg.EXCLUDES" in analysis_kwargs["excludes"]


def test_spec_collects_the_metal_library_and_package_data(bundle_config):
    source = _spec_source(bundle_config)
    assert '"**/*.metallib"' in source and 'collect_dynamic_libs("mlx")' in source
    assert '"**/*.jinja"' in source  # engine/inputs/chat_template.jinja
    assert 'collect_dynamic_libs("pillow_heif")' in source


def test_entry_script_and_icons_exist(bundle_config):
    assert bundle_config.ENTRY_SCRIPT.is_file()
    with Image.open(bundle_config.ICON_PNG) as png:
        assert png.size == (1024, 1024) and png.mode == "RGBA"
    with Image.open(bundle_config.ICON_ICNS) as icns:
        assert icns.format == "ICNS" and icns.size == (1024, 1024)
    with Image.open(bundle_config.ICON_ICO) as ico:
        assert ico.format == "ICO" and (256, 256) in ico.info["sizes"]


def test_heavy_test_only_packages_are_excluded(bundle_config):
    for name in ("torch", "pytest", "tests", "mlx_vlm", "matplotlib", "engine.bench"):
        assert name in bundle_config.EXCLUDES
    assert "av" not in bundle_config.EXCLUDES  # PyAV decodes attached videos


def test_version_is_pyproject_version(bundle_config):
    pyproject = bundle_config.ROOT / "pyproject.toml"
    if tomllib is not None:
        expected = tomllib.loads(pyproject.read_text())["project"]["version"]
        assert bundle_config.project_version() == expected
    version = bundle_config.project_version()
    assert bundle_config.info_plist()["CFBundleShortVersionString"] == version


def test_info_plist_has_required_keys_and_serializes(bundle_config):
    info = plistlib.loads(plistlib.dumps(bundle_config.info_plist("1.2.3")))
    assert info["CFBundleIdentifier"] == "app.tandem.Tandem"
    assert info["CFBundleShortVersionString"] == info["CFBundleVersion"] == "1.2.3"
    assert info["CFBundleIconFile"] == "Tandem.icns"
    assert info["NSMicrophoneUsageDescription"].strip()
    assert info["LSMinimumSystemVersion"]
    types = {t["CFBundleTypeName"]: t for t in info["CFBundleDocumentTypes"]}
    assert REQUIRED_IMAGE_UTIS <= set(types["Image"]["LSItemContentTypes"])
    assert REQUIRED_AUDIO_UTIS <= set(types["Audio"]["LSItemContentTypes"])
    for t in types.values():
        assert t["CFBundleTypeRole"] == "Viewer" and t["LSHandlerRank"] == "Alternate"
    assert {"png", "jpg", "heic", "gif", "webp", "tiff", "bmp"} <= set(
        types["Image"]["CFBundleTypeExtensions"])
    assert {"wav", "mp3", "flac", "ogg"} <= set(types["Audio"]["CFBundleTypeExtensions"])
    assert {"mov", "mp4", "m4v", "webm"} == set(types["Video"]["CFBundleTypeExtensions"])


def test_minimum_macos_follows_the_metal_wheel(bundle_config):
    tahoe = "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp312-cp312-macosx_26_0_arm64\n"
    assert bundle_config.wheel_minimum_macos(tahoe) == "26.0"
    two = "Tag: py3-none-macosx_14_0_arm64\nTag: py3-none-macosx_15_0_arm64\n"
    assert bundle_config.wheel_minimum_macos(two) == "14.0"
    assert bundle_config.wheel_minimum_macos("Tag: py3-none-manylinux_2_35_x86_64\n") is None
    if sys.platform.startswith("linux"):  # no mlx-metal wheel on Linux
        assert bundle_config.installed_minimum_macos() == bundle_config.MINIMUM_MACOS
    assert bundle_config.info_plist("1.0", minimum_macos="26.0")["LSMinimumSystemVersion"] == "26.0"


def test_metadata_of_left_out_packages_is_dropped(bundle_config):
    assert bundle_config.is_excluded_metadata("torch-2.13.0+cpu.dist-info/METADATA")
    assert bundle_config.is_excluded_metadata("opencv_python-5.0.0.93.dist-info/RECORD")
    assert not bundle_config.is_excluded_metadata("tokenizers-0.23.3.dist-info/METADATA")
    assert not bundle_config.is_excluded_metadata("torch/lib/x.so")


def test_metal_library_is_linked_beside_every_libmlx(bundle_config):
    dests = ["mlx/lib/libmlx.dylib", "libmlx.dylib", "PySide6/Qt/lib/QtCore", "other/libmlx.dylib"]
    links = bundle_config.metallib_links(dests)
    assert ("mlx.metallib", "mlx/lib/mlx.metallib", "SYMLINK") in links
    assert ("other/mlx.metallib", "../mlx/lib/mlx.metallib", "SYMLINK") in links
    assert not any(link[0] == "mlx/lib/mlx.metallib" for link in links)  # the file itself
    assert bundle_config.metallib_links([]) == [("mlx.metallib", "mlx/lib/mlx.metallib", "SYMLINK")]
