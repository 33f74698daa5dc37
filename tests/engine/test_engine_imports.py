"""How engine/ is put together: no Qt, no import circles, no private names taken from another module.

The circle and private-name checks read the source with `ast` (every import, also those inside
functions, except under `if TYPE_CHECKING:`) and fail with the offending modules and names.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine"


def test_engine_and_server_load_no_qt():
    code = (
        "import sys, json\n"
        "import engine, engine.worker, engine.session, engine.server.asgi, engine.server.server\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0].startswith('PySide'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# Circles that sit in code other work is restructuring; each must still exist (else remove it here).
KNOWN_CIRCLES: list[list[str]] = []


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: Path) -> dict[str, Path]:
    return {module_name(p, package.parent): p for p in package.rglob("*.py")}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    return skip


def imports_of(name: str, path: Path, known: dict[str, Path]):
    """(imported module, imported names, line) for every import of an engine module in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([node.module] if node.module else []))
            if base not in known:
                continue
            names = [a.name for a in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
            plain = [n for n in names if f"{base}.{n}" not in known]
            for sub in submodules:
                yield sub, [], node.lineno
            if plain:
                yield base, plain, node.lineno


def graph(package: Path = ENGINE) -> tuple[dict[str, set[str]], list[str]]:
    """Import edges between the package's modules, and the private names imported across them."""
    known = modules(package)
    edges: dict[str, set[str]] = {m: set() for m in known}
    private = []
    for name, path in known.items():
        for target, names, line in imports_of(name, path, known):
            if target != name:
                edges[name].add(target)
            for n in names:
                if n.startswith("_") and not n.startswith("__"):
                    private.append(f"{name}:{line} imports {n} from {target}")
            if target.rpartition(".")[2].startswith("_") and not target.endswith("__"):
                private.append(f"{name}:{line} imports the private module {target}")
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def describe(edges: dict[str, set[str]], found: list[list[str]]) -> str:
    return "\n".join("  " + " <-> ".join(c) + "\n    " + "; ".join(
        f"{a} imports {b}" for a in c for b in sorted(edges[a]) if b in c) for c in found)


def test_no_import_circles_in_engine():
    edges, _ = graph()
    found = cycles(edges)
    new = [c for c in found if c not in KNOWN_CIRCLES]
    assert not new, "import circles in engine/:\n" + describe(edges, new)
    gone = [c for c in KNOWN_CIRCLES if c not in found]
    assert not gone, f"these circles are gone; remove them from KNOWN_CIRCLES: {gone}"


def test_no_private_names_imported_across_engine_modules():
    _, private = graph()
    assert not private, "private names imported across modules:\n  " + "\n  ".join(private)


def test_the_checks_find_what_they_look_for(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub.b import _helper, fine\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import x\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    edges, private = graph(pkg)
    assert cycles(edges) == [["pkg.a", "pkg.sub.b"]] and edges["pkg.c"] == set()
    assert private == ["pkg.a:1 imports _helper from pkg.sub.b"]
