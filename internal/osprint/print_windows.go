//go:build windows

package osprint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/windows"
)

// spoolPrefix names the private directories of the print files.
const spoolPrefix = "carnet-print-"

// keepFor is how long the print file stays for the PDF reader to open it.
const keepFor = 2 * time.Minute

// Print hands the PDF to the default PDF reader with ShellExecute's
// "print" verb. The file it needs is written in a new 0700 directory of
// the user's temporary folder (named without health data) and removed
// after keepFor; Sweep removes leftovers of an interrupted session. When
// a CUPS-style lp or lpr is on PATH (some clinics install one), it is used
// instead, with nothing written.
func (p Printer) Print(ctx context.Context, pdf []byte) error {
	if len(pdf) == 0 {
		return errEmpty
	}
	if p.Available() {
		return p.runCommand(ctx, pdf)
	}
	dir, err := os.MkdirTemp("", spoolPrefix)
	if err != nil {
		return fmt.Errorf("osprint: %w", err)
	}
	path := filepath.Join(dir, "carnet.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("osprint: %w", err)
	}
	verb, _ := windows.UTF16PtrFromString("print")
	file, _ := windows.UTF16PtrFromString(path)
	wd, _ := windows.UTF16PtrFromString(dir)
	if err := windows.ShellExecute(0, verb, file, nil, wd, windows.SW_HIDE); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("osprint: ShellExecute print: %w", err)
	}
	time.AfterFunc(keepFor, func() { os.RemoveAll(dir) })
	return nil
}

// Sweep removes the print files an interrupted session left in the
// user's temporary folder.
func Sweep() {
	tmp := os.TempDir()
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), spoolPrefix) {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > keepFor {
				os.RemoveAll(filepath.Join(tmp, e.Name()))
			}
		}
	}
}
