#!/usr/bin/env bash
# Set up everything on a fresh machine and open Tandem. Until a real model is downloaded,
# the app opens on a generated demo checkpoint (random weights, labelled as such).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup-env.sh"
exec "$root/.venv/bin/tandem" app "$@"
