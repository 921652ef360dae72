#!/usr/bin/env bash
# wine-test.sh — the Windows build, tested under Wine (part of `make test`).
#
#  1. builds the ProcessPrng shim (processprng.c) with MinGW: Wine 8 lacks
#     bcryptprimitives!ProcessPrng, which Go >= 1.22 binaries import;
#  2. cross-builds carnet.exe (GOOS=windows, -tags ci: no cgo) and the
#     Windows unit tests of the cgo-free packages (crypto, app/vault);
#  3. makes one Wine prefix (wineboot, slow the first time; kept in
#     $CARNET_WINE_DIR between runs) with the shim in system32;
#  4. runs under Wine: the unit tests, `carnet.exe vault init / check /
#     passwd` on a path with spaces and accents, `carnet.exe sync --once`
#     against the Linux sandbox (`carnet sandbox`) on loopback, and
#     `carnet.exe import --once` against Dovecot on loopback (the mailtest
#     harness, started by sync/mailbox/mailtest/mailsandbox);
#  5. cross-builds the GUI carnet.exe (MinGW, cgo: GLFW), packs it into an
#     MSI (scripts/windows/msi.sh, wixl), installs it with msiexec;
#  6. runs the installed carnet.exe --demo under Wine + Xvfb and drives it
#     as a person would (scripts/windows/gui-demo.sh): unlock screen,
#     unlock, sign-in with the demo credential, a patient, a PDF page
#     rendered in Carnet (PDFium in WebAssembly: no pdftoppm on Windows);
#     screenshots in build/windows/wine-gui/;
#  7. uninstalls it (the vault stays), then checks the uninstaller's
#     explicit option to delete the user's data (DELETEUSERDATA=1).
#
# Wine starts once per suite, on one Xvfb display: every Wine call, the
# command-line ones too, runs on that DISPLAY under one persistent
# wineserver. (A Wine desktop started without a display, or on an Xvfb
# that is gone, is what made GLFW's init fail and fyne panic in
# CreateStandardCursor on a second GUI run.)
#
# Skips (exit 0, reason printed) only when Wine or MinGW is missing outside
# CI; with CI=true a missing tool is a failure. Every Wine call has a hang
# guard (timeout), not a deadline that decides a result on a slow machine.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
skip() {
	if [ "${CI:-}" = "true" ]; then
		echo "wine-test: FAIL: $1 (CI=true: the Windows build must be tested)" >&2
		exit 1
	fi
	echo "wine-test: SKIP: $1"
	exit 0
}
command -v wine >/dev/null || skip "wine not installed (Debian: wine wine64)"
command -v x86_64-w64-mingw32-gcc >/dev/null || skip "MinGW not installed (Debian: gcc-mingw-w64-x86-64)"
for c in Xvfb xdotool import identify compare convert; do
	command -v "$c" >/dev/null || skip "$c not installed (make deps-test)"
done

start=$(date +%s)
work=${CARNET_WINE_DIR:-$root/build/wine}
mkdir -p "$work"
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEARCH=win64
# The shim is a native DLL; Mono and Gecko are not needed (no download).
export WINEDLLOVERRIDES="bcryptprimitives=n;mscoree=;mshtml="
# Wine maps Windows file names to Unix ones in the Unix locale's charset: a
# locale the machine lacks (the Makefile's fr_FR.UTF-8 without the locales
# package) falls back to ASCII and "Hélène" cannot be created. C.UTF-8 is
# always there.
export LANG=C.UTF-8 LC_ALL=C.UTF-8
guard=${CARNET_WINE_GUARD:-900} # seconds: a hang guard per Wine call

echo "wine-test: MinGW: ProcessPrng shim from scripts/windows/processprng.c"
x86_64-w64-mingw32-gcc -shared -O2 -Wall -o "$work/bcryptprimitives.dll" \
	scripts/windows/processprng.c scripts/windows/processprng.def -ladvapi32

