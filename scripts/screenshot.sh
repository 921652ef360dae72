#!/usr/bin/env bash
# screenshot.sh — PNGs of Carnet's main screens, from the real binary under Xvfb.
#
# Writes docs/screenshots/ (the README shows them):
#   01-unlock.png    the unlock screen of a fresh demo vault
#   02-shell.png     the main window after unlocking (demo passphrase, typed)
#   03-search.png    the patient search with "mar" typed
#   04-settings.png  the settings page
#   05-signin.png    the sign-in dialog (demo: offered at unlock, sandbox PIN shown)
#   06-record.png    a patient's record, Documents tab (after signing in with the PIN)
#   07-medications.png  the Médicaments tab: the consolidated list and the timeline
#   08-traces.png    the Traces d'accès tab
#   09-write.png     the Rédiger tab: a note with its visibility choices
#   10-outbox.png    the outbox (Ctrl+Shift+E)
#   11-inbox.png     the MSSanté inbox with the manual queue (Ctrl+Shift+M)
#   12-settings-connection.png  the settings scrolled down: central service,
#                    credential, structure and the secure mailboxes
#
# How it drives the app (keyboard only, as a person would, with xdotool):
#   - `carnet --demo --data DIR` writes DIR/demo-passphrase.txt (0600); the
#     script reads it and types it into the focused passphrase field + Return;
#   - Ctrl+F focuses the patient search, then "mar" is typed;
#   - demo mode offers the sign-in right after unlocking; the script types
#     the PIN from DIR/demo-pin.txt, then searches the INS of DIR/demo-patient.txt
#     (a patient the demo practitioner may open) and opens it with Return;
#     Ctrl+1, Ctrl+2 … select the record's tabs;
#   - SETTINGS_KEYS opens the settings (default Ctrl+comma; if the window does
#     not change, falls back to Tab then space: from the search field, Tab
#     reaches the "Paramètres" button).
# Every shot must differ from the one before and not be blank, or the script fails.
#
# Usage: scripts/screenshot.sh [OUTDIR]   (CARNET_BIN, X_* knobs: see scripts/xlib.sh)
set -euo pipefail

cd "$(dirname "$0")/.."
X_NAME=screenshot
# shellcheck source=scripts/xlib.sh
. scripts/xlib.sh
trap x_cleanup EXIT

out=${1:-docs/screenshots}
: "${SEARCH_TEXT:=mar}"
: "${SEARCH_KEYS:=ctrl+f}"
: "${SETTINGS_KEYS:=ctrl+comma}"
: "${SETTINGS_FALLBACK_KEYS:=Tab space}"

x_need Xvfb xdotool import identify compare

if [ ! -x "$CARNET_BIN" ]; then
	echo "screenshot: building $CARNET_BIN"
	go build -o "$CARNET_BIN" .
fi

failed=0
shot_ok() { # shot_ok FILE WHAT
	if x_blank "$1"; then
		echo "screenshot: FAIL $2: blank picture ($1)"; failed=$((failed + 1))
	else
		echo "screenshot: wrote $1 ($2, $(identify -format '%wx%h' "$1"))"
	fi
}
die() {
	echo "screenshot: FAIL $*"
	echo "    app log (tail):"; x_app_log_tail
	exit 1
}

mkdir -p "$out"
x_start_xvfb
x_start_app
x_wait_window || die "no Carnet window"

# 1. Unlock screen.
x_shoot "$out/01-unlock.png" 20
shot_ok "$out/01-unlock.png" "unlock screen"

# 2. Unlock with the demo passphrase the binary wrote for scripts.
x_unlock_demo || die "no demo passphrase file"
# The KDF takes 0.5–1 s by design; give it time.
x_shoot_changed "$out/01-unlock.png" "$out/05-signin.png" 30 || die "the window did not change after typing the passphrase"
sleep 1
x_shoot "$out/05-signin.png" 10
shot_ok "$out/05-signin.png" "sign-in dialog"

