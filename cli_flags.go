package main

import (
	"errors"
	"flag"
)

// flagsExit is the exit status of a command whose flags did not parse: 0
// when the usage was asked for (-h, --help: the flag package printed it), 2
// for a bad flag.
func flagsExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
