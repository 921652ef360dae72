package xdm

import (
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Limits bounds what Read accepts. A zero field takes its DefaultLimits value.
type Limits struct {
	MaxEntries      int   // entries in the ZIP (files and directories)
	MaxEntrySize    int64 // uncompressed bytes of one entry
	MaxTotalSize    int64 // uncompressed bytes of all entries together
	MaxRatio        int64 // uncompressed:compressed ratio of one entry (above 1 MiB)
	MaxMetadataSize int64 // uncompressed bytes of one METADATA.XML
	MaxXMLDepth     int   // element nesting depth of METADATA.XML
}

// DefaultLimits returns the limits for MSSanté attachments: 1,000 entries,
// 50 MiB per entry, 200 MiB in all, a 200:1 compression ratio, 8 MiB of
// METADATA.XML nested at most 64 elements deep.
func DefaultLimits() Limits {
	return Limits{
		MaxEntries:      1000,
		MaxEntrySize:    50 << 20,
		MaxTotalSize:    200 << 20,
		MaxRatio:        200,
		MaxMetadataSize: 8 << 20,
		MaxXMLDepth:     64,
	}
}

// withDefaults fills the zero (or negative) fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = d.MaxEntrySize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = d.MaxTotalSize
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.MaxMetadataSize <= 0 {
		l.MaxMetadataSize = d.MaxMetadataSize
	}
	if l.MaxXMLDepth <= 0 {
		l.MaxXMLDepth = d.MaxXMLDepth
	}
	return l
}

// Archive is the content of an IHE_XDM.ZIP: its submission sets, in the
// order of their directory names.
type Archive struct {
	Subsets []Subset
	// Unlisted counts the XML entries under IHE_XDM/ (other than the
	// METADATA.XML files) that no metadata lists: documents the sender put
	// in the archive without describing them. They are not read; the
	// caller notes them so that nothing is ignored silently.
	Unlisted int
}

// Documents returns the documents of every subset, in order.
func (a *Archive) Documents() []Document {
	var out []Document
	for _, s := range a.Subsets {
		out = append(out, s.Documents...)
	}
	return out
}

// Subset is one submission set: a directory IHE_XDM/<name>/ with its
// METADATA.XML.
type Subset struct {
	Dir           string // the directory as named in the archive, e.g. "IHE_XDM/SUBSET01"
	SubmissionSet SubmissionSet
	Documents     []Document
	// Associations between documents other than HasMember: RPLC
	// (replacement), APND, XFRM, XFRM_RPLC, signs.
	Associations []Association
}

// SubmissionSet is the XDS SubmissionSet of a subset.
type SubmissionSet struct {
	EntryUUID          string
	UniqueID           string
	SourceID           string
	PatientID          PatientID
	SubmissionTime     time.Time // zero when absent or unreadable
	IntendedRecipients []string  // XON/XCN|XTN values as sent
	Title              string
}

// PatientID is an XDS patient identifier: the HL7 CX string as sent, e.g.
// "279035121518989^^^&1.2.250.1.213.1.4.8&ISO^NH", and its two useful parts.
type PatientID struct {
	CX        string // the value as sent
	Extension string // CX.1, the identifier (the INS matricule for an INS)
	Root      string // CX.4.2, the assigning authority OID
}

// IsZero reports whether no patient id was given.
func (p PatientID) IsZero() bool { return p.CX == "" }

// INS reads p as an INS (matricule and OID checked by app.ParseINS). The
// error never repeats the identifier.
func (p PatientID) INS() (app.INS, error) { return app.ParseINS(p.Extension, p.Root) }

// key identifies the patient for comparisons between entries.
func (p PatientID) key() string {
	if p.Extension != "" && p.Root != "" {
		return p.Root + "|" + p.Extension
	}
	return strings.TrimSpace(p.CX)
}

// parseCX splits an HL7 CX value "ID^^^&OID&ISO^TYPE".
func parseCX(cx string) PatientID {
	cx = strings.TrimSpace(cx)
	p := PatientID{CX: cx}
	parts := strings.Split(cx, "^")
	p.Extension = parts[0]
	if len(parts) > 3 {
		sub := strings.Split(parts[3], "&")
		if len(sub) > 1 {
			p.Root = sub[1]
		}
	}
	return p
}

// SourcePatientInfo is the sender's view of the patient (slot
// sourcePatientInfo), field by field as sent; often the sender's own
// identifiers, never ours.
type SourcePatientInfo struct {
	IDs       []string // PID-3 values
	Names     []string // PID-5 values, "FAMILY^Given^^^^^L"
	BirthDate string   // PID-7, YYYYMMDD
	Sex       string   // PID-8
}

