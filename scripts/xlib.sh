# xlib.sh — shared helpers for scripts/smoke.sh and scripts/screenshot.sh (sourced, not run).
#
# Starts a private Xvfb on a free display, starts the real carnet binary on it in
# demo mode with a throwaway data dir and throwaway XDG/HOME dirs, finds its
# window, takes screenshots of it and stops everything it started, by PID.
#
# Knobs (environment):
#   CARNET_BIN        binary to run (default ./carnet)
#   CARNET_ARGS       arguments (default: --demo --data "$X_DATA", a fresh dir per start)
#   X_SCREEN          Xvfb screen geometry (default 1280x800x24)
#   X_WINDOW_TIMEOUT  seconds to wait for the window (default 60)
#   X_KEEP=1          keep the temp dir (logs, data dir) for inspection

: "${CARNET_BIN:=./carnet}"
: "${X_SCREEN:=1280x800x24}"
: "${X_WINDOW_TIMEOUT:=60}"

X_TMP=""
X_XVFB_PID=""
X_APP_PID=""
X_APP_STATUS=""
X_WID=""

x_log() { printf '%s: %s\n' "${X_NAME:-xlib}" "$*"; }

x_need() {
	local c missing=()
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
	if [ "${#missing[@]}" -ne 0 ]; then
		x_log "missing commands: ${missing[*]} (run: make deps-test)" >&2
		return 1
	fi
}

# x_cleanup: stop what we started (our PIDs only), remove the temp dir.
x_cleanup() {
	if [ -n "$X_APP_PID" ] && kill -0 "$X_APP_PID" 2>/dev/null; then
		kill -KILL "$X_APP_PID" 2>/dev/null || true
		wait "$X_APP_PID" 2>/dev/null || true
	fi
	if [ -n "$X_XVFB_PID" ] && kill -0 "$X_XVFB_PID" 2>/dev/null; then
		kill -TERM "$X_XVFB_PID" 2>/dev/null || true
		wait "$X_XVFB_PID" 2>/dev/null || true
	fi
	if [ -n "$X_TMP" ] && [ -d "$X_TMP" ]; then
		if [ "${X_KEEP:-0}" = 1 ]; then
			x_log "kept $X_TMP"
		else
			rm -rf "$X_TMP"
		fi
	fi
}

# x_start_xvfb: a private X server on a free display (Xvfb picks it: -displayfd).
x_start_xvfb() {
	X_TMP=$(mktemp -d "${TMPDIR:-/tmp}/carnet-x.XXXXXX")
	mkdir -p "$X_TMP/home" "$X_TMP/config" "$X_TMP/data" "$X_TMP/cache"
	local fdfile="$X_TMP/display"
	Xvfb -displayfd 9 -screen 0 "$X_SCREEN" -nolisten tcp -br -noreset \
		9>"$fdfile" >"$X_TMP/xvfb.log" 2>&1 &
	X_XVFB_PID=$!
	local i
	for i in $(seq 1 100); do
		if [ -s "$fdfile" ]; then break; fi
		if ! kill -0 "$X_XVFB_PID" 2>/dev/null; then
			x_log "Xvfb died:" >&2; cat "$X_TMP/xvfb.log" >&2; return 1
		fi
		sleep 0.1
	done
	if [ ! -s "$fdfile" ]; then x_log "Xvfb did not start in 10 s" >&2; return 1; fi
	export DISPLAY=":$(tr -dc '0-9' <"$fdfile")"
	x_log "Xvfb $DISPLAY (pid $X_XVFB_PID, $X_SCREEN)"
}

# x_start_app: run the binary in demo mode, isolated from the user's config and
# keyring, on a new data dir X_DATA (each call: a fresh demo vault).
X_RUNS=0
x_start_app() {
	local args
	X_RUNS=$((X_RUNS + 1))
	X_DATA="$X_TMP/vault$X_RUNS"
	mkdir -m 700 "$X_DATA"
	if [ -n "${CARNET_ARGS:-}" ]; then
		# shellcheck disable=SC2206 # word splitting wanted
		args=($CARNET_ARGS)
	else
		args=(--demo --data "$X_DATA")
	fi
	env -u DBUS_SESSION_BUS_ADDRESS -u WAYLAND_DISPLAY \
		HOME="$X_TMP/home" XDG_CONFIG_HOME="$X_TMP/config" XDG_DATA_HOME="$X_TMP/data" \
		XDG_CACHE_HOME="$X_TMP/cache" LANG="${LANG:-fr_FR.UTF-8}" DISPLAY="$DISPLAY" \
		"$CARNET_BIN" "${args[@]}" </dev/null >"$X_TMP/app$X_RUNS.log" 2>&1 &
	X_APP_PID=$!
	x_log "started $CARNET_BIN ${args[*]} (pid $X_APP_PID)"
}

x_app_log() { echo "$X_TMP/app$X_RUNS.log"; }
x_app_log_tail() { tail -n "${1:-30}" "$(x_app_log)" 2>/dev/null | sed 's/^/    | /'; }

