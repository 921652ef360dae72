package main

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestHelpExitsZero: asking a command for its usage (-h, --help) prints it
// and exits with status 0; a bad flag still exits with 2.
func TestHelpExitsZero(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"sync", "--help"}, {"sync", "-h"}, {"import", "--help"}, {"sandbox", "--help"}, {"vault", "init", "--help"},
	} {
		var out, errOut bytes.Buffer
		code := run(args, strings.NewReader(""), &out, &errOut, log)
		if code != 0 {
			t.Errorf("carnet %s: exit %d, want 0; stderr %q", strings.Join(args, " "), code, errOut.String())
		}
		if !strings.Contains(strings.ToLower(out.String()+errOut.String()), "usage") {
			t.Errorf("carnet %s printed no usage", strings.Join(args, " "))
		}
	}
	for _, args := range [][]string{{"sync", "--no-such-flag"}, {"vault", "init", "--no-such-flag"}} {
		var out, errOut bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errOut, log); code != 2 {
			t.Errorf("carnet %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
}
