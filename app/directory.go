package app

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Directory is the in-memory index of the cached patients, built at unlock
// from the vault's encrypted directory and dropped at lock. Search is a prefix
// search over names, insensitive to case and accents, and over the INS
// matricule. A Directory is not safe for concurrent mutation; the vault guards
// it.
type Directory struct {
	entries []dirEntry
	byID    map[PatientID]int
	byINS   map[string][]PatientID // insKey → the patients carrying that INS
}

type dirEntry struct {
	p      Patient
	tokens []string // folded name tokens
	sort   string   // folded display name, birth date, id: the sort key
}

// NewDirectory indexes patients.
func NewDirectory(patients []Patient) *Directory {
	d := &Directory{byID: make(map[PatientID]int, len(patients)), byINS: make(map[string][]PatientID, len(patients))}
	for _, p := range patients {
		d.Put(p)
	}
	return d
}

// Len returns the number of patients.
func (d *Directory) Len() int { return len(d.entries) }

// Put adds or replaces a patient.
func (d *Directory) Put(p Patient) {
	e := dirEntry{p: p, tokens: nameTokens(p), sort: sortKey(p)}
	if d.byINS == nil {
		d.byINS = map[string][]PatientID{}
	}
	if i, ok := d.byID[p.ID]; ok {
		d.unindexINS(d.entries[i].p)
		d.entries[i] = e
		d.indexINS(p)
		return
	}
	d.byID[p.ID] = len(d.entries)
	d.entries = append(d.entries, e)
	d.indexINS(p)
}

// insKey is the key of an INS in the directory's index: the matricule
// trimmed, in upper case (the Corsican A/B), and the OID; "" for no INS.
func insKey(ins INS) string {
	m := strings.ToUpper(strings.TrimSpace(ins.Matricule))
	if m == "" {
		return ""
	}
	return m + "\x00" + ins.OID
}

func (d *Directory) indexINS(p Patient) {
	if k := insKey(p.INS); k != "" {
		d.byINS[k] = append(d.byINS[k], p.ID)
	}
}

func (d *Directory) unindexINS(p Patient) {
	k := insKey(p.INS)
	if k == "" {
		return
	}
	ids := d.byINS[k]
	for i, id := range ids {
		if id == p.ID {
			ids = append(ids[:i:i], ids[i+1:]...)
			break
		}
	}
	if len(ids) == 0 {
		delete(d.byINS, k)
	} else {
		d.byINS[k] = ids
	}
}

// ByINS returns the patients carrying ins (matricule compared trimmed and
// without case, OID exactly), in no particular order: a lookup by key, not
// a scan of the directory. None for an empty INS.
func (d *Directory) ByINS(ins INS) []Patient {
	k := insKey(ins)
	if k == "" {
		return nil
	}
	ids := d.byINS[k]
	out := make([]Patient, 0, len(ids))
	for _, id := range ids {
		if i, ok := d.byID[id]; ok {
			out = append(out, d.entries[i].p)
		}
	}
	return out
}

// Remove drops a patient.
func (d *Directory) Remove(id PatientID) {
	i, ok := d.byID[id]
	if !ok {
		return
	}
	d.unindexINS(d.entries[i].p)
	last := len(d.entries) - 1
	d.entries[i] = d.entries[last]
	d.byID[d.entries[i].p.ID] = i
	d.entries = d.entries[:last]
	delete(d.byID, id)
}

// Get returns a patient by id.
func (d *Directory) Get(id PatientID) (Patient, bool) {
	i, ok := d.byID[id]
	if !ok {
		return Patient{}, false
	}
	return d.entries[i].p, true
}

// All returns every patient, sorted by display name.
func (d *Directory) All() []Patient {
	all := make([]*dirEntry, len(d.entries))
	for i := range d.entries {
		all[i] = &d.entries[i]
	}
	return sorted(all, 0)
}

