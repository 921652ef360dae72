#!/usr/bin/env bash
# wine-gui.sh CARNET_EXE PNG — the GUI demo under Wine + Xvfb (`make
# wine-gui`, run by hand, not part of `make test`: Wine's first window on a
# loaded machine has not been reliable enough for CI within this issue's
# time box). Checks with scripts/xlib.sh, as smoke.sh does: a window named
# Carnet appears, its screenshot is not blank, the demo passphrase typed +
# Return changes it (unlocked). The screenshot is PNG.
set -euo pipefail
exe=$(realpath "$1") png=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export WINEPREFIX=${WINEPREFIX:-${CARNET_WINE_DIR:-$root/build/wine}/prefix}
if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
	echo "wine-gui: no Wine prefix with the ProcessPrng shim: run 'make wine-test' first" >&2
	exit 1
fi
export CARNET_EXE=$exe CARNET_BIN=$root/scripts/windows/wine-run.sh
X_NAME=winegui
X_WINDOW_TIMEOUT=${X_WINDOW_TIMEOUT:-300}
# shellcheck source=scripts/xlib.sh
. scripts/xlib.sh
trap 'x_cleanup; wineserver -k 2>/dev/null || true' EXIT
x_need Xvfb xdotool import identify compare
x_start_xvfb
x_start_app
if ! x_wait_window; then
	echo "wine-gui: FAIL: no window named Carnet"; x_app_log_tail 30; exit 1
fi
x_shoot "$png.locked.png" 60
if x_blank "$png.locked.png"; then
	echo "wine-gui: FAIL: blank screenshot"; exit 1
fi
echo "wine-gui: PASS unlock screen ($png.locked.png, stddev $(x_stddev "$png.locked.png"))"
if x_unlock_demo && x_shoot_changed "$png.locked.png" "$png" 120; then
	echo "wine-gui: PASS unlocked ($png)"
else
	echo "wine-gui: FAIL: the demo passphrase did not unlock"; x_app_log_tail 30; exit 1
fi
x_stop_app 30 || true
