#!/usr/bin/env bash
# Build the Linux one-folder bundle (dist/Tandem/) and, unless --no-self-test, start it headless
# with --self-test. Run from anywhere; uses $PYTHON (default: the checkout's .venv, else python3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
DIST="${TANDEM_DIST:-$ROOT/dist}"
WORK="${TANDEM_WORK:-$ROOT/build/pyinstaller}"

start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" packaging/tandem.spec
echo "built $DIST/Tandem in $(( $(date +%s) - start )) s, $(du -sh "$DIST/Tandem" | cut -f1)"

if [ "${1:-}" != "--no-self-test" ]; then
  QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}" "$DIST/Tandem/Tandem" --self-test
fi
