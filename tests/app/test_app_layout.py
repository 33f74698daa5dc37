"""The app's layout keeps its promises: the core packages load no Qt, no module imports another in a
circle or takes a private name from another, and the audio rate is defined once (the engine's)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app"
QT_FREE = ("app.agent", "app.audio", "app.chat", "app.store")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def app_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(APP.rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> list[tuple[str, str, int]]:
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), package, modules)


def imports_in(source: str, package: str, modules) -> list[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every import in `source`, at any depth.

    `package` is the package the source is in (for relative imports). `from package import name`
    counts as importing package.name when that is one of `modules`.
    """
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub, "", node.lineno) if sub in modules
                             else (base, alias.name, node.lineno))
    return found


def import_graph() -> dict[str, set[str]]:
    modules = app_modules()
    return {name: {m for m, _, _ in imports_of(path, modules) if m in modules and m != name}
            for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_in_app_imports_another_in_a_circle():
    graph = import_graph()
    assert graph["app.ui.main_window"] >= {"app.ui.chat.controller", "app.ui.engine_bridge"}
    assert cycles(graph) == []


def test_the_circle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_import_reader_sees_names_modules_and_relative_imports():
    source = "import app.store\nfrom app.chat import core, _hidden\nfrom .. import history\n" \
             "def later():\n    from app.chat.core import ChatCore\n"
    modules = {"app.store", "app.chat", "app.chat.core", "app.history"}
    assert imports_in(source, "app.chat", modules) == [
        ("app.store", "", 1), ("app.chat.core", "", 2), ("app.chat", "_hidden", 2),
        ("app.history", "", 3), ("app.chat.core", "ChatCore", 5)]


def test_no_module_in_app_imports_a_private_name():
    modules = app_modules()
    private = [f"{path.relative_to(REPO)}:{line} imports {name} from {source}"
               for path in modules.values()
               for source, name, line in imports_of(path, modules)
               if name.startswith("_") and source != "__future__"]
    assert private == []


def test_the_audio_rate_is_the_engines_alone():
    defined = [str(path.relative_to(REPO)) for path in APP.rglob("*.py")
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, (ast.Assign, ast.AnnAssign))
               for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
               if isinstance(target, ast.Name) and target.id == "SAMPLE_RATE"]
    assert defined == []


@pytest.mark.parametrize("package", QT_FREE)
def test_the_core_packages_load_no_qt(package):
    modules = sorted(m for m in app_modules() if m == package or m.startswith(package + "."))
    code = (f"import sys, importlib\nfor m in {modules!r}: importlib.import_module(m)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'shiboken6'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"{package} loads Qt"
