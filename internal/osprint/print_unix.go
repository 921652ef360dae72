//go:build !windows

package osprint

import "context"

// Print sends the PDF to the system's print command on its standard
// input; nothing is written to disk by Carnet.
func (p Printer) Print(ctx context.Context, pdf []byte) error {
	if len(pdf) == 0 {
		return errEmpty
	}
	return p.runCommand(ctx, pdf)
}

// Sweep removes what an interrupted print left behind: nothing on this
// system (no file is written).
func Sweep() {}
