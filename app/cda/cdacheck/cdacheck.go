// Package cdacheck runs the ANS's CDA conformance kit on the documents
// Carnet writes, from Go tests: the CDA R2 XSD with the French extensions
// (xmllint) and the ANS schematrons (compiled and run by Debian's Saxon-HE),
// through ../shared/reference/cda-conformance/check.sh. Nobody here wrote
// those rules; a writer is conformant when they say so.
//
// The kit lives outside the repository (never copied in). Without it, or
// without Java, Saxon-HE or xmllint, Check skips the test with the reason,
// unless CARNET_REQUIRE_CDACHECK=1 (make test sets it), where it fails.
//
// Compiled schematrons are cached under the user's cache directory (the
// kit's CDA_CONFORMANCE_CACHE), shared by every test process: runs are
// serialised with a lock file beside the cache, since check.sh writes its
// report to one place.
package cdacheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Common is the set check.sh runs without -s: the IHE and CI-SIS content
// model profiles.
var Common = []string{"IHE.sch", "CI-SIS_ModelesDeContenusCDA.sch"}

// ErrNoKit reports that the conformance kit or one of its tools is missing.
var ErrNoKit = errors.New("cdacheck: conformance kit unavailable")

// Report is what the kit said about one document.
type Report struct {
	Failures []string // one line per failed assertion or schema error
	Output   string   // the kit's whole output
}

// OK reports whether the document conforms.
func (r Report) OK() bool { return len(r.Failures) == 0 }

var mu sync.Mutex // one run at a time within a process (the lock file orders processes)

// Script returns the path of the kit's check.sh: ../shared/reference/
// cda-conformance/check.sh beside the module root.
func Script() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("%w: no go.mod above the working directory", ErrNoKit)
		}
		dir = up
	}
	p := filepath.Join(filepath.Dir(dir), "shared", "reference", "cda-conformance", "check.sh")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: %s absent", ErrNoKit, p)
	}
	for _, tool := range []string{"java", "xmllint"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%w: %s not installed (apt-get install default-jre-headless libsaxonhe-java libxml2-utils)", ErrNoKit, tool)
		}
	}
	if _, err := os.Stat("/usr/share/java/Saxon-HE.jar"); err != nil && os.Getenv("SAXON_JAR") == "" {
		return "", fmt.Errorf("%w: Saxon-HE not installed (apt-get install libsaxonhe-java)", ErrNoKit)
	}
	return p, nil
}

// Run checks doc against the CDA XSD and the schematrons (file names of
// the kit; Common when none is given).
func Run(ctx context.Context, doc []byte, schematrons ...string) (Report, error) {
	script, err := Script()
	if err != nil {
		return Report{}, err
	}
	if len(schematrons) == 0 {
		schematrons = Common
	}
	cache, err := cacheDir()
	if err != nil {
		return Report{}, err
	}
	tmp, err := os.MkdirTemp("", "cdacheck-")
	if err != nil {
		return Report{}, err
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "document.xml")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		return Report{}, err
	}
	args := []string{script}
	for _, s := range schematrons {
		args = append(args, "-s", s)
	}
	args = append(args, path)

	mu.Lock()
	defer mu.Unlock()
	unlock, err := lockFile(ctx, filepath.Join(cache, ".lock"))
	if err != nil {
		return Report{}, err
	}
	defer unlock()
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Env = append(os.Environ(), "CDA_CONFORMANCE_CACHE="+cache)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	rep := Report{Output: out.String()}
	for _, line := range strings.Split(rep.Output, "\n") {
		switch {
		case strings.Contains(line, ": CDA schema: "),
			strings.Contains(line, "failed assertion(s)"),
			strings.Contains(line, ": run failed: "),
			strings.HasPrefix(line, "  /"): // one failed assertion: "  location: text"
			rep.Failures = append(rep.Failures, strings.TrimSpace(strings.ReplaceAll(line, path, "document")))
		}
	}
	var exit *exec.ExitError
	switch {
	case runErr == nil:
	case errors.As(runErr, &exit) && exit.ExitCode() == 1: // failures, listed
	case errors.As(runErr, &exit) && exit.ExitCode() == 2:
		return rep, fmt.Errorf("%w: %s", ErrNoKit, strings.TrimSpace(rep.Output))
	default:
		return rep, fmt.Errorf("cdacheck: %w: %s", runErr, strings.TrimSpace(rep.Output))
	}
	if runErr != nil && len(rep.Failures) == 0 {
		rep.Failures = append(rep.Failures, "check.sh failed without naming an assertion")
	}
	return rep, nil
}

// Check fails t when doc does not conform to the schematrons (Common when
// none is given), listing every failed assertion. It skips the test when
// the kit is unavailable, unless CARNET_REQUIRE_CDACHECK=1.
func Check(t testing.TB, doc []byte, schematrons ...string) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute) // a hang guard
	defer cancel()
	rep, err := Run(ctx, doc, schematrons...)
	if errors.Is(err, ErrNoKit) {
		if os.Getenv("CARNET_REQUIRE_CDACHECK") == "1" {
			t.Fatalf("CARNET_REQUIRE_CDACHECK=1: %v", err)
		}
		t.Skipf("skipped: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("the ANS conformance kit refuses the document (%s):\n%s", strings.Join(schematrons, ", "), strings.Join(rep.Failures, "\n"))
	}
	return rep
}

func cacheDir() (string, error) {
	if d := os.Getenv("CDA_CONFORMANCE_CACHE"); d != "" {
		return d, os.MkdirAll(d, 0o700)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	d := filepath.Join(base, "cda-conformance")
	return d, os.MkdirAll(d, 0o700)
}
