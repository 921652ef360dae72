#!/usr/bin/env bash
# fhirpeer-deps.sh — install the independent FHIR peer's packages (test/fhirpeer)
# with `npm ci` from the committed package-lock.json, for `make test`.
#
# Idempotent: skipped when node_modules was installed from this very lockfile
# (a stamp holds the lockfile's SHA-256). Offline-tolerant: npm ci runs with
# --prefer-offline (the npm cache suffices once filled); when it fails and an
# earlier install exists, that install is kept with a warning. Without node or
# npm, it says so and the peer's tests skip (CARNET_REQUIRE_FHIRPEER=1 turns
# that into a failure).
set -euo pipefail
dir=$(cd "$(dirname "$0")/../test/fhirpeer" && pwd)
stamp=$dir/node_modules/.carnet-lock-sha256
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "fhirpeer: node/npm not installed: the independent FHIR peer's tests will skip" >&2
	exit 0
fi
major=$(node -p 'process.versions.node.split(".")[0]')
minor=$(node -p 'process.versions.node.split(".")[1]')
if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
	echo "fhirpeer: node $(node --version) is too old (@medplum/fhir-router 4.5.2 needs ^20.19): the peer's tests will skip" >&2
	exit 0
fi
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dir/node_modules/@medplum/fhir-router/package.json" ]; then
	echo "fhirpeer: node_modules up to date"
	exit 0
fi
echo "fhirpeer: npm ci (test/fhirpeer)"
if (cd "$dir" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error); then
	echo "$want" >"$stamp"
elif [ -f "$dir/node_modules/@medplum/fhir-router/package.json" ]; then
	echo "fhirpeer: npm ci failed (offline?): keeping the installed node_modules" >&2
else
	echo "fhirpeer: npm ci failed and nothing is installed: the peer's tests will skip" >&2
fi
