package terms

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// maxNameWords is the longest substance name of the table, in words
// ("insuline glargine", "acide valproique").
const maxNameWords = 3

// parseSubstances reads substances.txt: "name<TAB>ATC<TAB>kind" lines, "#"
// comments. Names are folded (app.Fold); an ATC code must be level 5.
func parseSubstances(data []byte) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("terms: substances.txt line %d: want 3 tab-separated fields", n)
		}
		name := strings.Join(strings.Fields(app.Fold(f[0])), " ")
		atc := strings.ToUpper(strings.TrimSpace(f[1]))
		if name == "" || len(strings.Fields(name)) > maxNameWords {
			return nil, fmt.Errorf("terms: substances.txt line %d: bad name", n)
		}
		if !isATC5(atc) {
			return nil, fmt.Errorf("terms: substances.txt line %d: %q is not an ATC level-5 code", n, atc)
		}
		if f[2] != "dci" && f[2] != "brand" {
			return nil, fmt.Errorf("terms: substances.txt line %d: kind must be dci or brand", n)
		}
		if old, dup := m[name]; dup && old != atc {
			return nil, fmt.Errorf("terms: substances.txt line %d: %s given two codes", n, name)
		}
		m[name] = atc
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("terms: substances.txt: %w", err)
	}
	return m, nil
}

// isATC5 reports whether s has the shape of an ATC level-5 code: letter,
// 2 digits, 2 letters, 2 digits ("B01AC04").
func isATC5(s string) bool {
	if len(s) != 7 {
		return false
	}
	for i, r := range s {
		letter := r >= 'A' && r <= 'Z'
		digit := r >= '0' && r <= '9'
		switch i {
		case 0, 3, 4:
			if !letter {
				return false
			}
		default:
			if !digit {
				return false
			}
		}
	}
	return true
}

// SubstanceATC returns the ATC level-5 code of a medication known only by
// its name or substance ("PLAVIX 75 mg, comprimé" → B01AC04), from a table
// of substances and common French brand names (substances.txt): the first
// one to three words of the folded name are looked up, longest first. It is
// how a line that carries only a CIS or CIP code still gets its
// perioperative flags; callers mark the code as inferred.
func SubstanceATC(name string) (string, bool) {
	words := strings.Fields(app.Fold(name))
	subs := get().substances
	for n := min(maxNameWords, len(words)); n >= 1; n-- {
		if atc, ok := subs[strings.Join(words[:n], " ")]; ok {
			return atc, true
		}
	}
	return "", false
}