echo "wine-test: cross-building carnet.exe and the Windows unit tests"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -tags "ci migrated_fynedo" -o "$work/carnet.exe" .
for p in crypto app/vault sessionlock; do
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -c -o "$work/${p//\//_}.test.exe" "./$p"
done
# The Linux side: the sandbox DMP the Windows carnet.exe syncs with, and
# the mailtest harness's Dovecot it imports from.
CGO_ENABLED=0 go build -tags "ci migrated_fynedo" -o "$work/carnet-linux" .
CGO_ENABLED=0 go build -o "$work/mailsandbox" ./sync/mailbox/mailtest/mailsandbox

# One Xvfb and one wineserver for the whole suite (see above).
X_NAME=wine-test
X_WINDOW_TIMEOUT=${X_WINDOW_TIMEOUT:-300}
# shellcheck source=scripts/xlib.sh
. scripts/xlib.sh
# shellcheck source=scripts/windows/gui-demo.sh
. scripts/windows/gui-demo.sh
sbpid="" mailpid=""
cleanup() {
	[ -n "$sbpid" ] && { kill "$sbpid" 2>/dev/null || true; wait "$sbpid" 2>/dev/null || true; }
	[ -n "$mailpid" ] && { kill "$mailpid" 2>/dev/null || true; wait "$mailpid" 2>/dev/null || true; }
	wineserver -k 2>/dev/null || true
	x_cleanup
}
trap cleanup EXIT
wineserver -k 2>/dev/null || true # a wineserver left on another display
x_start_xvfb
# A fresh prefix first (wineserver needs the prefix's directory to start),
# on this display; its short-lived wineserver ends before the suite's.
if [ ! -f "$WINEPREFIX/system.reg" ]; then
	echo "wine-test: first Wine prefix (wineboot, about a minute)"
	timeout "$guard" wineboot -i >"$work/wineboot.log" 2>&1 || true
	timeout "$guard" wineserver -w || true
fi
wineserver -p # persistent: Wine starts once for the suite
[ -d "$WINEPREFIX/drive_c/windows/system32" ] || { echo "wine-test: FAIL: wineboot made no prefix (see $work/wineboot.log)" >&2; exit 1; }
cp "$work/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"

winpath() { printf 'Z:%s' "${1//\//\\}"; }
w() { timeout "$guard" wine "$@"; }

echo "wine-test: carnet.exe version"
w "$work/carnet.exe" version

echo "wine-test: Windows unit tests under Wine"
# Wine 8 answers os.RemoveAll's POSIX delete with "Invalid function": only
# the tests written for Windows (winTempDir) and those without a TempDir run.
unit() { # unit EXE ARGS...: run a Windows test binary, print its verdicts, all of it on failure
	local exe=$1 log="$work/$(basename "$1").log" status=0
	shift
	w "$exe" "$@" -test.v >"$log" 2>&1 || status=$?
	grep -E '^(=== RUN|--- |PASS|FAIL|ok)' "$log" || true
	if [ "$status" -ne 0 ]; then
		echo "wine-test: FAIL: $(basename "$exe") exit $status; its output:" >&2
		cat "$log" >&2
		exit 1
	fi
}
unit "$work/crypto.test.exe" -test.run 'OwnerOnly|NullDACL|Fingerprint'
unit "$work/app_vault.test.exe" -test.run 'Windows'
unit "$work/sessionlock.test.exe"

t="$work/run"
rm -rf "$t"
mkdir -p "$t"
data="$t/Hélène Dupont/Carnet"
mkdir -p "$data"
printf 'correct horse battery staple 42\n' >"$t/pass"
printf 'another long passphrase 4321\n' >"$t/pass2"
chmod 600 "$t/pass" "$t/pass2"

echo "wine-test: carnet.exe vault init / check / passwd (path: $(winpath "$data"))"
W="$(winpath "$data")"
w "$work/carnet.exe" vault init -insecure-test-kdf -data "$W" -passphrase-file "$(winpath "$t/pass")" 2>/dev/null
w "$work/carnet.exe" vault check -data "$W" -passphrase-file "$(winpath "$t/pass")" 2>/dev/null
w "$work/carnet.exe" vault passwd -data "$W" -passphrase-file "$(winpath "$t/pass")" -new-passphrase-file "$(winpath "$t/pass2")" 2>/dev/null
w "$work/carnet.exe" vault check -data "$W" -passphrase-file "$(winpath "$t/pass2")" 2>/dev/null
if w "$work/carnet.exe" vault check -data "$W" -passphrase-file "$(winpath "$t/pass")" 2>/dev/null; then
	echo "wine-test: FAIL: the old passphrase still opens the vault" >&2
	exit 1
