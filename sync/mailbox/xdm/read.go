package xdm

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// ratioFloor is the uncompressed size under which the compression ratio is
// not checked: small, very repetitive files compress well and are harmless.
const ratioFloor = 1 << 20

// metadataName is the name of the metadata file of a subset.
const metadataName = "METADATA.XML"

// rootDir is the directory holding the subsets.
const rootDir = "IHE_XDM"

var (
	sigCentral = []byte("PK\x01\x02") // central directory file header
	sigLocal   = []byte("PK\x03\x04") // local file header
	sigEnd     = []byte("PK\x05\x06") // end of central directory
	sigSpan    = []byte("PK\x07\x08") // spanned archive marker
)

// archive is a validated ZIP: every entry's name, mode, flags and declared
// sizes checked, indexed by upper-case name.
type archive struct {
	lim   Limits
	files map[string]*zip.File // upper-case clean name → regular file
	read  int64                // uncompressed bytes read so far
	docs  map[string]bool      // keys of the entries already read as documents
	sets  int                  // submission sets seen in all METADATA.XML files
}

// Read parses an IHE_XDM.ZIP held in memory. It returns the archive with
// every document's content verified against its metadata, or an *Error
// saying why the archive is refused (see the package documentation).
//
// When the archive is well-formed but holds several submission sets or
// several patients, Read returns both the archive and an *Error of Reason
// ReasonSeveralPatients or ReasonSeveralSubsets (in that order of
// precedence); Error.Manual then reports true. The caller must not file such
// an archive automatically.
func Read(zipBytes []byte, lim Limits) (*Archive, error) {
	lim = lim.withDefaults()
	a, err := open(zipBytes, lim)
	if err != nil {
		return nil, err
	}
	subsets := a.subsets()
	if len(subsets) == 0 {
		return nil, fail(ReasonMissingMetadata, "no %s/<subset>/%s in the archive", rootDir, metadataName)
	}
	out := &Archive{}
	for _, md := range subsets {
		s, err := a.readSubset(md)
		if err != nil {
			return nil, err
		}
		out.Subsets = append(out.Subsets, s)
	}
	if err := checkUnique(out); err != nil {
		return nil, err
	}
	out.Unlisted = a.unlisted()
	if n := countPatients(out); n > 1 {
		return out, fail(ReasonSeveralPatients, "%d different patient ids in the archive", n)
	}
	if a.sets > 1 {
		return out, fail(ReasonSeveralSubsets, "%d submission sets in the archive", a.sets)
	}
	return out, nil
}

