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

// privateFileAdvice tells how to make path readable by its owner alone.
func privateFileAdvice(path string) string {
	return "chmod 600 " + path
}
