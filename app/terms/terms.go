// Package terms gives Carnet's terminology its French words: the labels of
// document types (JDV_J07), document classes (TRE_A03), confidentiality and
// DMP visibility codes (JDV_J08), facility types (JDV_J02), practice settings
// (JDV_J04) and ATC level-1 groups, and the perioperative drug classes that
// flag a medication an anesthesiologist checks before surgery.
//
// The tables are data files embedded by package assets
// (assets/terminology/); this package parses them once, on first use, and
// answers lookups from memory. Every table records where it comes from:
// Provenance lists the sources, and each perioperative class cites its own.
//
// Flags inform; they never instruct. Every rationale starts with
// "à vérifier avant anesthésie : " and gives no dosing or stopping advice.
//
// Package terms imports the standard library, app and assets only.
package terms

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/carnetdesk/carnet/assets"
)

// The names of the tables (value sets and code systems) Carnet labels.
const (
	SetDocumentType    = "JDV_J07" // XDS typeCode: LOINC and TRE_A05 document types
	SetConfidentiality = "JDV_J08" // XDS confidentialityCode: HL7 N/R/V and DMP visibility
	SetFacilityType    = "JDV_J02" // XDS healthcareFacilityTypeCode
	SetPracticeSetting = "JDV_J04" // XDS practiceSettingCode
	SetDocumentClass   = "TRE_A03" // XDS classCode
	SetATCGroup        = "ATC1"    // ATC level 1, anatomical main groups
	SetPerioperative   = "PERIOP"  // the perioperative drug classes (perioperative.json)
)

// SystemVisibility is the code system of the DMP visibility codes of JDV_J08
// (TRE_A07 StatutVisibiliteDocument): MASQUE_PS, INVISIBLE_PATIENT,
// INVISIBLE_REPRESENTANTS_LEGAUX.
const SystemVisibility = "1.2.250.1.213.1.1.4.13"

// Concept is one coded concept of a table, with its French label.
type Concept struct {
	Set    string // the table: SetDocumentType, SetDocumentClass, …
	Code   string
	System string // OID of the code system
	Label  string // French display name, as the source gives it
}

// Source is the provenance of one table: where its content was taken from
// and which version.
type Source struct {
	Set      string // the table
	Origin   string // the file or document the content comes from
	ID       string // OID of the value set or code system
	Updated  string // the source's update date (dateMaj), when known
	Version  string // the source's revision date or version, when known
	Address  string // the source's published address, as the source gives it
	Concepts int    // how many concepts the table holds
	Note     string // a remark on the source (perioperative table status)
}

type tables struct {
	sets       map[string]map[string]Concept // set → code → concept
	order      map[string][]Concept          // set → concepts in file order
	sources    []Source
	periop     perioperative
	substances map[string]string // folded name → ATC level 5
}

var (
	loadOnce sync.Once
	loaded   *tables
	loadErr  error
)

// get parses the embedded tables on first use.
func get() *tables {
	loadOnce.Do(func() {
		loaded, loadErr = load(assets.Terminology, assets.TerminologyDir)
		if loadErr != nil {
			loaded = &tables{sets: map[string]map[string]Concept{}, order: map[string][]Concept{}}
		}
	})
	return loaded
}

// Err reports whether the embedded tables parsed and passed their checks; a
// non-nil error means a broken build (lookups then find nothing). Tests call
// it so that a malformed table fails loudly.
func Err() error {
	get()
	return loadErr
}

