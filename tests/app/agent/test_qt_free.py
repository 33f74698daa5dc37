import subprocess
import sys


def test_agent_package_imports_no_qt():
    code = (
        "import sys, app.agent.loop, app.agent.scripted, app.agent.sandbox;"
        "print([m for m in sys.modules if m.startswith('PySide6')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
