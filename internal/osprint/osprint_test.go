//go:build !windows

package osprint

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSpooler puts a fake print command (name: lp or lpr) on a PATH of its
// own: it writes its arguments and the bytes read on its standard input
// into out, and fails with a message when told to.
func fakeSpooler(t *testing.T, name string, fail bool) (pathDir, out string) {
	t.Helper()
	dir := t.TempDir()
	out = filepath.Join(t.TempDir(), "job")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + out + ".args'\ncat > '" + out + "'\n"
	if fail {
		script += "echo 'lp: The printer or class does not exist.' >&2\nexit 1\n"
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, out
}

func lookIn(dir string) func(string) (string, error) {
	return func(name string) (string, error) {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", exec.ErrNotFound
		}
		return p, nil
	}
}

var samplePDF = []byte("%PDF-1.4\n% a page of health data\n%%EOF\n")

// TestPrintLp: the PDF reaches lp on its standard input, whole, under the
// title "Carnet" (no patient name in the queue), on the printer chosen;
// no file is left anywhere by Carnet.
func TestPrintLp(t *testing.T) {
	dir, out := fakeSpooler(t, "lp", false)
	tmpBefore, _ := os.ReadDir(os.TempDir())
	p := Printer{Destination: "Bloc-A", LookPath: lookIn(dir)}
	if !p.Available() {
		t.Fatal("lp not found")
	}
	if err := p.Print(context.Background(), samplePDF); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, samplePDF) {
		t.Errorf("lp read %q", got)
	}
	args, _ := os.ReadFile(out + ".args")
	if a := strings.Fields(string(args)); strings.Join(a, " ") != "-t Carnet -d Bloc-A" {
		t.Errorf("lp arguments %q", a)
	}
	if tmpAfter, _ := os.ReadDir(os.TempDir()); len(tmpAfter) > len(tmpBefore) {
		t.Errorf("files left in the temporary folder: %d before, %d after", len(tmpBefore), len(tmpAfter))
	}
}

// TestPrintLpr: without lp, lpr is used the same way; the system's real
// lp/lpr answers with an error or works (a smoke run when installed).
func TestPrintLpr(t *testing.T) {
	dir, out := fakeSpooler(t, "lpr", false)
	if err := (Printer{LookPath: lookIn(dir)}).Print(context.Background(), samplePDF); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	args, _ := os.ReadFile(out + ".args")
	if !bytes.Equal(got, samplePDF) || strings.Join(strings.Fields(string(args)), " ") != "-T Carnet" {
		t.Errorf("lpr read %d bytes, arguments %q", len(got), args)
	}
}

// TestPrintErrors: no print system, a spooler refusing the job (its
// message kept), an empty document, a spooler that hangs: each a clear
// error, never a silent success.
func TestPrintErrors(t *testing.T) {
	ctx := context.Background()
	none := Printer{LookPath: lookIn(t.TempDir())}
	if none.Available() {
		t.Error("available without lp or lpr")
	}
	if err := none.Print(ctx, samplePDF); !errors.Is(err, ErrNoPrintSystem) {
		t.Errorf("no print system: %v", err)
	}
	dir, _ := fakeSpooler(t, "lp", true)
	err := (Printer{LookPath: lookIn(dir)}).Print(ctx, samplePDF)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("refused job: %v", err)
	}
	if err := (Printer{LookPath: lookIn(dir)}).Print(ctx, nil); err == nil {
		t.Error("an empty document printed")
	}
	hang := t.TempDir()
	if err := os.WriteFile(filepath.Join(hang, "lp"), []byte("#!/bin/sh\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := (Printer{LookPath: lookIn(hang), Wait: 200 * time.Millisecond}).Print(ctx, samplePDF); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung spooler: %v", err)
	}
}
