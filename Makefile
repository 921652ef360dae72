# Carnet — build, run, test. `make help` lists the targets.
#
# Everything runs with the same build tags as `fyne package` (FyneApp.toml's
# [Migrations] fyneDo = true adds -tags migrated_fynedo): a different tag set is a
# different cache key, and a cold cgo build of Fyne (go-gl) takes about 3 minutes.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO_ROOT_BIN := /usr/local/go/bin
GOPATH_BIN  := $(shell PATH="$(GO_ROOT_BIN):$$PATH" go env GOPATH 2>/dev/null)/bin
export PATH := $(GO_ROOT_BIN):$(GOPATH_BIN):$(PATH)
export GOFLAGS := -tags=migrated_fynedo
# Fyne only parses LANG (no locale package needed); French is Carnet's default.
export LANG := fr_FR.UTF-8

BIN        := carnet
FYNE_CLI   := fyne.io/tools/cmd/fyne@v1.7.4
TEST_FLAGS ?= -race -timeout 40m
# `make bench BENCHTIME=200ms` shortens the runs; COUNT samples per benchmark.
BENCHTIME  ?=
COUNT      ?= 3
BENCH      ?= .

# Debian packages (bookworm). Build: the cgo headers of GLFW and go-gl.
DEBS_BUILD  := gcc libc6-dev pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev \
               libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
# Run: Mesa's software OpenGL (llvmpipe) for machines without a GPU driver;
# poppler-utils renders PDF pages inside Carnet through pipes (pdftoppm).
DEBS_RUN    := $(DEBS_BUILD) libgl1-mesa-dri poppler-utils
# Test: a real window under Xvfb, screenshots, keyboard input; a real
# PKCS#11 token (SoftHSM2) for the practitioner's card; a real IMAP server
# (Dovecot) for the MSSanté import; the IMAP baseline of the import
# benchmark (mbsync, Debian isync).
DEBS_TEST   := $(DEBS_RUN) xvfb xauth imagemagick xdotool x11-apps softhsm2 dovecot-imapd dovecot-submissiond isync libxml2-utils xmlsec1 \
               default-jre-headless libsaxonhe-java \
               wine wine64 gcc-mingw-w64-x86-64 wixl msitools
DEBS_FUTURE :=

.PHONY: help deps-run deps-test build run lint lint-deps test go-test smoke screenshot \
        bench package icon clean fhirpeer windows wine-test wine-gui msi

help: ## this list
	@echo "Carnet — make targets (GOFLAGS=$(GOFLAGS), LANG=$(LANG))"
	@echo
	@awk -F':.*## ' '/^[a-z-]+:.*## / { printf "  %-11s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo
	@echo "First time on Debian bookworm: 'make run' (the app) and 'make test' (everything) install what they need."

deps-run: ## install the Debian packages to build and run (root), or print the apt-get line
	@scripts/need-debs.sh $(DEBS_RUN)

deps-test: ## install the Debian packages the tests need (+ Dovecot, SoftHSM2, isync for later issues)
	@scripts/need-debs.sh $(DEBS_TEST) $(DEBS_FUTURE)

build: deps-run ## build ./carnet (go build -tags migrated_fynedo)
	go build -tags migrated_fynedo -o $(BIN) .

run: deps-run build ## build and start `carnet --demo` (needs a display)
	@if [ -z "$${DISPLAY:-}" ] && [ -z "$${WAYLAND_DISPLAY:-}" ]; then \
		echo "make run: no display (DISPLAY and WAYLAND_DISPLAY are both unset)." >&2; \
		echo "  On a desktop session, run 'make run' from its terminal." >&2; \
		echo "  Headless: 'make screenshot' (PNGs in docs/screenshots/), or" >&2; \
		echo "            xvfb-run -a -s '-screen 0 1280x800x24' ./$(BIN) --demo" >&2; \
		exit 1; \
	fi
	./$(BIN) --demo

lint: deps-run ## gofmt, go vet, dependency direction (ARCHITECTURE.md)
	@echo "lint: gofmt -l"
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 gofmt -l); \
	 if [ -n "$$out" ]; then echo "lint: FAIL: not gofmt'ed (run gofmt -w):"; echo "$$out"; exit 1; fi
	@echo "lint: go vet ./..."
	@go vet ./...
	@$(MAKE) --no-print-directory lint-deps

lint-deps: ## only the dependency-direction check (and its self-test)
	@scripts/lint-deps.sh
	@scripts/lint-deps-selftest.sh

test: deps-test lint go-test smoke wine-test ## everything CI runs: deps, lint, go test -race ./..., smoke run under Xvfb, the Windows CLI under Wine