# x_wait_window: wait until a visible window whose name starts with Carnet exists.
x_wait_window() {
	local deadline=$((SECONDS + X_WINDOW_TIMEOUT)) ids
	while [ "$SECONDS" -lt "$deadline" ]; do
		if ! kill -0 "$X_APP_PID" 2>/dev/null; then
			x_log "the app exited before showing a window" >&2
			return 1
		fi
		ids=$(xdotool search --onlyvisible --name '^Carnet' 2>/dev/null || true)
		if [ -n "$ids" ]; then
			X_WID=$(head -n1 <<<"$ids")
			x_log "window $X_WID \"$(xdotool getwindowname "$X_WID" 2>/dev/null)\" after $((SECONDS - deadline + X_WINDOW_TIMEOUT)) s"
			return 0
		fi
		sleep 0.5
	done
	x_log "no window named Carnet within $X_WINDOW_TIMEOUT s" >&2
	return 1
}

# x_stddev FILE: standard deviation of the image's pixels, 0..1 (0: one flat colour).
x_stddev() { identify -format '%[fx:standard_deviation]' "$1" 2>/dev/null || echo 0; }

# x_colours FILE: number of distinct colours.
x_colours() { identify -format '%k' "$1" 2>/dev/null || echo 0; }

# x_blank FILE: true when the image is (nearly) one flat colour: at most 4 distinct
# colours, or a pixel standard deviation under 0.005. A window with any
# anti-aliased text has hundreds of colours.
x_blank() {
	awk -v s="$(x_stddev "$1")" -v k="$(x_colours "$1")" 'BEGIN { exit !(k <= 4 || s < 0.005) }'
}

# x_shoot FILE [TIMEOUT]: screenshot of the app window once it is drawn and stable:
# retries until the picture is not blank and two captures in a row are the same
# (100 pixels of slack for a blinking text cursor), or TIMEOUT s have passed.
x_shoot() {
	local out=$1 timeout=${2:-20} prev="$X_TMP/prev.png" cur="$X_TMP/cur.png"
	local deadline=$((SECONDS + timeout))
	rm -f "$prev"
	while :; do
		import -window "$X_WID" "$cur" 2>/dev/null || import -window root "$cur"
		if ! x_blank "$cur" && [ -f "$prev" ] && [ "$(x_diff "$prev" "$cur")" -le 100 ]; then
			break
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then break; fi
		cp "$cur" "$prev"
		sleep 0.7
	done
	mkdir -p "$(dirname "$out")"
	cp "$cur" "$out"
}

# x_focus: give the app window the keyboard focus (no window manager under Xvfb).
x_focus() {
	xdotool windowfocus --sync "$X_WID" 2>/dev/null || xdotool windowfocus "$X_WID"
}

# x_stop_app TIMEOUT: SIGTERM, wait up to TIMEOUT s; sets X_APP_STATUS (or "timeout").
x_stop_app() {
	local timeout=${1:-10} deadline
	kill -TERM "$X_APP_PID" 2>/dev/null || true
	deadline=$((SECONDS + timeout))
	while kill -0 "$X_APP_PID" 2>/dev/null; do
		# A zombie still answers kill -0: wait reaps it below.
		# (/proc, not ps: procps is not on a minimal Debian.)
		if [ "$(awk '{ print $3 }' "/proc/$X_APP_PID/stat" 2>/dev/null)" = Z ]; then break; fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			X_APP_STATUS=timeout
			kill -KILL "$X_APP_PID" 2>/dev/null || true
			wait "$X_APP_PID" 2>/dev/null || true
			X_APP_PID=""
			return 0
		fi
		sleep 0.2
	done
	X_APP_STATUS=0
	wait "$X_APP_PID" || X_APP_STATUS=$?
	X_APP_PID=""
}

# x_diff A B: number of pixels that differ (5 % fuzz); a large number when sizes differ.
x_diff() {
	local n
	if [ "$(identify -format '%wx%h' "$1")" != "$(identify -format '%wx%h' "$2")" ]; then
		echo 999999; return 0
	fi
	n=$(compare -metric AE -fuzz 5% "$1" "$2" null: 2>&1 >/dev/null || true)
	n=${n%% *}
	case $n in '' | *[!0-9.e+]*) echo 999999 ;; *) printf '%.0f\n' "$n" ;; esac
}

# x_shoot_changed REF FILE [TIMEOUT]: like x_shoot, but first waits until the
# window differs from the picture REF by more than 400 pixels (a blinking text
# cursor is ~40). Returns 1 if it never changed.
x_shoot_changed() {
	local ref=$1 out=$2 timeout=${3:-20} cur="$X_TMP/chg.png"
	local deadline=$((SECONDS + timeout))
	while :; do
		import -window "$X_WID" "$cur" 2>/dev/null || import -window root "$cur"
		if [ "$(x_diff "$ref" "$cur")" -gt 400 ]; then break; fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			cp "$cur" "$out"
			return 1
		fi
		sleep 0.3
	done
	x_shoot "$out" 10
}

# x_unlock_demo: type the demo passphrase (DATA/demo-passphrase.txt, written by
# `carnet --demo --data DIR`) into the focused passphrase field, then Return.
x_unlock_demo() {
	local passfile="$X_DATA/demo-passphrase.txt" pass
	for _ in $(seq 1 50); do [ -s "$passfile" ] && break; sleep 0.2; done
	if [ ! -s "$passfile" ]; then
		x_log "$passfile not written by the binary" >&2
		return 1
	fi
	pass=$(head -n1 "$passfile")
	x_focus
	xdotool type --delay 40 -- "$pass"
	xdotool key Return
}
