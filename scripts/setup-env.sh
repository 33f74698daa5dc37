#!/usr/bin/env bash
# Create or reuse .venv in the checkout and install Tandem into it.
# Usage: scripts/setup-env.sh [EXTRAS]   e.g. "test" or "test,bench"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
py="${PYTHON:-python3}"

if [ ! -x "$root/.venv/bin/python" ]; then
    echo "tandem: creating $root/.venv" >&2
    "$py" -m venv "$root/.venv"
fi
pip=("$root/.venv/bin/python" -m pip --disable-pip-version-check -q)
stamp="$root/.venv/.tandem-installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
    echo "tandem: installing dependencies${extras:+ ($extras)}" >&2
    target="$root"
    [ -n "$extras" ] && target="$root[$extras]"
    # This machine's pip config names local package folders that may not exist; its warnings are noise.
    "${pip[@]}" install -e "$target" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    touch "$stamp"
fi
