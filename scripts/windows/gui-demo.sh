# gui-demo.sh — drives Carnet's demo GUI as a person would (xdotool, the
# keyboard only), sourced after scripts/xlib.sh by scripts/windows/wine-test.sh
# (the installed carnet.exe under Wine) and scripts/windows/wine-gui.sh; the
# same steps run against the Linux binary (CARNET_BIN=./carnet) to debug them.
#
# gui_demo OUTDIR: with an Xvfb started (x_start_xvfb) and the app started
# (x_start_app, `--demo --data X_DATA`), checks in turn, each a screenshot
# that must not be blank and must differ from the one before:
#   1. the unlock screen                          OUTDIR/1-unlock.png
#   2. the demo passphrase unlocks: sign-in dialog OUTDIR/2-signin.png
#   3. the demo PIN signs in: the shell            OUTDIR/3-shell.png
#   4. the demo patient's INS + Return: the record OUTDIR/4-record.png
#   5. Ctrl+Shift+M: the MSSanté inbox               OUTDIR/5-inbox.png
#   6. a click on "Lire et choisir le patient…" of the demo's PDF-only
#      letter: its page rendered in Carnet (poppler on Linux, PDFium in
#      WebAssembly on Windows), a large white page on the dark theme
#                                                    OUTDIR/6-pdf.png
# Returns 1 at the first failed step, its reason printed.

# The checks read pixels of the dark theme (a PDF page: white on dark).
export FYNE_THEME=dark

# gui_white FILE: the fraction (0..1) of near-white pixels of an image.
gui_white() {
	convert "$1" -alpha off -fuzz 4% -fill black +opaque white -fill white -opaque white \
		-colorspace gray -format '%[fx:mean]' info: 2>/dev/null || echo 0
}

gui_step() { # gui_step REF OUT TIMEOUT WHAT
	if ! x_shoot_changed "$1" "$2" "$3"; then
		x_log "FAIL $4: the window did not change within $3 s ($2)" >&2
		return 1
	fi
	sleep 1
	x_shoot "$2" 15
	if x_blank "$2"; then
		x_log "FAIL $4: blank screenshot ($2)" >&2
		return 1
	fi
	x_log "PASS $4 ($2)"
}

gui_demo() {
	local out=$1 pin ins
	mkdir -p "$out"
	if ! x_wait_window; then
		x_log "FAIL no window named Carnet" >&2
		return 1
	fi
	x_shoot "$out/1-unlock.png" 60
	if x_blank "$out/1-unlock.png"; then
		x_log "FAIL unlock screen: blank screenshot" >&2
		return 1
	fi
	x_log "PASS unlock screen ($out/1-unlock.png)"
	x_unlock_demo || return 1
	gui_step "$out/1-unlock.png" "$out/2-signin.png" 180 "unlocked, sign-in offered" || return 1
	pin=$(head -n1 "$X_DATA/demo-pin.txt") ins=$(head -n1 "$X_DATA/demo-patient.txt")
	x_focus
	xdotool type --delay 60 -- "$pin"
	xdotool key Return
	gui_step "$out/2-signin.png" "$out/3-shell.png" 120 "the PIN typed" || return 1
	# Signed in: the sign-in dialog closed (most of the window redrawn); a
	# refused PIN or credential leaves it open with one error line more.
	local changed
	changed=$(x_diff "$out/2-signin.png" "$out/3-shell.png")
	if [ "$changed" -lt 60000 ]; then
		x_log "FAIL sign-in: the dialog stayed open ($changed pixels changed; $out/3-shell.png)" >&2
		return 1
	fi
	x_log "PASS signed in with the demo credential ($changed pixels changed)"
	x_focus
	xdotool key ctrl+f ctrl+a
	xdotool type --delay 60 -- "$ins"
	sleep 1
	xdotool key Return
	gui_step "$out/3-shell.png" "$out/4-record.png" 180 "patient record opened" || return 1
	sleep 2
	x_shoot "$out/4-record.png" 15
	# The MSSanté inbox (Ctrl+Shift+M): the demo's PDF-only letter first;
	# "Lire et choisir le patient…" shows its pages, rendered in Carnet.
	x_focus
	xdotool key ctrl+shift+m
	gui_step "$out/4-record.png" "$out/5-inbox.png" 60 "MSSanté inbox" || return 1
	xdotool mousemove --window "$X_WID" "${GUI_READ_X:-115}" "${GUI_READ_Y:-362}" click 1
	gui_step "$out/5-inbox.png" "$out/6-pdf.png" 60 "PDF letter opened" || return 1
	# The page: PDFium compiles on first use (Windows), then renders.
	local deadline=$((SECONDS + ${GUI_PDF_TIMEOUT:-300})) white
	while :; do
		x_shoot "$out/6-pdf.png" 10
		white=$(gui_white "$out/6-pdf.png")
		if awk -v w="$white" 'BEGIN { exit !(w > 0.15) }'; then
			break
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			x_log "FAIL PDF page: no rendered page (white fraction $white) in $out/6-pdf.png" >&2
			return 1
		fi
		sleep 2
	done
	x_log "PASS PDF page rendered in Carnet ($out/6-pdf.png, white fraction $white)"
}