fi
if ls "$data" | grep -q 'creating-\|compact-'; then
	echo "wine-test: FAIL: temporary files left: $(ls "$data")" >&2
	exit 1
fi
# The device secret went to the Credential Manager (go-keyring: wincred),
# not to a file beside the vault.
if [ -e "$data/vault.db.device" ]; then
	echo "wine-test: FAIL: the device secret is in a file, not in the Credential Manager" >&2
	exit 1
fi

echo "wine-test: carnet.exe sync --once against the Linux sandbox on loopback"
"$work/carnet-linux" sandbox -listen 127.0.0.1:0 -patients 20 -data "$t/sandbox" >"$t/sandbox.out" 2>&1 &
sbpid=$!
for _ in $(seq 1 600); do grep -q '^credentials' "$t/sandbox.out" 2>/dev/null && grep -q 'PIN' "$t/sandbox.out" && break; sleep 0.5; done
url=$(awk '/^xds url/ {print $3}' "$t/sandbox.out") # [dmp] protocol: xds, the default
ca=$(awk '/^test CA/ {print $3}' "$t/sandbox.out")
read -r p12 pin < <(awk '$1 == "anesthesiste" {print $2, $4; exit}' "$t/sandbox.out")
[ -n "$url" ] && [ -n "${p12:-}" ] || { echo "wine-test: FAIL: sandbox did not start:"; cat "$t/sandbox.out"; exit 1; } >&2
printf '%s\n' "$pin" >"$t/pin"
chmod 600 "$t/pin"
cat >"$t/config.toml" <<TOML
[dmp]
url = "$url"
ca_file = '$(winpath "$ca")'

[credential]
pkcs12_file = '$(winpath "$p12")'
TOML
status=0
w "$work/carnet.exe" sync --once -config "$(winpath "$t/config.toml")" -data "$W" \
	-passphrase-file "$(winpath "$t/pass2")" -pin-file "$(winpath "$t/pin")" >"$t/sync.out" 2>&1 || status=$?
tail -20 "$t/sync.out"
if [ "$status" -ne 0 ] || ! grep -q '^sync online' "$t/sync.out"; then
	echo "wine-test: FAIL: carnet.exe sync --once exit $status, not online" >&2
	exit 1
fi
echo "wine-test: carnet.exe import --once against the Linux Dovecot (mailtest harness) on loopback"
# mailsandbox stops Dovecot when its standard input closes: a FIFO held
# open by this script, closed at exit (or killed with the sandbox).
mkfifo "$t/mail.in"
"$work/mailsandbox" <"$t/mail.in" >"$t/mail.out" 2>&1 &
mailpid=$!
exec 7>"$t/mail.in"
for _ in $(seq 1 600); do grep -q '^ready' "$t/mail.out" 2>/dev/null && break; kill -0 "$mailpid" 2>/dev/null || break; sleep 0.5; done
grep -q '^ready' "$t/mail.out" || { echo "wine-test: FAIL: Dovecot did not start:"; cat "$t/mail.out"; exit 1; } >&2
imaps=$(awk '$1 == "imaps" {print $2}' "$t/mail.out")
mailca=$(awk '$1 == "ca" {print $2}' "$t/mail.out")
mailuser=$(awk '$1 == "user" {print $2}' "$t/mail.out")
awk '$1 == "password" {print $2}' "$t/mail.out" >"$t/mailpw"
chmod 600 "$t/mailpw"
cat >>"$t/config.toml" <<TOML

[[mailbox]]
host = "localhost"
port = $imaps
security = "implicit"
ca_file = '$(winpath "$mailca")'
username = "$mailuser"
auth = "plain"
mark = "keyword"
TOML
status=0
w "$work/carnet.exe" import --once -config "$(winpath "$t/config.toml")" -data "$W" \
	-passphrase-file "$(winpath "$t/pass2")" -password-file "$(winpath "$t/mailpw")" >"$t/import.out" 2>&1 || status=$?