# Sign in with the sandbox PIN the demo wrote for scripts.
pin=$(head -n1 "$X_DATA/demo-pin.txt")
x_focus
xdotool type --delay 60 -- "$pin"
xdotool key Return
x_shoot_changed "$out/05-signin.png" "$out/02-shell.png" 20 || die "the window did not change after typing the PIN"
sleep 1
x_shoot "$out/02-shell.png" 10
shot_ok "$out/02-shell.png" "main window"

# 3. Search.
x_focus
# shellcheck disable=SC2086 # several keys
xdotool key $SEARCH_KEYS
xdotool type --delay 60 -- "$SEARCH_TEXT"
x_shoot_changed "$out/02-shell.png" "$out/03-search.png" 15 || die "the window did not change after typing \"$SEARCH_TEXT\" in the search"
sleep 0.5
x_shoot "$out/03-search.png" 10
shot_ok "$out/03-search.png" "search \"$SEARCH_TEXT\""

# 4. Settings.
x_focus
# shellcheck disable=SC2086
xdotool key $SETTINGS_KEYS
if ! x_shoot_changed "$out/03-search.png" "$out/04-settings.png" 5; then
	echo "screenshot: $SETTINGS_KEYS did nothing; trying: $SETTINGS_FALLBACK_KEYS"
	# shellcheck disable=SC2086
	xdotool key --delay 150 $SETTINGS_FALLBACK_KEYS
	x_shoot_changed "$out/03-search.png" "$out/04-settings.png" 15 || die "could not open the settings"
fi
shot_ok "$out/04-settings.png" "settings"

# 12. The settings scrolled to the connection and the mailboxes (mouse
# wheel over the page).
x_focus
xdotool mousemove --window "$X_WID" 30 440 # over the section text, above the status banners: an entry under the pointer takes the wheel
xdotool click --repeat 40 --delay 30 5
x_shoot_changed "$out/04-settings.png" "$out/12-settings-connection.png" 15 || die "the settings did not scroll"
sleep 0.5
x_shoot "$out/12-settings-connection.png" 10
shot_ok "$out/12-settings-connection.png" "settings: connection and mailboxes"

# 6–8. A patient's record: search the demo patient's INS, open it, its tabs.
x_focus
xdotool key ctrl+f ctrl+a
xdotool type --delay 40 -- "$(head -n1 "$X_DATA/demo-patient.txt")"
sleep 1
xdotool key Return
x_shoot_changed "$out/04-settings.png" "$out/06-record.png" 30 || die "the record did not open"
sleep 2
x_shoot "$out/06-record.png" 10
shot_ok "$out/06-record.png" "record, documents"
xdotool key ctrl+2
sleep 3
x_shoot_changed "$out/06-record.png" "$out/07-medications.png" 30 || die "the medications tab did not show"
sleep 2
x_shoot "$out/07-medications.png" 10
shot_ok "$out/07-medications.png" "medications"
xdotool key ctrl+3
x_shoot_changed "$out/07-medications.png" "$out/08-traces.png" 20 || die "the traces tab did not show"
sleep 1
x_shoot "$out/08-traces.png" 10
shot_ok "$out/08-traces.png" "access traces"

# 9–11. Write a note, the outbox, the inbox.
xdotool key ctrl+5
x_shoot_changed "$out/08-traces.png" "$out/09-write.png" 20 || die "the write tab did not show"
sleep 1
x_shoot "$out/09-write.png" 10
shot_ok "$out/09-write.png" "write a note"
xdotool key ctrl+shift+e
x_shoot_changed "$out/09-write.png" "$out/10-outbox.png" 20 || die "the outbox did not show"
sleep 1
x_shoot "$out/10-outbox.png" 10
shot_ok "$out/10-outbox.png" "outbox"
xdotool key ctrl+shift+m
x_shoot_changed "$out/10-outbox.png" "$out/11-inbox.png" 20 || die "the inbox did not show"
sleep 2
x_shoot "$out/11-inbox.png" 10
shot_ok "$out/11-inbox.png" "inbox"

x_stop_app 10
if [ "$X_APP_STATUS" != 0 ]; then
	echo "screenshot: FAIL the app did not exit 0 on SIGTERM (got: $X_APP_STATUS)"
	failed=$((failed + 1))
fi
[ "$failed" -eq 0 ] || exit 1
echo "screenshot: done, 12 screens in $out/"
