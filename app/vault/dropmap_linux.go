//go:build linux

package vault

import (
	"syscall"

	"go.etcd.io/bbolt"
)

// dropResident lets go of the pages of the database file mapped in this
// process (madvise MADV_DONTNEED on bbolt's read-only shared mapping):
// they stay in the page cache and are mapped again, unchanged, at the next
// read. bbolt reads its pages through the mapping, and every page a
// transaction read stays resident in the process, pages freed since by
// copy-on-write included: the mail import's resident set grew by the
// pages of each of its commits (10 MB for 200 messages). It runs in a read
// transaction, which keeps bbolt from remapping the file meanwhile.
func dropResident(db *bbolt.DB) {
	_ = db.View(func(tx *bbolt.Tx) error {
		info, n := db.Info(), tx.Size()
		if info == nil || info.Data == 0 || n <= 0 {
			return nil
		}
		// A failure (an old kernel) only leaves the pages resident.
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, info.Data, uintptr(n), uintptr(syscall.MADV_DONTNEED))
		return nil
	})
}
