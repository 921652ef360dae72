//go:build !linux

package vault

import "go.etcd.io/bbolt"

// dropResident does nothing outside Linux (see dropmap_linux.go).
func dropResident(*bbolt.DB) {}
