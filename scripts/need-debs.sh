#!/usr/bin/env bash
# need-debs.sh PKG... — make sure the named Debian packages are installed.
#
# Checks each package with dpkg-query. If all are there, says so and exits 0.
# Otherwise, as root: apt-get update (only then) and
# apt-get install -y --no-install-recommends with the missing ones, non-interactively.
# Not root: prints the exact sudo apt-get install line and exits 1.
#
# Used by `make deps-run` and `make deps-test`.
set -euo pipefail

if [ "$#" -eq 0 ]; then
	echo "usage: $0 PKG..." >&2
	exit 2
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "need-debs: dpkg-query not found: this script expects Debian (bookworm) or a derivative." >&2
	echo "need-debs: install the equivalents of: $*" >&2
	exit 1
fi

missing=()
for p in "$@"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [ "$status" != "installed" ]; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "need-debs: all $# packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "need-debs: missing Debian packages: ${missing[*]}" >&2
	echo "need-debs: run this, then try again:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

echo "need-debs: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The Makefile exports LANG=fr_FR.UTF-8 for Fyne; that locale is usually not
# generated, and apt's perl helpers would complain about it at length.
export LC_ALL=C.UTF-8 LANG=C.UTF-8
# Services in packages (dovecot) must not be started by the install: tests start
# their own instances. policy-rc.d exit 101 tells invoke-rc.d "not allowed".
# Only add one for the duration of the install if the machine has none.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	added_policy=1
fi
cleanup() { if [ "$added_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt_opts=(-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o Dpkg::Use-Pty=0)
apt-get "${apt_opts[@]}" -q update
apt-get "${apt_opts[@]}" -q install -y --no-install-recommends "${missing[@]}"

# Check again: a package name that apt resolved to something else must not pass silently.
still=()
for p in "${missing[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = "installed" ] || still+=("$p")
done
if [ "${#still[@]}" -ne 0 ]; then
	echo "need-debs: still missing after install: ${still[*]}" >&2
	exit 1
fi
echo "need-debs: installed ${missing[*]}"
