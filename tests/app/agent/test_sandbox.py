"""The sandbox policy and its two renderings: bubblewrap arguments and the macOS profile."""

import os
import re
from pathlib import Path

from app.agent import sandbox


def _profile() -> str:
    """The rendered profile without comments."""
    return "\n".join(line.split(";;")[0] for line in sandbox.profile_text().splitlines())


def _rules(text: str, head: str) -> list[str]:
    """The bodies of the top-level forms that start with `head`, e.g. "(allow file-write*"."""
    bodies, start = [], 0
    while (i := text.find(head, start)) >= 0:
        depth, j = 0, i
        while True:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
            if depth == 0:
                break
        bodies.append(text[i:j])
        start = j
    return bodies


def test_profile_is_balanced_and_every_marker_is_filled():
    text = _profile()
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert "@" not in text


def test_profile_denies_by_default_and_writes_only_workspace_and_run_temp():
    text = _profile()
    assert "(deny default)" in text and "(allow default)" not in text
    writes = " ".join(_rules(text, "(allow file-write*"))
    assert re.findall(r'\(param "(\w+)"\)', writes) == ["WORKSPACE", "RUN_TMPDIR"]
    for broad in ("Library/Caches", "/private/var/folders", "/private/tmp", '"CACHE"', '"TMPDIR"'):
        assert broad not in text
    literal_writes = " ".join(_rules(text, "(allow file-write-data"))
    assert set(re.findall(r'\(literal "([^"]+)"\)', literal_writes)) <= {
        "/dev/null", "/dev/zero", "/dev/tty", "/dev/dtracehelper",
    }  # fmt: skip


def test_profile_keeps_dot_git_read_only_at_any_depth_and_case():
    (deny,) = _rules(_profile(), "(deny file-write*")
    assert '(subpath (param "WORKSPACE"))' in deny
    pattern = re.search(r'\(regex #"([^"]+)"\)', deny).group(1)
    for path in ("/w/.git/config", "/w/a/b/.GIT/hooks/x", "/w/.Git", "/w/sub/.gIt/HEAD"):
        assert re.search(pattern, path), path
    for path in ("/w/.github/workflows/x.yml", "/w/.gitignore", "/w/git/x"):
        assert not re.search(pattern, path), path


def test_profile_stops_launchers_and_launch_services():
    text = _profile()
    (denied,) = _rules(text, "(deny process-exec")
    for program in ("/usr/bin/open", "/usr/bin/osascript", "/bin/launchctl"):
        assert f'(literal "{program}")' in denied
    services = " ".join(_rules(text, "(allow mach-lookup"))
    assert "(global-name-prefix" not in services
    for name in ("launchservicesd", "coreservices", "appleevents", "xpc.launchd", "lsd"):
        assert name not in services.lower()


def test_profile_hides_home_dot_files_but_keeps_toolchains_and_workspace_readable():
    text = _profile()
    assert '(deny file-read* (regex #"^/Users/[^/]+/\\."))' in text
    reallowed = _rules(text, "(allow file-read*\n")
    assert len(reallowed) == 1
    for name in (".pyenv", ".cargo", ".rustup"):
        assert f'"/{name}"' in reallowed[0]
    assert '(subpath (param "WORKSPACE"))' in reallowed[0]
    assert text.index("(deny file-read*") < text.index("(allow file-read*\n")  # later rules win


def test_bwrap_args_bind_the_workspace_and_hide_home_dot_entries(tmp_path: Path):
    home = tmp_path / "home"
    for name in (".ssh", ".pyenv", "code"):
        (home / name).mkdir(parents=True)
    (home / ".netrc").write_text("x")
    ws = home / "code" / "proj"
    (ws / ".git").mkdir(parents=True)
    (ws / "vendor" / "lib" / ".GIT").mkdir(parents=True)
    temp = tmp_path / "run-tmp"
    args = sandbox.Policy(ws, temp, home).bwrap_args("bwrap")
    pairs = list(zip(args, args[1:], args[2:]))
    assert ("--ro-bind", "/", "/") in pairs and ("--bind", str(temp), "/tmp") in pairs
    assert args[args.index("/var/tmp") - 1] == "--tmpfs"
    assert args[args.index(str(home)) - 1] == "--tmpfs"
    assert ("--ro-bind", str(home / ".pyenv"), str(home / ".pyenv")) in pairs
    assert ("--ro-bind", str(home / "code"), str(home / "code")) in pairs
    assert not any(str(home / secret) in args for secret in (".ssh", ".netrc"))
    bind_ws = pairs.index(("--bind", str(ws), str(ws)))
    for git in (ws / ".git", ws / "vendor" / "lib" / ".GIT"):
        assert pairs.index(("--ro-bind", str(git), str(git))) > bind_ws  # on top of the workspace
    for flag in ("--unshare-pid", "--die-with-parent", "--clearenv"):
        assert flag in args


def test_the_environment_is_an_allow_list_without_secrets(tmp_path: Path):
    base = {
        "PATH": "/usr/bin", "HOME": "/home/me", "LANG": "de_DE.UTF-8", "LC_ALL": "C",
        "GITHUB_TOKEN": "t", "OPENAI_API_KEY": "k", "HTTPS_PROXY": "http://u:p@proxy",
        "SSH_AUTH_SOCK": "/tmp/agent", "PYTHONPATH": "/somewhere", "EDITOR": "vim",
    }  # fmt: skip
    env = sandbox.command_env(tmp_path, tmp_path / "t", base)
    assert env["HOME"] == "/home/me" and env["LANG"] == "de_DE.UTF-8" and env["LC_ALL"] == "C"
    assert env["TMPDIR"] == str(tmp_path / "t") and env["PATH"] == "/usr/bin"
    for name in ("GITHUB_TOKEN", "OPENAI_API_KEY", "HTTPS_PROXY", "SSH_AUTH_SOCK", "PYTHONPATH"):
        assert name not in env
    assert all(not sandbox.looks_secret(k) for k in env)
    assert sandbox.looks_secret("AWS_ACCESS_KEY_ID") and sandbox.looks_secret("db_password")


def test_sandbox_exec_gets_real_paths(tmp_path: Path):
    link = tmp_path / "link"
    (tmp_path / "real").mkdir()
    link.symlink_to(tmp_path / "real")
    params = sandbox.Policy(link, tmp_path, tmp_path).sbpl_params()
    assert params["WORKSPACE"] == os.path.realpath(tmp_path / "real")