exec 7>&-
wait "$mailpid" 2>/dev/null || true
mailpid=""
tail -8 "$t/import.out"
# The report has no INS and the vault no patient: it goes to the manual
# queue, read over IMAPS from Dovecot, stored in the Windows vault.
if [ "$status" -ne 0 ] || ! grep -q 'manual 1' "$t/import.out"; then
	echo "wine-test: FAIL: carnet.exe import --once exit $status, the report not in the manual queue" >&2
	exit 1
fi
echo "wine-test: the GUI carnet.exe (MinGW, cgo), its MSI: install, run the demo, uninstall"
mkdir -p "$work/msi"
CC=x86_64-w64-mingw32-gcc GOOS=windows GOARCH=amd64 CGO_ENABLED=1 go build -tags migrated_fynedo \
	-ldflags -H=windowsgui -o "$work/msi/carnet.exe" .
version=$(awk -F'"' '/^ *Version *=/ {print $2; exit}' FyneApp.toml)
scripts/windows/msi.sh "$work/msi" "$version"
msi="$(winpath "$work/msi/Carnet-$version.msi")"
w msiexec /x "$msi" /qn >/dev/null 2>&1 || true # a copy left by an interrupted run
w msiexec /i "$msi" /qn
installed=$(find "$WINEPREFIX/drive_c" -path '*/Carnet/carnet.exe' | head -1)
lnk=$(find "$WINEPREFIX/drive_c/users" -path '*Start Menu/Programs/Carnet/Carnet.lnk' | head -1)
[ -n "$installed" ] && [ -n "$lnk" ] || { echo "wine-test: FAIL: the MSI installed no carnet.exe or Start-menu entry" >&2; exit 1; }

echo "wine-test: the installed carnet.exe --demo under Wine + Xvfb ($DISPLAY)"
shots="$root/build/windows/wine-gui"
rm -rf "$shots"
export CARNET_EXE=$installed CARNET_BIN=$root/scripts/windows/wine-run.sh
x_start_app
if ! gui_demo "$shots"; then
	echo "wine-test: FAIL: the GUI demo under Wine; its output:" >&2
	x_app_log_tail 40 >&2
	exit 1
fi
x_stop_app 30 || true
echo "wine-test: GUI screenshots in $shots/"

# The user's data where Carnet keeps it: %LOCALAPPDATA%\carnet (vault) and
# %APPDATA%\carnet (configuration).
udir=$(find "$WINEPREFIX/drive_c/users" -maxdepth 1 -mindepth 1 -type d ! -name Public | head -1)
local_data="$udir/AppData/Local/carnet" roaming="$udir/AppData/Roaming/carnet"
mkdir -p "$local_data" "$roaming"
echo marker >"$local_data/vault.db"
echo marker >"$roaming/config.toml"
echo "wine-test: uninstall (default): the user's data stays"
w msiexec /x "$msi" /qn
[ ! -e "$installed" ] || { echo "wine-test: FAIL: uninstall left $installed" >&2; exit 1; }
[ -f "$data/vault.db" ] && [ -f "$local_data/vault.db" ] && [ -f "$roaming/config.toml" ] ||
	{ echo "wine-test: FAIL: uninstall removed the user's data" >&2; exit 1; }
echo "wine-test: uninstall with DELETEUSERDATA=1: the user's data goes too"
w msiexec /i "$msi" /qn
w msiexec /x "$msi" /qn DELETEUSERDATA=1
[ ! -e "$installed" ] || { echo "wine-test: FAIL: uninstall left $installed" >&2; exit 1; }
if [ -e "$local_data" ] || [ -e "$roaming" ]; then
	echo "wine-test: FAIL: DELETEUSERDATA=1 left $(ls -d "$local_data" "$roaming" 2>/dev/null)" >&2
	exit 1
fi

echo "wine-test: OK in $(($(date +%s) - start)) s"
