#!/usr/bin/env bash
# Set up everything on a fresh machine and run the test suite.
# On Linux as root it installs the Debian packages that Qt offscreen, PortAudio, PulseAudio and
# espeak-ng need, and starts a virtual microphone for the voice tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ "$(uname -s)" = Linux ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "tandem: installing Debian packages" >&2
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        libegl1 libgl1 libx11-6 libdbus-1-3 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0 \
        xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 \
        libxcb-render0 libxcb-shape0 libxcb-util1 libxcb-xkb1 libxkbcommon-x11-0 \
        libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins espeak-ng sox libsndfile1 git binutils bubblewrap \
        >/dev/null
fi

bash scripts/setup-env.sh test,package

mic_started=0
if command -v pulseaudio >/dev/null && [ "${TANDEM_NO_VIRTUAL_MIC:-0}" != 1 ]; then
    export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/tandem-xdg.XXXXXX)}"
    if bash scripts/virtual_mic.sh start; then mic_started=1; export TANDEM_VIRTUAL_MIC=1; fi
fi
stop_mic() { if [ "$mic_started" = 1 ]; then bash scripts/virtual_mic.sh stop || true; fi; }
trap stop_mic EXIT

export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
export MLX_ENABLE_TF32=0
# Build the Linux app bundle and run its self-test too (a few minutes); TANDEM_TEST_BUNDLE=0 skips it.
export TANDEM_TEST_BUNDLE="${TANDEM_TEST_BUNDLE:-1}"
.venv/bin/python -m pytest "$@"
