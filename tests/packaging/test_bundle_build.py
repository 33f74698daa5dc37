"""Build the Linux one-folder bundle with PyInstaller and start it headless with --self-test.

Slow (minutes), so it runs only when TANDEM_TEST_BUNDLE=1. It proves that the bundle carries
everything Tandem imports at run time: the engine answers a prompt and the window is built.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(os.environ.get("TANDEM_TEST_BUNDLE") != "1",
                       reason="set TANDEM_TEST_BUNDLE=1 to build the bundle (several minutes)"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux bundle"),
    pytest.mark.timeout(3600),
]


def test_linux_bundle_builds_and_passes_its_self_test(tmp_path):
    import PyInstaller  # noqa: F401 - the package extra; a missing one must fail, not skip
    dist, work = tmp_path / "dist", tmp_path / "work"
    env = dict(os.environ, PYTHON=sys.executable, TANDEM_DIST=str(dist), TANDEM_WORK=str(work),
               QT_QPA_PLATFORM="offscreen")
    build = subprocess.run(["bash", str(ROOT / "packaging" / "build_linux.sh"), "--no-self-test"],
                           env=env, capture_output=True, text=True, timeout=3000, check=False)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]

    bundle = dist / "Tandem"
    internal = bundle / "_internal"
    assert (bundle / "Tandem").is_file()
    assert not (internal / "torch").exists() and not (internal / "pytest").exists()
    assert list(internal.glob("engine/inputs/*.jinja"))
    assert list(internal.glob("PySide6/Qt/plugins/platforms/libqoffscreen.so"))

    clean_env = {k: v for k, v in env.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    run = subprocess.run([str(bundle / "Tandem"), "--self-test"], env=clean_env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "self-test: answer:" in run.stdout and "self-test: OK" in run.stdout
