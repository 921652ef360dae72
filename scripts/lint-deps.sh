#!/usr/bin/env bash
# lint-deps.sh — check the dependency direction of ARCHITECTURE.md with `go list -deps`.
#
# Runs from the module root (the current directory's module). For every rule below,
# every package of the module that the rule names is listed with all its transitive
# dependencies (non-test build, current GOFLAGS/tags); a dependency that matches
# the rule's DENY regex and not its ALLOW regex is a breach, printed with the import
# chain that brings it in. Exit 1 on any breach, 0 otherwise.
# Packages that do not exist yet are skipped (reported as "skip").
#
# Rule format (one per line, fields separated by ";"):
#   PACKAGES ; DENY ; ALLOW ; WHY
# PACKAGES: space-separated paths relative to the module ("app", "sync/mailbox/..." for a
#   tree, "*" for every package but the root main package).
# DENY, ALLOW: POSIX extended regexes matched against each dependency's import path;
#   "@" stands for the module path. Standard-library packages have no dot in their
#   first path element, so "^[^/]*\." matches every non-standard import.
# A package never breaches its own rule by importing itself.
#
# LINT_DEPS_RULES=FILE replaces the built-in table (used by the self-test).
set -euo pipefail
set -f # no globbing: "*" is a rule pattern

read -r -d '' builtin_rules <<'EOF' || true
# PACKAGES                ; DENY                                                  ; ALLOW                        ; WHY
app                       ; ^[^/]*\.                                              ;                              ; app: standard library only
app/cda                   ; ^[^/]*\.|^net$|^net/http                              ; ^@/(app|assets|app/terms)$|^github\.com/go-pdf/fpdf$ ; app/cda: app, app/terms, assets, the standard library and fpdf (N1 notes as PDF), no network
app/storetest             ; ^[^/]*\.|^net$|^net/http                              ; ^@/app$                      ; app/storetest: the contract of app's store ports, over app and the standard library only
app/meds app/terms        ; ^[^/]*\.|^net$|^net/http                              ; ^@/(app|assets|app/terms)$   ; app/meds, app/terms: app, app/terms, assets and the standard library only, no network
crypto crypto/credential  ; ^@/app(/|$)|^fyne\.io/                                ;                              ; crypto, crypto/credential: never app, never fyne
app/vault                 ; ^fyne\.io/|^@/sync/                                   ;                              ; app/vault: never fyne, never sync/*
sync/dmp sync/dmp/fhir    ; ^fyne\.io/|^@/app/vault(/|$)|^@/sync/                 ; ^@/sync/dmp(/fhir)?$         ; sync/dmp, sync/dmp/fhir: never fyne, app/vault or another sync/* package
sync/dmp/xds/...          ; ^fyne\.io/|^@/app/vault(/|$)|^@/sync/|^@/crypto$       ; ^@/sync/dmp/xds(/|$)          ; sync/dmp/xds: app, app/cda, crypto/credential, an XML-DSig library; never fyne, app/vault, sync/dmp or another sync/* package
sync/dmp/dmptest          ; ^fyne\.io/|^@/sync/dmp$                               ;                              ; sync/dmp/dmptest: never fyne, never the client sync/dmp
sync/mailbox/...          ; ^fyne\.io/|^@/app/vault(/|$)|^@/sync/dmp(/|$)         ;                              ; sync/mailbox/...: never fyne, app/vault or sync/dmp
sync/engine/...           ; ^fyne\.io/|^@/                                        ; ^@/app$|^@/sync/engine(/|$)  ; sync/engine: among our packages only app (adapters arrive as app interfaces), never fyne
internal/mailsched        ; ^fyne\.io/|^@/                                        ; ^@/app$|^@/sync/engine$      ; internal/mailsched: the desktop's mail scheduling, over app and the engine only (the mailbox adapter arrives as app.MailboxOpener)
ui/...                    ; ^fyne\.io/fyne/v2/app$|^@/sync/|^@/crypto(/|$)|^@/app/vault(/|$)|^go\.etcd\.io/bbolt|^github\.com/emersion/go-imap ; ; ui: never fyne.io/fyne/v2/app, sync/*, crypto, app/vault, bbolt, go-imap
internal/config internal/secret internal/buildinfo ; ^fyne\.io/|^@/(sync|ui|crypto/credential|app/vault)(/|$)|^@/internal/(signin|demoworld|watchguard)$ ; ; internal/config, internal/secret, internal/buildinfo: app and crypto at most; never fyne, ui, sync/*, the vault or the credential
internal/signin           ; ^fyne\.io/|^@/(ui|app/vault|sync/mailbox|sync/engine)(/|$)|^@/internal/(demoworld|watchguard)$ ; ; internal/signin: the credential and the central-service clients; never fyne, ui, the vault, the mailbox or the engine
internal/watchguard       ; ^fyne\.io/|^@/                                        ; ^@/app$                      ; internal/watchguard: over app only
internal/demoworld        ; ^fyne\.io/|^@/ui(/|$)|^@/sync/engine(/|$)|^@/internal/(signin|watchguard)$ ; ; internal/demoworld: never fyne, ui, the engine, the sign-in or the watch guard
assets/...                ; ^fyne\.io/                                            ;                              ; assets: never fyne (plain bytes and embed.FS)
*                         ; ^fyne\.io/fyne/v2/app$                                ;                              ; only main.go imports fyne.io/fyne/v2/app
EOF

if [ -n "${LINT_DEPS_RULES:-}" ]; then
	rules=$(cat "$LINT_DEPS_RULES")
else
	rules=$builtin_rules
fi

mod=$(go list -m -f '{{.Path}}')
modre=$(printf '%s' "$mod" | sed 's/[.]/\\./g') # the module path as a regex
mapfile -t all < <(go list -e -f '{{.ImportPath}}' ./...)

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }

# expand PATTERN: the module's packages it names, one per line.
expand() {
	local pat=$1 p
	case $pat in
	'*')
		for p in "${all[@]}"; do [ "$p" != "$mod" ] && echo "$p"; done ;;
	*/...)
		local base="$mod/${pat%/...}"
		for p in "${all[@]}"; do
			if [ "$p" = "$base" ] || [[ $p == "$base"/* ]]; then echo "$p"; fi
		done ;;
	*)
		for p in "${all[@]}"; do [ "$p" = "$mod/$pat" ] && echo "$p"; done ;;
	esac
	return 0
}

# check PKG DENY ALLOW WHY: print breaches with their import chain; return 1 if any.
check() {
	local pkg=$1 deny=$2 allow=$3 why=$4
	go list -e -deps -f '{{.ImportPath}}{{range .Imports}} {{.}}{{end}}' "$pkg" |
		ROOT=$pkg DENY=$deny ALLOW=$allow WHY=$why MODRE=$modre awk '
		# Regexes come through ENVIRON: awk -v would eat their backslashes.
		BEGIN { root = ENVIRON["ROOT"]; deny = ENVIRON["DENY"]; allow = ENVIRON["ALLOW"]; why = ENVIRON["WHY"]; modre = ENVIRON["MODRE"] }
		{ node = $1; n[node] = NF - 1; for (i = 2; i <= NF; i++) imp[node, i - 1] = $i }
		END {
			# Breadth-first from root so each breach is shown with a shortest chain.
			head = 1; tail = 1; q[1] = root; seen[root] = 1; bad = 0
			while (head <= tail) {
				cur = q[head++]
				for (i = 1; i <= n[cur]; i++) {
					d = imp[cur, i]
					if (d in seen) continue
					seen[d] = 1; parent[d] = cur; q[++tail] = d
				}
			}
			for (k = 2; k <= tail; k++) {
				d = q[k]
				if (d == root) continue
				if (d !~ deny) continue
				if (allow != "" && d ~ allow) continue
				chain = d; c = d
				while (c != root) { c = parent[c]; chain = c " -> " chain }
				gsub(modre "/", "", chain)
				short = root; sub("^" modre "/?", "", short); if (short == "") short = "(root)"
				printf "lint-deps: BREACH %s imports %s\n    via   %s\n    rule  %s\n", short, d, chain, why
				bad = 1
			}
			exit bad
		}'
}

breaches=0 checked=0
while IFS= read -r line; do
	line=$(trim "$line")
	[ -z "$line" ] && continue
	[[ $line == \#* ]] && continue
	IFS=';' read -r pats deny allow why <<<"$line"
	pats=$(trim "$pats"); deny=$(trim "$deny"); allow=$(trim "$allow"); why=$(trim "$why")
	deny=${deny//@/$modre}; allow=${allow//@/$modre}
	for pat in $pats; do
		mapfile -t pkgs < <(expand "$pat")
		if [ "${#pkgs[@]}" -eq 0 ]; then
			echo "lint-deps: skip $pat (no such package yet)"
			continue
		fi
		for pkg in "${pkgs[@]}"; do
			checked=$((checked + 1))
			if ! check "$pkg" "$deny" "$allow" "$why"; then
				breaches=$((breaches + 1))
			fi
		done
	done
done <<<"$rules"

if [ "$breaches" -ne 0 ]; then
	echo "lint-deps: FAIL: $breaches package check(s) breach the dependency direction of ARCHITECTURE.md" >&2
	exit 1
fi
echo "lint-deps: ok ($checked package checks, module $mod)"