// Author is one author of a document (an XDS author classification).
type Author struct {
	Person      string   // XCN as sent
	Institution []string // XON values as sent
	Role        []string
	Specialty   []string
}

// Name returns the author's display name from the XCN: given then family
// name, or the identifier when there is no name.
func (a Author) Name() string {
	f := strings.Split(a.Person, "^")
	var parts []string
	if len(f) > 2 && f[2] != "" {
		parts = append(parts, f[2])
	}
	if len(f) > 1 && f[1] != "" {
		parts = append(parts, f[1])
	}
	if len(parts) == 0 {
		return f[0]
	}
	return strings.Join(parts, " ")
}

// Organisation returns the name of the author's first institution (XON.1).
func (a Author) Organisation() string {
	if len(a.Institution) == 0 {
		return ""
	}
	name, _, _ := strings.Cut(a.Institution[0], "^")
	return name
}

// Association is an ebRIM association between two objects, by entryUUID.
// For RPLC the source is the new document and the target the replaced one;
// the replaced one is usually not in the archive, so TargetUniqueID is then
// empty and the caller finds it by its own means.
type Association struct {
	Type           string // short type: "RPLC", "APND", "XFRM", "XFRM_RPLC", "signs"
	Source, Target string // entryUUIDs
	SourceUniqueID string // uniqueId of Source when it is a document of the subset
	TargetUniqueID string // uniqueId of Target when it is a document of the subset
}

// Document is one DocumentEntry and its content, verified against the
// metadata's size and SHA-1.
type Document struct {
	EntryUUID         string
	UniqueID          string
	MimeType          string
	URI               string // as in the metadata, relative to the subset directory
	Path              string // the archive entry it resolved to
	Size              int64
	Hash              string // SHA-1, lower-case hex
	CreationTime      time.Time
	ServiceStart      time.Time
	ServiceStop       time.Time
	PatientID         PatientID
	SourcePatientID   string
	SourcePatientInfo SourcePatientInfo
	Type              app.Code // typeCode (LOINC in France)
	Class             app.Code // classCode (TRE_A03, codingScheme 1.2.250.1.213.1.1.4.1)
	Format            app.Code
	Confidentiality   []app.Code
	FacilityType      app.Code
	PracticeSetting   app.Code
	Events            []app.Code
	Authors           []Author
	Title             string
	Language          string
	Content           []byte // the document, size and hash verified
}

// Meta returns the document's metadata as the record shows it, with Source
// "mssante". SetID and Version are left empty: they come from the CDA
// header, not from XDM metadata. ClassCode is the classCode when its coding
// scheme is TRE_A03 (or not given), else empty.
func (d Document) Meta() app.DocumentMeta {
	m := app.DocumentMeta{
		ID:        app.DocumentID(d.UniqueID),
		TypeCode:  d.Type.Code,
		ClassCode: d.ClassCode(),
		Title:     d.Title,
		Date:      d.ServiceStart,
		MediaType: d.MimeType,
		Size:      d.Size,
		Hash:      d.Hash,
		Source:    "mssante",
	}
	if m.Date.IsZero() {
		m.Date = d.CreationTime
	}
	if m.Title == "" {
		m.Title = d.Type.Display
	}
	for _, a := range d.Authors {
		if m.Author == "" {
			m.Author = a.Name()
		}
		if m.Organisation == "" {
			m.Organisation = a.Organisation()
		}
	}
	if len(d.Confidentiality) > 0 {
		m.Confidentiality = d.Confidentiality[0].Code
	}
	return m
}

// ClassCode returns the document's class code (TRE_A03): the classCode
// when its codingScheme is TRE_A03's OID or absent, trimmed; "" when the
// archive gives none, gives one in another scheme, or one that cannot be a
// code (see app.CleanClassCode).
func (d Document) ClassCode() string {
	if s := strings.TrimSpace(d.Class.System); s != "" && s != app.OIDClassCode {
		return ""
	}
	return app.CleanClassCode(d.Class.Code)
}

// parseDTM reads an HL7 DTM time (YYYY[MM[DD[hh[mm[ss]]]]], UTC unless an
// offset ±hhmm follows). It returns the zero time when the value is not one.
func parseDTM(s string) time.Time {
	s = strings.TrimSpace(s)
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	layouts := map[int]string{4: "2006", 6: "200601", 8: "20060102", 10: "2006010215", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[n]
	if !ok {
		return time.Time{}
	}
	digits, rest := s[:n], s[n:]
	if i := strings.IndexByte(rest, '.'); i == 0 { // fractional seconds
		j := 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		rest = rest[j:]
	}
	if rest == "" {
		t, err := time.Parse(layout, digits)
		if err != nil {
			return time.Time{}
		}
		return t
	}
	t, err := time.Parse(layout+"-0700", digits+rest)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
