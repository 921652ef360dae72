package xdm

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/carnetdesk/carnet/app"
)

// The reasons an archive is refused, as short machine codes (Error.Reason).
const (
	ReasonNotZip          = "not-zip"            // not a ZIP file, or its directory is unreadable or truncated
	ReasonCorrupt         = "corrupt"            // an entry's data is damaged (CRC, deflate stream, shorter than declared)
	ReasonZipSlip         = "zip-slip"           // unsafe entry name: "..", absolute, drive letter, backslash, NUL, control character, not clean
	ReasonDuplicateName   = "duplicate-name"     // two entries with the same name, or names differing only by case
	ReasonSymlink         = "symlink"            // a symbolic link entry
	ReasonNotRegular      = "not-regular"        // a device, pipe, socket or other non-regular entry
	ReasonEncrypted       = "encrypted-entry"    // an entry with the encryption flag set
	ReasonMethod          = "unsupported-method" // a compression method other than store and deflate
	ReasonTooManyEntries  = "too-many-entries"   // more entries than Limits.MaxEntries
	ReasonTooLarge        = "too-large"          // an entry, METADATA.XML or the total above its limit
	ReasonBomb            = "bomb"               // compression ratio above the limit, or an entry larger than it declares
	ReasonNestedZip       = "nested-zip"         // a ZIP inside the ZIP
	ReasonMissingMetadata = "missing-metadata"   // no IHE_XDM/<SUBSET>/METADATA.XML
	ReasonBadMetadata     = "bad-metadata"       // METADATA.XML not well-formed, not ebRIM 3.0, or missing a required field
	ReasonDoctype         = "doctype"            // a DOCTYPE or entity declaration in METADATA.XML
	ReasonXMLDepth        = "xml-depth"          // METADATA.XML nested deeper than Limits.MaxXMLDepth
	ReasonURIEscape       = "uri-escape"         // a document URI leading outside IHE_XDM/ or not a plain relative path
	ReasonMissingDocument = "missing-document"   // a document URI naming no entry of the archive
	ReasonHashMismatch    = "hash-mismatch"      // a document's SHA-1 differs from the metadata (app.ErrIntegrity)
	ReasonSizeMismatch    = "size-mismatch"      // a document's size differs from the metadata (app.ErrIntegrity)
	ReasonSeveralSubsets  = "several-subsets"    // more than one submission set: manual queue, archive returned
	ReasonSeveralPatients = "several-patients"   // more than one patient id: manual queue, archive returned
)

// Error is the error of every refusal. Reason is one of the Reason constants;
// Detail says where, in words safe to log: entry names are reduced to
// printable ASCII and truncated, and no patient data or document content is
// ever included. Error wraps app.ErrInvalid, or app.ErrIntegrity for
// ReasonHashMismatch and ReasonSizeMismatch.
type Error struct {
	Reason string
	Detail string
	kind   error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Detail == "" {
		return "xdm: " + e.Reason
	}
	return "xdm: " + e.Reason + ": " + e.Detail
}

// Unwrap returns the error kind (app.ErrInvalid or app.ErrIntegrity).
func (e *Error) Unwrap() error { return e.kind }

// Manual reports whether the archive was read but must go to the manual
// queue (several submission sets or several patients) rather than be
// rejected as broken.
func (e *Error) Manual() bool {
	return e.Reason == ReasonSeveralSubsets || e.Reason == ReasonSeveralPatients
}

// ReasonOf returns the Reason of err when it is (or wraps) an *Error, else "".
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// fail returns an *Error of the kind that goes with reason.
func fail(reason, format string, args ...any) *Error {
	kind := app.ErrInvalid
	if reason == ReasonHashMismatch || reason == ReasonSizeMismatch {
		kind = app.ErrIntegrity
	}
	return &Error{Reason: reason, Detail: fmt.Sprintf(format, args...), kind: kind}
}

// safeName renders an archive entry name or URI for an error detail
// without its text, which can hold a patient's name: "entry#" and the first
// 128 bits of an HMAC-SHA-256 of the name under a random key drawn once per
// process (nameKey). Two entries are told apart within a run, and the same
// name gives the same token there; but the token cannot be reversed by
// hashing candidate names (a dictionary of patient names), nor linked
// across runs, since the key never leaves the process's memory.
func safeName(name string) string {
	return safeNameWith(nameKey(), name)
}

// safeNameTokenBytes is how much of the HMAC a token keeps (128 bits).
const safeNameTokenBytes = 16

// safeNameWith is safeName under key.
func safeNameWith(key []byte, name string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(name))
	return "entry#" + hex.EncodeToString(m.Sum(nil)[:safeNameTokenBytes])
}

// nameKey is the per-process key of safeName: 32 random bytes, drawn at
// first use, never written anywhere.
var nameKey = sync.OnceValue(func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		// crypto/rand does not fail on supported systems (Go 1.24+ crashes
		// the program rather than return an error).
		panic("xdm: no randomness for the entry-name key: " + err.Error())
	}
	return k
})