// Search returns up to limit patients matching query, sorted by display name.
// Every word of the query must be the start of one of the patient's names
// (birth name, used name, given names), or the query is the start of the INS
// matricule. An empty query matches nobody; limit ≤ 0 means no limit.
func (d *Directory) Search(query string, limit int) []Patient {
	q := Fold(query)
	words := strings.Fields(q)
	if len(words) == 0 {
		return nil
	}
	digits := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(query), " ", ""))
	insQuery := len(digits) >= 2 && isMatriculePrefix(digits)
	var hits []*dirEntry
	for i := range d.entries {
		e := &d.entries[i]
		if (insQuery && strings.HasPrefix(e.p.INS.Matricule, digits)) || matchAll(words, e.tokens) {
			hits = append(hits, e)
		}
	}
	return sorted(hits, limit)
}

// sorted sorts entries by name, birth date and id, and returns the first
// limit patients (all when limit ≤ 0).
func sorted(es []*dirEntry, limit int) []Patient {
	sort.Slice(es, func(i, j int) bool { return es[i].sort < es[j].sort })
	if limit > 0 && len(es) > limit {
		es = es[:limit]
	}
	out := make([]Patient, len(es))
	for i, e := range es {
		out[i] = e.p
	}
	return out
}

func matchAll(words, tokens []string) bool {
	for _, w := range words {
		found := false
		for _, t := range tokens {
			if strings.HasPrefix(t, w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func isMatriculePrefix(s string) bool {
	for i, r := range s {
		if r >= '0' && r <= '9' {
			continue
		}
		if (r == 'A' || r == 'B') && i == 6 {
			continue
		}
		return false
	}
	return true
}

func nameTokens(p Patient) []string {
	return strings.Fields(Fold(p.BirthName + " " + p.UsedName + " " + p.BirthGivenNames + " " + p.UsedGivenName))
}

func sortKey(p Patient) string {
	return Fold(p.DisplayName()) + "\x00" + p.BirthDate + "\x00" + string(p.ID)
}

// Fold prepares a name for comparison: lower case, accents removed (é → e,
// œ → oe, ß → ss), hyphens, apostrophes and other punctuation turned into
// spaces. "Le Hénaff-D'Œuvre" folds to "le henaff d oeuvre".
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			switch {
			case r >= 'A' && r <= 'Z':
				b.WriteByte(byte(r) + 'a' - 'A')
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				b.WriteByte(byte(r))
			default:
				b.WriteByte(' ')
			}
			continue
		}
		if f, ok := foldTable[r]; ok {
			b.WriteString(f)
			continue
		}
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		case unicode.Is(unicode.Mn, r):
			// a lone combining mark (decomposed input): drop it
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// foldTable maps the accented Latin letters of French (and neighbouring
// languages found in French civil registers) to their base letters.
var foldTable = func() map[rune]string {
	m := map[rune]string{}
	add := func(base string, runes string) {
		for _, r := range runes {
			m[r] = base
		}
	}
	add("a", "àáâãäåāăąÀÁÂÃÄÅĀĂĄ")
	add("c", "çćĉċčÇĆĈĊČ")
	add("d", "ďđĎĐ")
	add("e", "èéêëēĕėęěÈÉÊËĒĔĖĘĚ")
	add("g", "ĝğġģĜĞĠĢ")
	add("i", "ìíîïĩīĭįıÌÍÎÏĨĪĬĮİ")
	add("n", "ñńņňÑŃŅŇ")
	add("o", "òóôõöøōŏőÒÓÔÕÖØŌŎŐ")
	add("u", "ùúûüũūŭůűųÙÚÛÜŨŪŬŮŰŲ")
	add("y", "ýÿŷÝŸŶ")
	add("z", "źżžŹŻŽ")
	add("s", "śŝşšŚŜŞŠ")
	add("l", "ĺļľŀłĹĻĽĿŁ")
	add("r", "ŕŗřŔŖŘ")
	add("t", "ţťŧŢŤŦ")
	add("oe", "œŒ")
	add("ae", "æÆ")
	add("ss", "ß")
	add(" ", "’‘`´‐‑‒–—\u00a0")
	return m
}()
