"""Where agent commands may write and what they may see: one policy, rendered for each system.

The policy (`Policy`):
- write: the workspace and a private temporary folder of the run, nothing else; inside the
  workspace, `.git` folders stay read-only (hooks and config there run code for the person later);
- read: the whole system, except the dot-files and dot-folders of the home folder (keys, tokens,
  shell history, tool configs); the toolchains kept there (`TOOLCHAIN_DIRS`) stay readable;
- programs: anything in the sandbox, except launchers that start programs outside it (`LAUNCHERS`
  on macOS: `open`, `osascript`, `launchctl`, ...); every process of the command ends with it;
- environment: a short allow-list (`command_env`): no tokens, keys or passwords reach a command;
- network: not restricted (package installs need it).

Rendered as:
- Linux: `bwrap` arguments (bubblewrap, Debian package `bubblewrap`): the root file system
  read-only, a private /dev, /proc and /tmp (the run's temp folder), the home folder replaced by an
  empty one into which its non-dot entries and the toolchains are mounted read-only, the workspace
  mounted read-write and its `.git` folders (those present when the command starts, any depth)
  read-only again; a PID namespace of its own (`--unshare-pid`), so that daemons started with
  `setsid` die with the command, and `--die-with-parent`.
- macOS: `sandbox-exec` with the profile `sandbox.sb` (deny by default; the lists here are written
  into its `@...@` markers).

Where neither is available (or bwrap cannot start, as in some containers), `Sandbox.detect()` says
so: commands then run unconfined, and `Sandbox.note` is the sentence the person is shown.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from app.agent.workspace import is_git_name

SANDBOX_EXEC = "/usr/bin/sandbox-exec"
UNCONFINED_NOTE = (
    "Commands run without a sandbox on this system: a command can change any file you can."
)

# Dot-folders in the home folder that hold toolchains, not secrets: readable in the sandbox.
TOOLCHAIN_DIRS = (
    ".pyenv", ".rustup", ".cargo", ".nvm", ".volta", ".asdf", ".sdkman", ".bun", ".deno",
    ".local", ".rbenv", ".juliaup", ".elan", ".ghcup", ".opam", ".swiftpm", ".conda",
    ".miniconda3", ".mamba",
)  # fmt: skip
# Programs that ask the system to start something outside the sandbox (macOS).
LAUNCHERS = (
    "/usr/bin/open", "/usr/bin/osascript", "/bin/launchctl", "/usr/bin/osacompile",
    "/usr/bin/automator", "/usr/bin/shortcuts", "/usr/sbin/screencapture", "/usr/bin/pbcopy",
    "/usr/bin/pbpaste", "/usr/bin/security", "/usr/bin/ssh-agent", "/usr/bin/login",
    "/usr/bin/su", "/usr/bin/sudo", "/usr/bin/at", "/usr/bin/crontab", "/usr/bin/defaults",
)  # fmt: skip
# Environment variables a command gets (when the app has them), besides those `command_env` sets.
ENV_ALLOWED = (
    "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "SYSTEMROOT", "DEVELOPER_DIR", "SDKROOT",
)  # fmt: skip
_SECRET = re.compile(
    r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|PASS$|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE|^AWS_|"
    r"^GH_|^GITHUB_|^HF_|^HUGGING|^OPENAI|^ANTHROPIC|^GOOGLE_|^AZURE_|_PROXY$|^SSH_",
    re.IGNORECASE,
)
MAX_GIT_FOLDERS = 64  # .git folders made read-only by bwrap
MAX_FOLDERS_LOOKED_AT = 5_000  # the look for them stops here


def looks_secret(name: str) -> bool:
    """True for an environment variable name that may hold a secret."""
    return bool(_SECRET.search(name))


def workspace_venv(workspace: Path) -> Path | None:
    """The workspace's own virtualenv (`.venv` or `venv` with a `bin/python`), if any."""
    for name in (".venv", "venv"):
        candidate = workspace / name
        if (candidate / "bin" / "python").exists() and not candidate.is_symlink():
            return candidate
    return None


def command_env(workspace: Path, temp_dir: Path, base: dict[str, str] | None = None) -> dict:
    """The environment of a command: the allow-list, a sane PATH, no secrets."""
    base = dict(os.environ if base is None else base)
    env = {k: v for k, v in base.items() if k in ENV_ALLOWED or k.startswith("LC_")}
    path = base.get("PATH") or "/usr/local/bin:/usr/bin:/bin"
    venv = workspace_venv(workspace)
    if venv is not None:
        path = f"{venv / 'bin'}{os.pathsep}{path}"
        env["VIRTUAL_ENV"] = str(venv)
    env.update(
        PATH=path,
        TERM="dumb",
        PAGER="cat",
        GIT_PAGER="cat",
        PYTHONUNBUFFERED="1",
        # Python checks a cached .pyc by the source's size and whole-second mtime: an edit that
        # keeps the size within the same second as the last run would run the old code.
        PYTHONDONTWRITEBYTECODE="1",
        TMPDIR=str(temp_dir),
        XDG_CACHE_HOME=str(temp_dir / "cache"),
        PIP_CACHE_DIR=str(temp_dir / "cache" / "pip"),
        GIT_TERMINAL_PROMPT="0",
    )
    env.setdefault("HOME", str(Path.home()))
    env.setdefault("LANG", "en_US.UTF-8")
    return {k: v for k, v in env.items() if not looks_secret(k)}