// open validates the ZIP directory and every entry header.
func open(b []byte, lim Limits) (*archive, error) {
	if len(b) < 22 || !bytes.Contains(b, sigEnd) {
		return nil, fail(ReasonNotZip, "no ZIP end-of-directory record")
	}
	// archive/zip parses the whole central directory up front, whatever
	// count the end record states: bound the number of headers it can find
	// before letting it allocate one File per header.
	if n := bytes.Count(b, sigCentral); n > lim.MaxEntries {
		return nil, fail(ReasonTooManyEntries, "more than %d entries", lim.MaxEntries)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if errors.Is(err, zip.ErrInsecurePath) {
		return nil, fail(ReasonZipSlip, "unsafe entry name")
	}
	if err != nil {
		return nil, fail(ReasonNotZip, "unreadable ZIP directory")
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, fail(ReasonTooManyEntries, "%d entries, limit %d", len(zr.File), lim.MaxEntries)
	}
	a := &archive{lim: lim, files: make(map[string]*zip.File, len(zr.File)), docs: map[string]bool{}}
	seen := make(map[string]bool, len(zr.File))
	var total uint64
	for _, f := range zr.File {
		name, isDir, err := checkName(f)
		if err != nil {
			return nil, err
		}
		if f.Flags&0x41 != 0 { // bit 0: encrypted; bit 6: strong encryption
			return nil, fail(ReasonEncrypted, "entry %s is encrypted", safeName(f.Name))
		}
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return nil, fail(ReasonSymlink, "entry %s is a symbolic link", safeName(f.Name))
		case mode&fs.ModeType&^fs.ModeDir != 0:
			return nil, fail(ReasonNotRegular, "entry %s is not a regular file", safeName(f.Name))
		case mode.IsDir() != isDir:
			return nil, fail(ReasonNotRegular, "entry %s: directory mode and name disagree", safeName(f.Name))
		}
		key := strings.ToUpper(name)
		if seen[key] {
			return nil, fail(ReasonDuplicateName, "entry %s appears twice (names compared ignoring case)", safeName(f.Name))
		}
		seen[key] = true
		if isDir {
			continue
		}
		if strings.HasSuffix(key, ".ZIP") {
			return nil, fail(ReasonNestedZip, "entry %s is a ZIP inside the ZIP", safeName(f.Name))
		}
		size := f.UncompressedSize64
		if size > uint64(lim.MaxEntrySize) {
			return nil, fail(ReasonTooLarge, "entry %s declares %d bytes, limit %d", safeName(f.Name), size, lim.MaxEntrySize)
		}
		if size > ratioFloor && size/uint64(lim.MaxRatio) > f.CompressedSize64 {
			return nil, fail(ReasonBomb, "entry %s compression ratio above %d:1", safeName(f.Name), lim.MaxRatio)
		}
		total += size
		if total > uint64(lim.MaxTotalSize) {
			return nil, fail(ReasonTooLarge, "entries total more than %d bytes", lim.MaxTotalSize)
		}
		a.files[key] = f
	}
	// a directory named like a file (A/ and A) counts as a duplicate above,
	// because the trailing slash is removed before comparing.
	return a, nil
}

// checkName validates an entry name and returns it without the trailing
// slash of a directory entry.
func checkName(f *zip.File) (name string, isDir bool, err error) {
	name = f.Name
	bad := func(why string) (string, bool, error) {
		return "", false, fail(ReasonZipSlip, "entry %s: %s", safeName(f.Name), why)
	}
	if strings.HasSuffix(name, "/") {
		isDir = true
		name = name[:len(name)-1]
	}
	switch {
	case name == "":
		return bad("empty name")
	case strings.HasPrefix(name, "/"):
		return bad("absolute path")
	case strings.ContainsRune(name, '\\'):
		return bad("backslash")
	case strings.ContainsRune(name, ':'):
		return bad("drive letter or colon")
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("NUL or control character")
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." || el == "." {
			return bad("dot path element")
		}
	}
	if path.Clean(name) != name {
		return bad("not a clean path")
	}
	return name, isDir, nil
}

// subsets returns the METADATA.XML entries of the directories
// IHE_XDM/<name>, sorted by name.
func (a *archive) subsets() []*zip.File {
	var mds []*zip.File
	for key, f := range a.files {
		parts := strings.Split(key, "/")
		if len(parts) == 3 && parts[0] == rootDir && parts[2] == metadataName {
			mds = append(mds, f)
		}
	}
	sort.Slice(mds, func(i, j int) bool { return strings.ToUpper(mds[i].Name) < strings.ToUpper(mds[j].Name) })
	return mds
}

// unlisted counts the XML entries under IHE_XDM/ that are neither a
// METADATA.XML nor a document some metadata lists.
func (a *archive) unlisted() int {
	n := 0
	for key := range a.files {
		if strings.HasPrefix(key, rootDir+"/") && strings.HasSuffix(key, ".XML") &&
			path.Base(key) != metadataName && !a.docs[key] {
			n++
		}
	}
	return n
}

