package xdm

import (
	"archive/zip"
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/carnetdesk/carnet/app"
)

// XDS identifiers (ITI TF-3 §4.2), copied from the specification.
const (
	objectTypeStable   = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
	objectTypeOnDemand = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"

	schemeDocPatientID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
	schemeDocUniqueID  = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
	schemeClass        = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
	schemeType         = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
	schemeFormat       = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
	schemeConfid       = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
	schemeFacility     = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
	schemePractice     = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
	schemeEvent        = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
	schemeDocAuthor    = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"

	nodeSubmissionSet = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
	schemeSetUniqueID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
	schemeSetSourceID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
	schemeSetPatient  = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
)

// The ebRIM 3.0 elements read, matched by local name whatever the prefix.
type (
	xRoot struct {
		XMLName xml.Name
		List    xList `xml:"RegistryObjectList"`
	}
	xList struct {
		Extrinsic       []xObject         `xml:"ExtrinsicObject"`
		Packages        []xObject         `xml:"RegistryPackage"`
		Classifications []xClassification `xml:"Classification"`
		ExternalIDs     []xExtID          `xml:"ExternalIdentifier"`
		Associations    []xAssociation    `xml:"Association"`
	}
	xObject struct {
		ID              string            `xml:"id,attr"`
		MimeType        string            `xml:"mimeType,attr"`
		ObjectType      string            `xml:"objectType,attr"`
		Slots           []xSlot           `xml:"Slot"`
		Name            xIntl             `xml:"Name"`
		Classifications []xClassification `xml:"Classification"`
		ExternalIDs     []xExtID          `xml:"ExternalIdentifier"`
	}
	xSlot struct {
		Name   string   `xml:"name,attr"`
		Values []string `xml:"ValueList>Value"`
	}
	xIntl struct {
		Strings []struct {
			Value string `xml:"value,attr"`
		} `xml:"LocalizedString"`
	}
	xClassification struct {
		ClassifiedObject string  `xml:"classifiedObject,attr"`
		Scheme           string  `xml:"classificationScheme,attr"`
		Node             string  `xml:"classificationNode,attr"`
		Rep              string  `xml:"nodeRepresentation,attr"`
		Slots            []xSlot `xml:"Slot"`
		Name             xIntl   `xml:"Name"`
	}
	xExtID struct {
		Scheme         string `xml:"identificationScheme,attr"`
		Value          string `xml:"value,attr"`
		RegistryObject string `xml:"registryObject,attr"`
	}
	xAssociation struct {
		Type   string `xml:"associationType,attr"`
		Source string `xml:"sourceObject,attr"`
		Target string `xml:"targetObject,attr"`
	}
)

// readSubset reads the METADATA.XML md and the documents it describes.
func (a *archive) readSubset(md *zip.File) (Subset, error) {
	dir := path.Dir(md.Name)
	s := Subset{Dir: dir}
	where := safeName(md.Name)
	raw, err := a.entry(md, a.lim.MaxMetadataSize)
	if err != nil {
		return s, err
	}
	root, err := decodeMetadata(raw, a.lim.MaxXMLDepth, where)
	if err != nil {
		return s, err
	}
	list := &root.List
	// Classifications and external identifiers may sit beside the object
	// they describe rather than inside it.
	attach := func(o *xObject) {
		for _, c := range list.Classifications {
			if c.ClassifiedObject != "" && c.ClassifiedObject == o.ID {
				o.Classifications = append(o.Classifications, c)
			}
		}
		for _, e := range list.ExternalIDs {
			if e.RegistryObject != "" && e.RegistryObject == o.ID {
				o.ExternalIDs = append(o.ExternalIDs, e)
			}
		}
	}
	var sets []xObject
	for _, p := range list.Packages {
		attach(&p)
		if isSubmissionSet(&p) {
			sets = append(sets, p)
		}
	}
	if len(sets) == 0 {
		return s, fail(ReasonBadMetadata, "%s: no submission set", where)
	}
	// Several sets in one file: the first is kept, Read reports them all.
	a.sets += len(sets)
	set := &sets[0]
	s.SubmissionSet = SubmissionSet{
		EntryUUID:          set.ID,
		UniqueID:           extID(set, schemeSetUniqueID),
		SourceID:           extID(set, schemeSetSourceID),
		PatientID:          parseCX(extID(set, schemeSetPatient)),
		SubmissionTime:     parseDTM(slot(set.Slots, "submissionTime")),
		IntendedRecipients: slotValues(set.Slots, "intendedRecipient"),
		Title:              set.Name.text(),
	}
	if len(list.Extrinsic) == 0 {
		return s, fail(ReasonBadMetadata, "%s: no document entry", where)
	}
	byUUID := map[string]string{}
	for i := range list.Extrinsic {
		o := &list.Extrinsic[i]
		attach(o)
		d, err := a.readDocument(dir, o, "document "+strconv.Itoa(i+1)+" of "+where)
		if err != nil {
			return s, err
		}
		byUUID[d.EntryUUID] = d.UniqueID
		s.Documents = append(s.Documents, d)
	}
	for _, as := range list.Associations {
		t := as.Type[strings.LastIndexByte(as.Type, ':')+1:]
		if t == "HasMember" || t == "" {
			continue
		}
		s.Associations = append(s.Associations, Association{
			Type: t, Source: as.Source, Target: as.Target,
			SourceUniqueID: byUUID[as.Source], TargetUniqueID: byUUID[as.Target],
		})
	}
	return s, nil
}

