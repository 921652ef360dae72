#!/usr/bin/env bash
# smoke.sh — smoke run of the real Carnet binary under Xvfb (part of `make test`).
#
# Run 1, locked (`carnet --demo --data DIR`, a fresh demo vault):
#   - a window named Carnet appears within X_WINDOW_TIMEOUT (60) s
#   - a screenshot of it is not blank (more than 4 colours, pixel stddev ≥ 0.005)
#   - on SIGTERM it exits within 10 s with status 0
# Run 2, unlocked (skipped with SMOKE_UNLOCKED=0):
#   - the demo passphrase (DIR/demo-passphrase.txt) typed + Return changes the window
#   - on SIGTERM while unlocked it exits within 10 s with status 0
# Both runs: no panic, fatal error or data race in the output.
#
# Prints one PASS/FAIL line per check and ends with "smoke: N passed, N failed";
# exit status 1 if any check failed. Screenshots and logs go to build/smoke/.
# Usage: scripts/smoke.sh  (CARNET_BIN, X_* knobs: see scripts/xlib.sh)
set -euo pipefail

cd "$(dirname "$0")/.."
X_NAME=smoke
# shellcheck source=scripts/xlib.sh
. scripts/xlib.sh
trap x_cleanup EXIT

out=build/smoke
mkdir -p "$out"
rm -f "$out"/*.png "$out"/*.log

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "smoke: PASS $*"; }
fail() {
	failed=$((failed + 1)); echo "smoke: FAIL $*"
	if [ -n "$X_TMP" ] && [ -f "$(x_app_log)" ]; then
		if grep -qE '^(panic:|fatal error:|WARNING: DATA RACE)' "$(x_app_log)"; then
			echo "    app log (first panic/race, full log in $out/):"
			grep -m1 -A12 -E '^(panic:|fatal error:|WARNING: DATA RACE)' "$(x_app_log)" | sed 's/^/    | /'
		else
			echo "    app log (tail, full log in $out/):"; x_app_log_tail 25
		fi
	fi
}
save_log() { if [ -n "$X_TMP" ] && [ -f "$(x_app_log)" ]; then cp "$(x_app_log)" "$out/app$X_RUNS.log"; fi; }
finish() {
	save_log
	echo "smoke: $passed passed, $failed failed"
	if [ "$failed" -eq 0 ]; then exit 0; fi
	exit 1
}

# stop_check WHAT: SIGTERM, then require exit 0 within 10 s and a clean log.
stop_check() {
	local t0=$SECONDS
	x_stop_app 10
	if [ "$X_APP_STATUS" = 0 ]; then
		pass "$1: exits with status 0 within 10 s of SIGTERM ($((SECONDS - t0)) s)"
	else
		fail "$1: exits with status 0 within 10 s of SIGTERM (got: $X_APP_STATUS)"
	fi
	if grep -qE '^(panic:|fatal error:|WARNING: DATA RACE)' "$(x_app_log)"; then
		failed=$((failed + 1)); echo "smoke: FAIL $1: no panic, fatal error or data race in the output (see above)"
	else
		pass "$1: no panic, fatal error or data race in the output"
	fi
	save_log
}

x_need Xvfb xdotool import identify compare

if [ ! -x "$CARNET_BIN" ]; then
	echo "smoke: building $CARNET_BIN"
	go build -o "$CARNET_BIN" .
fi

x_start_xvfb

# Run 1: the unlock window.
x_start_app
if x_wait_window; then
	pass "locked: a window named Carnet appears ($(xdotool getwindowname "$X_WID"))"
else
	fail "locked: a window named Carnet appears"
	finish
fi

x_shoot "$out/unlock.png" 20
info="$out/unlock.png $(identify -format '%wx%h' "$out/unlock.png"), stddev $(x_stddev "$out/unlock.png"), $(x_colours "$out/unlock.png") colours"
if x_blank "$out/unlock.png"; then
	fail "locked: screenshot is not blank ($info)"
else
	pass "locked: screenshot is not blank ($info)"
fi
stop_check "locked"

# Run 2: unlocked, then SIGTERM.
if [ "${SMOKE_UNLOCKED:-1}" != 0 ]; then
	x_start_app
	if ! x_wait_window; then
		fail "unlocked: a window named Carnet appears"
		finish
	fi
	x_shoot "$out/unlock2.png" 20
	if x_unlock_demo && x_shoot_changed "$out/unlock2.png" "$out/unlocked.png" 30; then
		pass "unlocked: the demo passphrase typed + Return changes the window ($out/unlocked.png)"
	else
		fail "unlocked: the demo passphrase typed + Return changes the window"
	fi
	stop_check "unlocked"
fi

finish