go-test: deps-test fhirpeer ## go test -race -timeout 40m ./... (TEST_FLAGS to change), then the volume tests without -race
	CARNET_REQUIRE_SOFTHSM=1 CARNET_REQUIRE_DOVECOT=1 CARNET_REQUIRE_CDACHECK=1 \
	CARNET_REQUIRE_FHIRPEER=$$( { [ "$${CI:-}" = true ] || test -f test/fhirpeer/node_modules/@medplum/fhir-router/package.json; } && echo 1) \
	go test $(TEST_FLAGS) ./...
	@# Volume tests skip themselves under -race (5× slower, nothing more to find):
	@# 1,000 pushes with lost answers against the independent FHIR peer.
	CARNET_REQUIRE_FHIRPEER=1 go test -count=1 -timeout 30m -run '^TestPeerThousandPushesLostAnswers$$' -v ./sync/engine/ | grep -E '^(=== RUN|--- |ok|FAIL|PASS)'

fhirpeer: ## npm ci for the independent FHIR R4 peer of the tests (test/fhirpeer), when its lockfile changed
	@scripts/fhirpeer-deps.sh

smoke: deps-test build ## start the real binary under Xvfb: window, screenshot not blank, clean SIGTERM
	@CARNET_BIN=./$(BIN) scripts/smoke.sh

screenshot: deps-test build ## PNGs of the main screens in docs/screenshots/ (real binary, Xvfb, xdotool)
	@CARNET_BIN=./$(BIN) scripts/screenshot.sh docs/screenshots

bench: deps-test ## run the benchmarks (COUNT=3; Dovecot and mbsync for BenchmarkImport) into docs/bench/raw.txt, write BENCHMARKS.md
	@mkdir -p docs/bench
	@# -p 1: one package at a time, so that no compilation of the next
	@# package runs beside a benchmark (it skewed BenchmarkImport by 50 %).
	CARNET_REQUIRE_DOVECOT=1 go test -p 1 -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) $(if $(BENCHTIME),-benchtime $(BENCHTIME)) \
		-timeout 30m ./... | tee docs/bench/raw.txt
	go run ./scripts/benchreport -in docs/bench/raw.txt -out BENCHMARKS.md
	@echo "bench: wrote BENCHMARKS.md"

package: deps-run ## fyne package -os linux -> Carnet.tar.xz (FyneApp.toml left as it was)
	@if ! fyne version 2>/dev/null | grep -q 'v1.7.4'; then \
		echo "package: go install $(FYNE_CLI)"; go install $(FYNE_CLI); fi
	@cp FyneApp.toml build-FyneApp.toml.bak
	@status=0; fyne package -os linux || status=$$?; \
	 cp build-FyneApp.toml.bak FyneApp.toml; rm -f build-FyneApp.toml.bak; \
	 if [ $$status -ne 0 ]; then echo "package: FAIL (fyne package exit $$status)" >&2; exit $$status; fi
	@ls -l Carnet.tar.xz

icon: ## redraw assets/icon.png (go run assets/mkicon.go)
	go run assets/mkicon.go

# Windows: the GUI cross-built with MinGW-w64 (cgo: GLFW), the CLI-only
# build without cgo (-tags ci) is what wine-test runs.
WIN_CC      := x86_64-w64-mingw32-gcc
WIN_DIR     := build/windows
VERSION     := $(shell awk -F'"' '/^ *Version *=/ {print $$2; exit}' FyneApp.toml)

windows: deps-test ## cross-build build/windows/carnet.exe (GUI, MinGW, -H=windowsgui)
	@mkdir -p $(WIN_DIR)
	CC=$(WIN_CC) GOOS=windows GOARCH=amd64 CGO_ENABLED=1 go build -tags migrated_fynedo \
		-ldflags -H=windowsgui -o $(WIN_DIR)/carnet.exe .
	@ls -l $(WIN_DIR)/carnet.exe

wine-test: deps-test ## under Wine + Xvfb: Windows unit tests, the CLI (vault, sync, import), the MSI and the installed GUI demo
	@scripts/windows/wine-test.sh

wine-gui: windows ## by hand: wine-test's GUI steps on build/windows/carnet.exe, screenshots in build/windows/wine-gui-manual/
	@scripts/windows/wine-gui.sh $(WIN_DIR)/carnet.exe $(WIN_DIR)/wine-gui-manual

msi: windows ## build/windows/Carnet-VERSION.msi with wixl (per-user, Start menu, icon)
	@scripts/windows/msi.sh $(WIN_DIR) $(VERSION)

clean: ## remove the binary, packages, build/ and failed UI goldens
	rm -f $(BIN) Carnet.tar.xz build-FyneApp.toml.bak
	rm -rf build ui/testdata/failed
