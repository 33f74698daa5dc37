#!/usr/bin/env bash
# Build Tandem.app and Tandem-<version>.dmg on a Mac with Apple silicon; see packaging/README.md.
#
# Settings (environment variables):
#   PYTHON                 Python with Tandem and PyInstaller installed (default: .venv/bin/python)
#   TANDEM_SIGN_IDENTITY   codesign identity, e.g. "Developer ID Application: Jane Doe (TEAMID)";
#                          unset: ad-hoc signature, runs on this Mac only
#   TANDEM_NOTARY_PROFILE  keychain profile from `xcrun notarytool store-credentials`;
#                          unset: no notarization
#   TANDEM_SKIP_DMG=1      stop after Tandem.app
#   TANDEM_SKIP_SELF_TEST=1  do not start the built app with --self-test
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ "$(uname -s)" != Darwin ]; then
  echo "build_macos.sh runs on macOS; on Linux use packaging/build_linux.sh" >&2
  exit 2
fi
[ "$(uname -m)" = arm64 ] || echo "warning: MLX runs on Apple silicon (arm64); this is $(uname -m)" >&2

PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
DIST="${TANDEM_DIST:-$ROOT/dist}"
WORK="${TANDEM_WORK:-$ROOT/build/pyinstaller}"
APP="$DIST/Tandem.app"
IDENTITY="${TANDEM_SIGN_IDENTITY:--}"
export TANDEM_SIGN_IDENTITY="${TANDEM_SIGN_IDENTITY:-}"  # read by tandem.spec
VERSION="$("$PYTHON" - <<'PY'
import importlib.util
spec = importlib.util.spec_from_file_location("cfg", "packaging/bundle_config.py")
cfg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cfg)
print(cfg.project_version())
PY
)"

echo "== 1/5 PyInstaller: Tandem $VERSION"
start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" packaging/tandem.spec
echo "built $APP in $(( $(date +%s) - start )) s, $(du -sh "$APP" | cut -f1)"
metallib="$(find "$APP/Contents" -name mlx.metallib -print -quit)"
[ -n "$metallib" ] || { echo "mlx.metallib is missing from $APP" >&2; exit 1; }
echo "Metal library: ${metallib#$APP/}"

echo "== 2/5 codesign check (identity: $IDENTITY)"
# PyInstaller signed every binary and then the bundle (tandem.spec passes TANDEM_SIGN_IDENTITY and
# macos/entitlements.plist): with a real identity, hardened runtime and a secure timestamp, which
# notarization requires; without one, an ad-hoc signature.
codesign --verify --deep --strict --verbose=2 "$APP"
codesign --display --verbose=2 "$APP" 2>&1 | grep -E "^(Authority|TeamIdentifier|Runtime|Timestamp)" || true

if [ "${TANDEM_SKIP_SELF_TEST:-}" != 1 ]; then
  echo "== 3/5 self-test (tiny random checkpoint on the GPU, the window offscreen)"
  QT_QPA_PLATFORM=offscreen "$APP/Contents/MacOS/Tandem" --self-test
fi

[ "${TANDEM_SKIP_DMG:-}" = 1 ] && exit 0
if ! command -v hdiutil >/dev/null; then
  echo "no hdiutil here: stopping at $APP" >&2
  exit 0
fi
echo "== 4/5 disk image"
DMG="$DIST/Tandem-$VERSION.dmg"
STAGE="$WORK/dmg"
rm -rf "$STAGE" "$DMG" && mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/" && ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "Tandem $VERSION" -srcfolder "$STAGE" -ov -format UDZO "$DMG"
if [ "$IDENTITY" != "-" ]; then codesign --force --sign "$IDENTITY" --timestamp "$DMG"; fi

if [ -n "${TANDEM_NOTARY_PROFILE:-}" ]; then
  echo "== 5/5 notarization"
  [ "$IDENTITY" != "-" ] || { echo "notarization needs TANDEM_SIGN_IDENTITY" >&2; exit 1; }
  xcrun notarytool submit "$DMG" --keychain-profile "$TANDEM_NOTARY_PROFILE" --wait
  xcrun stapler staple "$DMG"
  spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG"
else
  echo "== 5/5 notarization skipped (set TANDEM_NOTARY_PROFILE)"
fi
echo "done: $DMG"
