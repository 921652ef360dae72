package meds

import (
	"sort"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// line is a medication line with its merge keys computed once.
type line struct {
	m       app.Medication
	atc5    string   // ATC level-5 code, upper case
	atcCode app.Code // the ATC code as given (level 5 or a group)
	coarse  string   // ATC group shorter than level 5 (CNAM-HR), when no level 5
	name    string   // normalised name (or substance)
	sub     string   // normalised substance
	keys    []string // merge keys: "a:", "p:", "n:"
	sortKey string
}

// date is the date of the line: dispensing, start, or the document's date.
func (l *line) date() time.Time {
	switch {
	case !l.m.Dispensed.IsZero():
		return l.m.Dispensed
	case !l.m.Start.IsZero():
		return l.m.Start
	}
	return l.m.Source.Date
}

// prepare computes the keys of one line.
func prepare(m app.Medication) line {
	l := line{m: m}
	consider := func(c app.Code) {
		code := strings.ToUpper(strings.TrimSpace(c.Code))
		if code == "" || code[0] < 'A' || code[0] > 'Z' {
			return
		}
		switch c.System {
		case app.SystemATC, "":
			if len(code) == 7 && l.atc5 == "" {
				l.atc5, l.atcCode = code, c
			} else if len(code) >= 3 && len(code) < 7 && len(code) > len(l.coarse) {
				l.coarse = code
				if l.atcCode.IsZero() {
					l.atcCode = c
				}
			}
		case app.SystemCNAMATC3:
			if len(code) >= 3 && len(code) < 7 && len(code) > len(l.coarse) {
				l.coarse = code
				if l.atcCode.IsZero() {
					l.atcCode = c
				}
			}
		}
	}
	consider(m.ATC)
	for _, c := range m.Codes {
		if c.System == app.SystemATC || c.System == app.SystemCNAMATC3 {
			consider(c)
		}
	}
	if l.atc5 != "" {
		l.coarse = ""
		l.atcCode.Code = l.atc5
		l.keys = append(l.keys, "a:"+l.atc5)
	}
	addProduct := func(c app.Code) {
		if k := productKey(c); k != "" {
			l.keys = append(l.keys, k)
		}
	}
	addProduct(m.Product)
	for _, c := range m.Codes {
		addProduct(c)
	}
	l.sub = normName(m.Substance)
	l.name = normName(m.Name)
	if l.name == "" {
		l.name = normName(m.Text)
	}
	if l.name != "" {
		l.keys = append(l.keys, "n:"+l.name)
	}
	if l.sub != "" && l.sub != l.name {
		l.keys = append(l.keys, "n:"+l.sub)
	}
	first := func(s string) string {
		if s == "" {
			return "\xff"
		}
		return s
	}
	var pk string
	for _, k := range l.keys {
		if strings.HasPrefix(k, "p:") {
			pk = k
			break
		}
	}
	l.sortKey = strings.Join([]string{first(l.atc5), first(l.coarse), first(pk), first(l.name), string(m.Source.Document),
		stamp(m.Source.Date), stamp(m.Dispensed), stamp(m.Start), stamp(m.End), string(m.Kind), m.Name, m.Text, m.Prescriber, m.Quantity,
		m.Substance, m.Product.Code, m.ATC.Code, m.Dose, m.Frequency, m.Form, m.Route.Code, m.Indication, m.Source.Author, m.Source.Title}, "\x00")
	return l
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("20060102150405")
}

// productKey is the merge key of a product code: CIS, CIP13 (ANSM or CNAM
// system) or UCD.
func productKey(c app.Code) string {
	code := strings.TrimSpace(c.Code)
	if code == "" {
		return ""
	}
	switch c.System {
	case app.SystemCIS:
		return "p:cis:" + code
	case app.SystemCIP13, app.SystemCNAMCIP:
		return "p:cip:" + code
	case app.SystemUCD, app.SystemCNAMUCD:
		return "p:ucd:" + code
	}
	return ""
}

// Words dropped from a name before comparing: pharmaceutical forms,
// packaging, units and generic manufacturers. A name is cut at its first
// token starting with a digit (the strength).
var dropWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
		comprime comprimes cp cpr cpr. gelule gelules gel capsule capsules pellicule pellicules secable
		effervescent effervescents orodispersible dispersible gastroresistant gastro resistant lp lm sr
		solution buvable injectable inj susp suspension sirop poudre sachet sachets dose stylo seringue ser
		prerempli preremplie preremplies flacon fl amp ampoule creme pommade collyre patch dispositif
		transdermique sol buv pdre granules grl boite bte b unidose gouttes cutane oral orale voie
		mg g gr µg μg mcg microg microgrammes microgramme ml ui u mmol pour de du des la le les et a en au avec
		biogaran arrow mylan sandoz teva viatris zentiva eg cristers zydus accord almus evolugen ratiopharm
		substipharm krka sun ranbaxy qualimed isomed pfizer winthrop`) {
		m[w] = true
	}
	return m
}()

// normName reduces a product name to the words that name the drug:
// "DOLIPRANE 1000 mg, comprimé" and "Doliprane" both give "doliprane";
// "CRESTOR 5MG CPR9/10" gives "crestor".
func normName(s string) string {
	if s == "" {
		return ""
	}
	var out []string
	for _, w := range strings.Fields(app.Fold(s)) {
		if w[0] >= '0' && w[0] <= '9' {
			break
		}
		if dropWords[w] || dropWords[strings.TrimRight(w, "0123456789")] {
			continue
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// group state for the union-find: the codes that decide whether two groups
// may merge.
type state struct {
	atc5   string
	coarse []string
}

// compatible reports whether two groups may merge: never two different
// level-5 ATC codes, never an ATC group that does not contain the other's
// level-5 code, never two ATC groups neither of which contains the other.
func compatible(a, b *state) bool {
	if a.atc5 != "" && b.atc5 != "" && a.atc5 != b.atc5 {
		return false
	}
	atc5 := a.atc5
	if atc5 == "" {
		atc5 = b.atc5
	}
	all := append(append([]string(nil), a.coarse...), b.coarse...)
	for i, c := range all {
		if atc5 != "" {
			if !strings.HasPrefix(atc5, c) {
				return false
			}
			continue
		}
		for _, d := range all[i+1:] {
			if !strings.HasPrefix(c, d) && !strings.HasPrefix(d, c) {
				return false
			}
		}
	}
	return true
}

// cluster prepares the lines and merges them: lines sharing a level-5 ATC
// code, a product code or a normalised name (or substance) join, unless
// their codes contradict. It returns the groups of lines, each in canonical
// order; the order of the groups is canonical too.
func cluster(meds []app.Medication) [][]*line {
	lines := make([]line, len(meds))
	order := make([]int, len(meds))
	for i, m := range meds {
		lines[i] = prepare(m)
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return lines[order[a]].sortKey < lines[order[b]].sortKey })
	pos := make([]int, len(order)) // line → its place in canonical order
	for p, i := range order {
		pos[i] = p
	}

	parent := make([]int, len(lines))
	st := make([]state, len(lines))
	for i := range lines {
		parent[i] = i
		st[i].atc5 = lines[i].atc5
		if lines[i].coarse != "" {
			st[i].coarse = []string{lines[i].coarse}
		}
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	seen := make(map[string]int, 2*len(lines))
	for _, i := range order {
		for _, k := range lines[i].keys {
			j, ok := seen[k]
			if !ok {
				seen[k] = i
				continue
			}
			ri, rj := find(i), find(j)
			if ri == rj || !compatible(&st[ri], &st[rj]) {
				continue
			}
			// The root is the line that came first in canonical order.
			if pos[ri] > pos[rj] {
				ri, rj = rj, ri
			}
			parent[rj] = ri
			if st[ri].atc5 == "" {
				st[ri].atc5 = st[rj].atc5
			}
			for _, c := range st[rj].coarse {
				if !contains(st[ri].coarse, c) {
					st[ri].coarse = append(st[ri].coarse, c)
				}
			}
		}
	}
	byRoot := map[int]int{}
	var groups [][]*line
	for _, i := range order {
		r := find(i)
		g, ok := byRoot[r]
		if !ok {
			g = len(groups)
			byRoot[r] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], &lines[i])
	}
	return groups
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
