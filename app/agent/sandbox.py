"""The macOS sandbox for agent commands: `sandbox-exec` with the profile in `sandbox.sb`.

The profile allows everything except file writes outside the workspace, the temporary folders
($TMPDIR, /private/tmp, /private/var/folders) and the user's cache folder (~/Library/Caches, where
pip and compilers keep caches). Reading and the network are not restricted. Paths are passed as real
paths because the sandbox matches them after symlinks are resolved (/tmp is /private/tmp on macOS).

Linux and other systems have no OS sandbox here: `app.agent.runner` runs commands directly, and only
the approval gate and the workspace path checks apply.
"""

from __future__ import annotations

import os
import tempfile
from importlib import resources
from pathlib import Path

SANDBOX_EXEC = "/usr/bin/sandbox-exec"


def profile_text() -> str:
    """The sandbox profile (SBPL) shipped with the package."""
    return resources.files("app.agent").joinpath("sandbox.sb").read_text()


def wrap(argv: list[str], workspace: Path) -> list[str]:
    """Prefix `argv` so that it runs under the profile with this workspace's parameters."""
    params = {
        "WORKSPACE": os.path.realpath(workspace),
        "TMPDIR": os.path.realpath(tempfile.gettempdir()),
        "CACHE": os.path.realpath(Path.home() / "Library" / "Caches"),
    }
    defines = [arg for key, value in params.items() for arg in ("-D", f"{key}={value}")]
    return [SANDBOX_EXEC, "-p", profile_text(), *defines, *argv]
