//go:build !windows

package main

import (
	"os"
	"path/filepath"
)

// userDataBase is $XDG_DATA_HOME, else ~/.local/share.
func userDataBase() (string, error) {
	if base := os.Getenv("XDG_DATA_HOME"); base != "" {
		return base, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share"), nil
}
