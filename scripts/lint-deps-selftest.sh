#!/usr/bin/env bash
# lint-deps-selftest.sh — prove that scripts/lint-deps.sh catches breaches.
#
# Builds a throwaway module (standard library only, no network) laid out like
# Carnet, with three deliberate breaches of the ARCHITECTURE.md table:
#   crypto      imports app           (crypto never imports app)
#   ui          imports crypto        (ui never imports crypto), via ui/view -> crypto
#   sync/engine imports sync/dmp      (the engine knows only app)
# and checks that lint-deps.sh exits 1 and names each one; then removes the
# breaches and checks that it exits 0. Run by `make lint`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lint-deps-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

pkg() { # pkg DIR IMPORT... : write DIR/x.go importing the given packages
	local dir=$1; shift
	mkdir -p "$tmp/$dir"
	{
		echo "package $(basename "$dir")"
		echo
		for i in "$@"; do echo "import _ \"$i\""; done
	} >"$tmp/$dir/x.go"
}

cat >"$tmp/go.mod" <<'EOF'
module example.com/fake

go 1.22
EOF
pkg app strings
pkg crypto example.com/fake/app crypto/sha256
pkg ui example.com/fake/app example.com/fake/ui/view
pkg ui/view example.com/fake/crypto
pkg sync/dmp example.com/fake/app net/http
pkg sync/engine example.com/fake/app example.com/fake/sync/dmp
printf 'package main\n\nimport _ "example.com/fake/ui"\n\nfunc main() {}\n' >"$tmp/main.go"

export GOWORK=off GOPROXY=off GOFLAGS=-mod=mod
fail=0
out=$(cd "$tmp" && "$here/lint-deps.sh" 2>&1) && rc=0 || rc=$?
if [ "$rc" -ne 1 ]; then
	echo "lint-deps-selftest: FAIL: expected exit 1 on the broken module, got $rc"; fail=1
fi
for want in \
	'BREACH crypto imports example.com/fake/app' \
	'BREACH ui imports example.com/fake/crypto' \
	'via   ui -> ui/view -> crypto' \
	'BREACH ui/view imports example.com/fake/crypto' \
	'BREACH sync/engine imports example.com/fake/sync/dmp'; do
	if ! grep -qF -- "$want" <<<"$out"; then
		echo "lint-deps-selftest: FAIL: output lacks: $want"; fail=1
	fi
done
if [ "$fail" -ne 0 ]; then
	echo "--- lint-deps output on the broken module:"; echo "$out"
	exit 1
fi

# Remove the breaches: now it must pass.
pkg crypto crypto/sha256
pkg ui/view example.com/fake/app
pkg sync/engine example.com/fake/app
if ! out=$(cd "$tmp" && "$here/lint-deps.sh" 2>&1); then
	echo "lint-deps-selftest: FAIL: clean module rejected:"; echo "$out"
	exit 1
fi
echo "lint-deps-selftest: ok (4 breaches caught, clean module passes)"
