#!/usr/bin/env bash
# wine-run.sh ARGS... — run $CARNET_EXE under Wine (prefix $WINEPREFIX, made by
# wine-test.sh, with the ProcessPrng shim), Linux absolute paths in ARGS
# turned into Z:\ paths. The CARNET_BIN of scripts/xlib.sh in wine-gui.sh.
set -euo pipefail
args=()
for a in "$@"; do
	case $a in
	/*) a="Z:${a//\//\\}" ;;
	esac
	args+=("$a")
done
export WINEDEBUG=-all WINEDLLOVERRIDES="bcryptprimitives=n;mscoree=;mshtml="
exec wine "$CARNET_EXE" "${args[@]}"
