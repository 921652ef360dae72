// Package xdm reads IHE XDM archives (the IHE_XDM.ZIP attachment of MSSanté
// messages, IHE ITI-32 "ZIP over e-mail") safely, in memory.
//
// An archive holds one directory per submission set, IHE_XDM/<SUBSET>/, with
// a METADATA.XML (an ebRIM 3.0 SubmitObjectsRequest) describing the documents
// next to it. Read validates the whole ZIP before reading anything: entry
// names (zip-slip), modes (symlinks, devices), encryption, duplicates
// (including names that differ only by case), entry count, declared and real
// sizes, compression ratio and totals. It then parses every METADATA.XML
// (no DOCTYPE or entity declarations, bounded size and depth), resolves each
// document URI inside IHE_XDM/, reads the document with its size and SHA-1
// verified against the metadata, and returns everything parsed.
//
// Nothing is ever written to disk. Every failure is an *Error with a short
// machine Reason and a Detail that never carries patient data or document
// content; it wraps app.ErrInvalid, or app.ErrIntegrity for hash and size
// mismatches.
//
// Names are matched case-insensitively: ITI-32 asks for upper-case ISO 9660
// names, but real senders write ihe_xdm/subset01/metadata.xml too. Two entries
// whose names differ only by case are rejected. README.TXT, INDEX.HTM and any
// other file not referenced by a METADATA.XML are ignored (but still
// validated); a ZIP inside the ZIP is rejected.
//
// An archive with several submission sets or several patients is fully read
// and verified, then returned together with an *Error of Reason
// ReasonSeveralSubsets or ReasonSeveralPatients: the caller must send it to
// the manual queue, and may show the parsed candidates to the person who
// decides. For every other error the archive is nil.
//
// Only the standard library and package app are used.
package xdm