// readDocument reads one DocumentEntry, then its content, verified.
func (a *archive) readDocument(dir string, o *xObject, where string) (Document, error) {
	switch o.ObjectType {
	case "", objectTypeStable:
	case objectTypeOnDemand:
		return Document{}, fail(ReasonBadMetadata, "%s: on-demand entry without content", where)
	default:
		return Document{}, fail(ReasonBadMetadata, "%s: unknown objectType", where)
	}
	d := Document{
		EntryUUID:         o.ID,
		UniqueID:          extID(o, schemeDocUniqueID),
		MimeType:          strings.TrimSpace(o.MimeType),
		URI:               uriSlot(o.Slots),
		CreationTime:      parseDTM(slot(o.Slots, "creationTime")),
		ServiceStart:      parseDTM(slot(o.Slots, "serviceStartTime")),
		ServiceStop:       parseDTM(slot(o.Slots, "serviceStopTime")),
		PatientID:         parseCX(extID(o, schemeDocPatientID)),
		SourcePatientID:   slot(o.Slots, "sourcePatientId"),
		SourcePatientInfo: patientInfo(slotValues(o.Slots, "sourcePatientInfo")),
		Title:             o.Name.text(),
		Language:          slot(o.Slots, "languageCode"),
	}
	for _, c := range o.Classifications {
		code := app.Code{Code: strings.TrimSpace(c.Rep), System: slot(c.Slots, "codingScheme"), Display: c.Name.text()}
		switch c.Scheme {
		case schemeClass:
			d.Class = code
		case schemeType:
			d.Type = code
		case schemeFormat:
			d.Format = code
		case schemeConfid:
			d.Confidentiality = append(d.Confidentiality, code)
		case schemeFacility:
			d.FacilityType = code
		case schemePractice:
			d.PracticeSetting = code
		case schemeEvent:
			d.Events = append(d.Events, code)
		case schemeDocAuthor:
			d.Authors = append(d.Authors, Author{
				Person:      slot(c.Slots, "authorPerson"),
				Institution: slotValues(c.Slots, "authorInstitution"),
				Role:        slotValues(c.Slots, "authorRole"),
				Specialty:   slotValues(c.Slots, "authorSpecialty"),
			})
		}
	}
	if d.UniqueID == "" {
		return d, fail(ReasonBadMetadata, "%s: no uniqueId", where)
	}
	if d.URI == "" {
		return d, fail(ReasonBadMetadata, "%s: no URI", where)
	}
	// ITI-32: size and hash are required on media; both are verified.
	hash := strings.ToLower(slot(o.Slots, "hash"))
	if hash == "" {
		return d, fail(ReasonBadMetadata, "%s: no hash", where)
	}
	if _, err := hex.DecodeString(hash); err != nil || len(hash) != 40 {
		return d, fail(ReasonBadMetadata, "%s: hash is not SHA-1 hex", where)
	}
	d.Hash = hash
	sz := slot(o.Slots, "size")
	if sz == "" {
		return d, fail(ReasonBadMetadata, "%s: no size", where)
	}
	size, err := strconv.ParseInt(sz, 10, 64)
	if err != nil || size < 0 {
		return d, fail(ReasonBadMetadata, "%s: size is not a number of bytes", where)
	}
	d.Size = size
	key, err := resolve(dir, d.URI)
	if err != nil {
		return d, err
	}
	f := a.files[key]
	if f == nil {
		return d, fail(ReasonMissingDocument, "%s: URI %s names no file of the archive", where, safeName(d.URI))
	}
	if a.docs[key] {
		return d, fail(ReasonBadMetadata, "%s: file %s described twice", where, safeName(f.Name))
	}
	a.docs[key] = true
	d.Path = f.Name
	if f.UncompressedSize64 != uint64(size) {
		return d, fail(ReasonSizeMismatch, "%s: entry holds %d bytes, metadata says %d", where, f.UncompressedSize64, size)
	}
	content, err := a.entry(f, a.lim.MaxEntrySize)
	if err != nil {
		return d, err
	}
	if err := verify(&d, content, where); err != nil {
		return d, err
	}
	d.Content = content
	return d, nil
}