// load reads every table of dir in fsys.
func load(fsys fs.FS, dir string) (*tables, error) {
	t := &tables{sets: map[string]map[string]Concept{}, order: map[string][]Concept{}}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("terms: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		data, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("terms: %w", err)
		}
		switch {
		case strings.HasSuffix(name, ".tsv"):
			err = t.parseTSV(name, data)
		case name == "perioperative.json":
			err = t.parsePerioperative(data)
		case name == "substances.txt":
			t.substances, err = parseSubstances(data)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, want := range []string{SetDocumentType, SetConfidentiality, SetFacilityType, SetPracticeSetting, SetDocumentClass, SetATCGroup} {
		if len(t.sets[want]) == 0 {
			return nil, fmt.Errorf("terms: table %s missing", want)
		}
	}
	if len(t.periop.classes) == 0 {
		return nil, errors.New("terms: perioperative table missing")
	}
	if len(t.substances) == 0 {
		return nil, errors.New("terms: substance table missing")
	}
	sort.SliceStable(t.sources, func(i, j int) bool { return t.sources[i].Set < t.sources[j].Set })
	return t, nil
}

// parseTSV reads a table file: "@source" lines, then one concept per line
// (set, code, code system, label), tab-separated; "#" starts a comment.
func (t *tables) parseTSV(name string, data []byte) error {
	declared := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		bad := func(why string) error { return fmt.Errorf("terms: %s line %d: %s", name, n, why) }
		if f[0] == "@source" {
			if len(f) != 8 {
				return bad("@source needs 8 fields")
			}
			count, err := strconv.Atoi(f[7])
			if err != nil || count <= 0 {
				return bad("bad concept count")
			}
			if _, dup := declared[f[1]]; dup {
				return bad("second @source for " + f[1])
			}
			declared[f[1]] = count
			t.sources = append(t.sources, Source{Set: f[1], Origin: f[2], ID: f[3], Updated: f[4], Version: f[5], Address: f[6], Concepts: count})
			continue
		}
		if len(f) != 4 {
			return bad("want 4 tab-separated fields")
		}
		c := Concept{Set: f[0], Code: f[1], System: f[2], Label: f[3]}
		if _, ok := declared[c.Set]; !ok {
			return bad("concept before the @source of " + c.Set)
		}
		if c.Code == "" || c.System == "" || c.Label == "" {
			return bad("empty code, system or label")
		}
		m := t.sets[c.Set]
		if m == nil {
			m = map[string]Concept{}
			t.sets[c.Set] = m
		}
		if _, dup := m[c.Code]; dup {
			return bad("duplicate code " + c.Code)
		}
		m[c.Code] = c
		t.order[c.Set] = append(t.order[c.Set], c)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("terms: %s: %w", name, err)
	}
	for set, count := range declared {
		if got := len(t.sets[set]); got != count {
			return fmt.Errorf("terms: %s: %s has %d concepts, @source says %d", name, set, got, count)
		}
	}
	return nil
}

func lookup(set, code string) (Concept, bool) {
	c, ok := get().sets[set][strings.TrimSpace(code)]
	return c, ok
}

func label(set, code string) (string, bool) {
	c, ok := lookup(set, code)
	return c.Label, ok
}

// DocumentType returns the French label of a document type code (LOINC or
// TRE_A05, JDV_J07): "11490-0" → "Lettre de liaison à la sortie d'un
// établissement de soins".
func DocumentType(code string) (string, bool) { return label(SetDocumentType, code) }

// DocumentTypeConcept returns the document type concept, with its code system.
func DocumentTypeConcept(code string) (Concept, bool) { return lookup(SetDocumentType, code) }

// DocumentClass returns the French label of a document class code (TRE_A03):
// "10" → "Compte rendu".
func DocumentClass(code string) (string, bool) { return label(SetDocumentClass, code) }

// Confidentiality returns the confidentiality or DMP visibility concept of a
// JDV_J08 code: N, R, V (HL7) and MASQUE_PS, INVISIBLE_PATIENT,
// INVISIBLE_REPRESENTANTS_LEGAUX (DMP visibility, see IsVisibilityCode).
func Confidentiality(code string) (Concept, bool) { return lookup(SetConfidentiality, code) }

// IsVisibilityCode reports whether code is one of the DMP visibility codes
// of JDV_J08 (a masking or non-visibility status) rather than an HL7
// confidentiality level.
func IsVisibilityCode(code string) bool {
	c, ok := lookup(SetConfidentiality, code)
	return ok && c.System == SystemVisibility
}

// FacilityType returns the French label of a healthcare facility type code
// (JDV_J02): "SA01" → "Etablissement public de santé".
func FacilityType(code string) (string, bool) { return label(SetFacilityType, code) }

// PracticeSetting returns the French label of a practice setting code
// (JDV_J04): "AMBULATOIRE" → "Ambulatoire".
func PracticeSetting(code string) (string, bool) { return label(SetPracticeSetting, code) }

// ATCGroup returns the ATC level-1 group of an ATC code of any level, with
// its French label: "B01AF02" → B, "Sang et organes hématopoïétiques".
func ATCGroup(atc string) (Concept, bool) {
	atc = strings.TrimSpace(atc)
	if atc == "" {
		return Concept{}, false
	}
	return lookup(SetATCGroup, strings.ToUpper(atc[:1]))
}

// Concepts returns the concepts of a table in the order of its source.
func Concepts(set string) []Concept {
	return append([]Concept(nil), get().order[set]...)
}

// Provenance lists the source of every table, ordered by table name.
func Provenance() []Source {
	return append([]Source(nil), get().sources...)
}

// Labels implements app.Terminology with these tables.
type Labels struct{}

// DocumentType implements app.Terminology.
func (Labels) DocumentType(code string) (string, bool) { return DocumentType(code) }

// DocumentClass implements app.Terminology: the TRE_A03 label of a class
// code (DocumentClass).
func (Labels) DocumentClass(code string) (string, bool) { return DocumentClass(code) }
