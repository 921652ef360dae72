#!/usr/bin/env bash
# wine-gui.sh [CARNET_EXE] [OUTDIR] — the GUI demo under Wine + Xvfb, by hand
# (`make wine-gui`): the steps of scripts/windows/gui-demo.sh, which
# `make wine-test` runs on the installed carnet.exe. Needs the Wine prefix
# that wine-test.sh made (ProcessPrng shim). X_KEEP=1 keeps the app's log.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
exe=$(realpath "${1:-$root/build/windows/carnet.exe}") out=${2:-$root/build/windows/wine-gui-manual}
cd "$root"
export WINEPREFIX=${WINEPREFIX:-${CARNET_WINE_DIR:-$root/build/wine}/prefix} WINEARCH=win64
export LANG=C.UTF-8 LC_ALL=C.UTF-8
if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
	echo "wine-gui: no Wine prefix with the ProcessPrng shim: run 'make wine-test' first" >&2
	exit 1
fi
export CARNET_EXE=$exe CARNET_BIN=$root/scripts/windows/wine-run.sh
X_NAME=wine-gui
X_WINDOW_TIMEOUT=${X_WINDOW_TIMEOUT:-300}
# shellcheck source=scripts/xlib.sh
. scripts/xlib.sh
# shellcheck source=scripts/windows/gui-demo.sh
. scripts/windows/gui-demo.sh
trap 'wineserver -k 2>/dev/null || true; x_cleanup' EXIT
x_need Xvfb xdotool import identify compare convert
wineserver -k 2>/dev/null || true
x_start_xvfb
wineserver -p
x_start_app
if ! gui_demo "$out"; then
	x_app_log_tail 40
	exit 1
fi
x_stop_app 30 || true
echo "wine-gui: PASS, screenshots in $out/"