// decodeMetadata parses METADATA.XML strictly: no DOCTYPE or other
// directive (so no entity can be declared, let alone expanded), bounded
// depth, root SubmitObjectsRequest. Errors give at most a line number.
func decodeMetadata(raw []byte, maxDepth int, where string) (*xRoot, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	d := xml.NewDecoder(bytes.NewReader(raw))
	d.Strict = true
	d.CharsetReader = charsetReader
	g := &guard{d: d, max: maxDepth}
	var root xRoot
	err := xml.NewTokenDecoder(g).Decode(&root)
	if err == nil { // nothing but comments and blanks may follow the root
		for err == nil {
			var t xml.Token
			if t, err = g.Token(); err == nil {
				if _, ok := t.(xml.StartElement); ok {
					err = errors.New("second root")
				}
			}
		}
		if err == io.EOF {
			err = nil
		}
	}
	line, _ := d.InputPos()
	switch {
	case errors.Is(err, errDirective):
		return nil, fail(ReasonDoctype, "%s: DOCTYPE or entity declaration (line %d)", where, line)
	case errors.Is(err, errDepth):
		return nil, fail(ReasonXMLDepth, "%s: nested deeper than %d elements (line %d)", where, maxDepth, line)
	case errors.Is(err, errCharset):
		return nil, fail(ReasonBadMetadata, "%s: unsupported character encoding", where)
	case err != nil:
		return nil, fail(ReasonBadMetadata, "%s: not well-formed XML (line %d)", where, line)
	case root.XMLName.Local != "SubmitObjectsRequest":
		return nil, fail(ReasonBadMetadata, "%s: root is not an ebRIM 3.0 SubmitObjectsRequest", where)
	}
	return &root, nil
}

var (
	errDirective = errors.New("xml directive")
	errDepth     = errors.New("xml too deep")
	errCharset   = errors.New("unsupported charset")
)

// guard passes the tokens of d through, refusing directives (<!DOCTYPE …>,
// <!ENTITY …>) and nesting deeper than max.
type guard struct {
	d     *xml.Decoder
	depth int
	max   int
}

// Token implements xml.TokenReader.
func (g *guard) Token() (xml.Token, error) {
	t, err := g.d.Token()
	if err != nil {
		return nil, err
	}
	switch t.(type) {
	case xml.Directive:
		return nil, errDirective
	case xml.StartElement:
		g.depth++
		if g.depth > g.max {
			return nil, errDepth
		}
	case xml.EndElement:
		g.depth--
	}
	return t, nil
}

// charsetReader accepts the encodings besides UTF-8 that French senders
// declare for METADATA.XML: US-ASCII and ISO-8859-1.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1":
		b, err := io.ReadAll(in) // bounded: the entry is already in memory
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(b)+len(b)/8)
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, errCharset
}

// isSubmissionSet reports whether a RegistryPackage is the submission set
// (classified as one, or bearing a submission set uniqueId).
func isSubmissionSet(p *xObject) bool {
	for _, c := range p.Classifications {
		if c.Node == nodeSubmissionSet {
			return true
		}
	}
	return extID(p, schemeSetUniqueID) != ""
}

// extID returns the value of o's external identifier of the given scheme.
func extID(o *xObject, scheme string) string {
	for _, e := range o.ExternalIDs {
		if e.Scheme == scheme {
			return strings.TrimSpace(e.Value)
		}
	}
	return ""
}

// slotValues returns the trimmed values of the slot named name.
func slotValues(slots []xSlot, name string) []string {
	for _, s := range slots {
		if s.Name == name {
			out := make([]string, 0, len(s.Values))
			for _, v := range s.Values {
				out = append(out, strings.TrimSpace(v))
			}
			return out
		}
	}
	return nil
}

// slot returns the first value of the slot named name.
func slot(slots []xSlot, name string) string {
	if v := slotValues(slots, name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// uriSlot returns the URI slot; a long URI split into "1|…", "2|…" values
// (XDS rule for values over 128 characters) is joined back in order.
func uriSlot(slots []xSlot) string {
	vals := slotValues(slots, "URI")
	if len(vals) <= 1 {
		return strings.Join(vals, "")
	}
	parts := make([]string, len(vals))
	for _, v := range vals {
		n, rest, ok := strings.Cut(v, "|")
		i, err := strconv.Atoi(n)
		if !ok || err != nil || i < 1 || i > len(vals) || parts[i-1] != "" {
			return "" // malformed: reported as a missing URI
		}
		parts[i-1] = rest
	}
	return strings.Join(parts, "")
}

// patientInfo splits the sourcePatientInfo values "PID-n|value".
func patientInfo(vals []string) SourcePatientInfo {
	var p SourcePatientInfo
	for _, v := range vals {
		field, value, ok := strings.Cut(v, "|")
		if !ok {
			continue
		}
		switch strings.ToUpper(strings.TrimSpace(field)) {
		case "PID-3":
			p.IDs = append(p.IDs, value)
		case "PID-5":
			p.Names = append(p.Names, value)
		case "PID-7":
			p.BirthDate = value
		case "PID-8":
			p.Sex = value
		}
	}
	return p
}

// text returns the first localized string.
func (n xIntl) text() string {
	if len(n.Strings) == 0 {
		return ""
	}
	return strings.TrimSpace(n.Strings[0].Value)
}
