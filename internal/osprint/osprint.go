// Package osprint hands a PDF to the operating system's printing, the way
// a clinic's IT expects a desktop application to print:
//
//   - Linux, the BSDs, macOS: CUPS. The PDF goes to `lp` (else `lpr`) on
//     its standard input: Carnet writes no file; the print system spools
//     the job as it does for every application. The job's title is
//     "Carnet", never a patient's name (the queue is visible to others).
//     The default printer is used (`lpoptions -d` sets it; a named printer
//     can be given).
//   - Windows: ShellExecute's "print" verb on the PDF, which the default
//     PDF reader prints to the default printer. The verb needs a file: it
//     is written in a private directory of the user's temporary folder,
//     removed once the reader had time to open it, and any leftover is
//     removed at the next start (Sweep).
//
// It implements app.Printer.
package osprint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// JobTitle is the title of every print job: no health data.
const JobTitle = "Carnet"

// ErrNoPrintSystem is returned when the system has no print command.
var ErrNoPrintSystem = errors.New("osprint: no print system (lp or lpr) found")

// Printer prints PDFs through the system.
type Printer struct {
	// Destination is the printer's name; "" for the system's default.
	Destination string
	// LookPath finds a command (exec.LookPath when nil; tests).
	LookPath func(string) (string, error)
	// Wait bounds how long a print command may run before it is
	// abandoned as hung (2 minutes when 0); the job itself is the spooler's.
	Wait time.Duration
}

// Available reports whether the system offers printing.
func (p Printer) Available() bool {
	_, _, err := p.command()
	return err == nil
}

// runCommand runs a print command with the PDF on its standard input.
func (p Printer) runCommand(ctx context.Context, pdf []byte) error {
	path, args, err := p.command()
	if err != nil {
		return err
	}
	wait := p.Wait
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = bytes.NewReader(pdf)
	var stderr bytes.Buffer
	cmd.Stderr = &limited{b: &stderr, n: 2048}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("osprint: %s: %w", base(path), ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return fmt.Errorf("osprint: %s: %v: %s", base(path), err, firstLine(msg))
		}
		return fmt.Errorf("osprint: %s: %w", base(path), err)
	}
	return nil
}

// command returns the print command and its arguments: lp, else lpr.
func (p Printer) command() (string, []string, error) {
	look := p.LookPath
	if look == nil {
		look = exec.LookPath
	}
	if path, err := look("lp"); err == nil {
		args := []string{"-t", JobTitle}
		if p.Destination != "" {
			args = append(args, "-d", p.Destination)
		}
		return path, args, nil // no file: lp reads the standard input
	}
	if path, err := look("lpr"); err == nil {
		args := []string{"-T", JobTitle}
		if p.Destination != "" {
			args = append(args, "-P", p.Destination)
		}
		return path, args, nil
	}
	return "", nil, ErrNoPrintSystem
}

func base(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[i+1:]
	}
	return path
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// limited keeps the first n bytes written to it.
type limited struct {
	b *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