// entry reads one regular entry whole, within the limits: its declared size
// (already checked against the caps), the real stream read through a
// LimitReader one byte past it, and the total across the archive.
func (a *archive) entry(f *zip.File, limit int64) ([]byte, error) {
	name := safeName(f.Name)
	size := f.UncompressedSize64
	if size > uint64(limit) {
		return nil, fail(ReasonTooLarge, "entry %s declares %d bytes, limit %d", name, size, limit)
	}
	if a.read+int64(size) > a.lim.MaxTotalSize {
		return nil, fail(ReasonTooLarge, "more than %d bytes read from the archive", a.lim.MaxTotalSize)
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return nil, fail(ReasonMethod, "entry %s uses compression method %d", name, f.Method)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fail(ReasonCorrupt, "entry %s cannot be opened", name)
	}
	defer rc.Close()
	buf := make([]byte, int(size))
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, readFailure(name, err)
	}
	// Read on to the end: archive/zip checks the CRC there, and fails when
	// more comes out than was declared (a bomb lying about its size).
	var extra [1]byte
	n, err := io.ReadFull(io.LimitReader(rc, 1), extra[:])
	if n > 0 {
		return nil, fail(ReasonBomb, "entry %s is larger than it declares", name)
	}
	if err != nil && err != io.EOF {
		return nil, readFailure(name, err)
	}
	a.read += int64(size)
	if isZip(buf) {
		return nil, fail(ReasonNestedZip, "entry %s is a ZIP inside the ZIP", name)
	}
	return buf, nil
}

// readFailure maps an error of an entry's stream to an *Error.
func readFailure(name string, err error) error {
	if errors.Is(err, zip.ErrFormat) {
		return fail(ReasonBomb, "entry %s is larger than it declares", name)
	}
	return fail(ReasonCorrupt, "entry %s is damaged or truncated", name)
}

// isZip reports whether b starts like a ZIP file.
func isZip(b []byte) bool {
	return bytes.HasPrefix(b, sigLocal) || bytes.HasPrefix(b, sigEnd) || bytes.HasPrefix(b, sigSpan)
}

// resolve turns a document URI, relative to the subset directory dir, into
// the upper-case key of an entry, refusing anything that is not a plain
// relative path staying under IHE_XDM/.
func resolve(dir, uri string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fail(ReasonURIEscape, "document URI %s: %s", safeName(uri), why)
	}
	switch {
	case uri == "":
		return bad("empty")
	case strings.HasPrefix(uri, "/"):
		return bad("absolute")
	case strings.ContainsAny(uri, "\\:?#%"):
		return bad("not a plain relative path")
	case strings.ContainsFunc(uri, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("control character")
	}
	p := path.Join(dir, uri)
	key := strings.ToUpper(p)
	if !strings.HasPrefix(key, rootDir+"/") {
		return bad("leads outside " + rootDir + "/")
	}
	return key, nil
}

// verify checks content against the size and SHA-1 of the metadata.
func verify(d *Document, content []byte, where string) error {
	if int64(len(content)) != d.Size {
		return fail(ReasonSizeMismatch, "%s: %d bytes, metadata says %d", where, len(content), d.Size)
	}
	sum := sha1.Sum(content)
	if hex.EncodeToString(sum[:]) != d.Hash {
		return fail(ReasonHashMismatch, "%s: SHA-1 differs from the metadata", where)
	}
	return nil
}

// checkUnique refuses two document entries with one uniqueId.
func checkUnique(ar *Archive) error {
	ids := map[string]bool{}
	for _, s := range ar.Subsets {
		for i, d := range s.Documents {
			if ids[d.UniqueID] {
				return fail(ReasonBadMetadata, "document %d of %s: uniqueId used twice", i+1, safeName(s.Dir))
			}
			ids[d.UniqueID] = true
		}
	}
	return nil
}

// countPatients counts the distinct patient ids of submission sets and
// documents.
func countPatients(ar *Archive) int {
	seen := map[string]bool{}
	for _, s := range ar.Subsets {
		if k := s.SubmissionSet.PatientID.key(); k != "" {
			seen[k] = true
		}
		for _, d := range s.Documents {
			if k := d.PatientID.key(); k != "" {
				seen[k] = true
			}
		}
	}
	return len(seen)
}
