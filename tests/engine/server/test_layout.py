"""The server package's layout: no import circle between its modules (function-level imports
included), no private name imported from another module, and no Qt."""

import ast
import subprocess
import sys
from pathlib import Path

SERVER = Path(__file__).resolve().parents[3] / "engine" / "server"


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every `from engine.server... import ...` in the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("engine.server"):
            names = [a.name for a in node.names]
            if node.module == "engine.server":  # `from engine.server import x_routes`
                out += [(f"engine.server.{n}", []) for n in names]
            else:
                out.append((node.module, names))
    return out


def graph() -> dict[str, set[str]]:
    return {f"engine.server.{p.stem}": {m for m, _ in imports_of(p)}
            for p in SERVER.glob("*.py") if p.stem != "__init__"}


def test_no_import_circle():
    edges = graph()
    seen, stack = set(), []

    def visit(node):
        if node in stack:
            raise AssertionError("import circle: " + " -> ".join(stack[stack.index(node):] + [node]))
        if node in seen:
            return
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            visit(nxt)
        stack.pop()
        seen.add(node)

    for module in sorted(edges):
        visit(module)


def test_no_private_name_is_imported_across_modules():
    for path in SERVER.glob("*.py"):
        for module, names in imports_of(path):
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{path.name} imports {private} from {module}"


def test_the_server_loads_no_qt():
    code = "import sys, engine.server.asgi, engine.server.server; print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