@dataclass(frozen=True)
class Policy:
    """One run's policy; see the module docstring."""

    workspace: Path
    temp_dir: Path
    home: Path

    def read_only_git_folders(self) -> list[Path]:
        """The `.git` folders (any case or form) in the workspace now, found by a bounded look."""
        found: list[Path] = []
        visited = 0
        for dirpath, dirnames, _ in os.walk(self.workspace):  # links are not followed
            visited += 1
            for name in [d for d in dirnames if is_git_name(d)]:
                dirnames.remove(name)
                if not os.path.islink(os.path.join(dirpath, name)):
                    found.append(Path(dirpath) / name)
            if len(found) >= MAX_GIT_FOLDERS or visited >= MAX_FOLDERS_LOOKED_AT:
                break
        return found[:MAX_GIT_FOLDERS]

    def bwrap_args(self, bwrap: str = "bwrap") -> list[str]:
        """The bubblewrap prefix (Linux); the command follows it."""
        args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        args += ["--bind", str(self.temp_dir), "/tmp", "--tmpfs", "/var/tmp"]
        home = self.home
        if home.is_dir() and home != Path("/"):
            args += ["--tmpfs", str(home)]
            try:
                entries = sorted(os.scandir(home), key=lambda e: e.name)
            except OSError:
                entries = []
            for entry in entries:
                if entry.name.startswith(".") and entry.name not in TOOLCHAIN_DIRS:
                    continue
                if entry.is_symlink():
                    args += ["--symlink", os.readlink(entry.path), entry.path]
                else:
                    args += ["--ro-bind", entry.path, entry.path]
        args += ["--bind", str(self.workspace), str(self.workspace)]
        for git in self.read_only_git_folders():
            args += ["--ro-bind", str(git), str(git)]
        args += ["--unshare-pid", "--die-with-parent", "--new-session", "--clearenv"]
        args += ["--chdir", str(self.workspace)]
        return args

    def sbpl_params(self) -> dict[str, str]:
        """The `-D` parameters of the macOS profile."""
        return {
            "WORKSPACE": os.path.realpath(self.workspace),
            "RUN_TMPDIR": os.path.realpath(self.temp_dir),
            "HOME": os.path.realpath(self.home),
        }


def profile_text() -> str:
    """The macOS profile with the policy's lists written into its markers."""
    template = resources.files("app.agent").joinpath("sandbox.sb").read_text()
    launchers = "\n".join(f'    (literal "{p}")' for p in LAUNCHERS)
    toolchains = "\n".join(
        f'    (subpath (string-append (param "HOME") "/{d}"))' for d in TOOLCHAIN_DIRS
    )
    return template.replace(";; @LAUNCHERS@", launchers).replace(";; @TOOLCHAINS@", toolchains)


@dataclass(frozen=True)
class Sandbox:
    """How commands are confined on this system: "bwrap", "sandbox-exec" or "none"."""

    kind: str
    program: str = ""
    note: str = ""  # for the person; "" when commands are confined

    @property
    def confined(self) -> bool:
        return self.kind != "none"

    @classmethod
    def none(cls) -> Sandbox:
        return cls("none", note=UNCONFINED_NOTE)

    @classmethod
    def detect(cls) -> Sandbox:
        """The sandbox this system offers, checked by starting it once (cached per process)."""
        global _detected
        if _detected is None:
            _detected = _detect()
        return _detected

    def wrap(self, argv: list[str], policy: Policy, env: dict[str, str]) -> tuple[list[str], dict]:
        """The argument vector and environment that run `argv` under this sandbox."""
        if self.kind == "bwrap":
            inside = {k: v.replace(str(policy.temp_dir), "/tmp") for k, v in env.items()}
            setenv = [arg for k, v in inside.items() for arg in ("--setenv", k, v)]
            prefix = policy.bwrap_args(self.program)
            return [*prefix, *setenv, "--", *argv], {"PATH": "/usr/bin:/bin"}
        if self.kind == "sandbox-exec":
            defines = [a for k, v in policy.sbpl_params().items() for a in ("-D", f"{k}={v}")]
            return [self.program, "-p", profile_text(), *defines, *argv], env
        return argv, env


_detected: Sandbox | None = None


def _detect() -> Sandbox:
    if sys.platform == "darwin":
        if os.path.exists(SANDBOX_EXEC):
            return Sandbox("sandbox-exec", SANDBOX_EXEC)
        return Sandbox.none()
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Sandbox.none()
    probe = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid",
             "--die-with-parent", "--", "/bin/true"]  # fmt: skip
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        return Sandbox(
            "none",
            note="Commands run without a sandbox on this system: bubblewrap could not start "
            "here, so a command can change any file you can.",
        )
    return Sandbox("bwrap", bwrap)
