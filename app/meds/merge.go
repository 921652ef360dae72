package meds

import (
	"slices"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/terms"
)

// line is a medication line with its merge keys computed once.
type line struct {
	m       *app.Medication // the caller's line: read, never written
	atc5    string          // ATC level-5 code, upper case
	atcCode app.Code        // the ATC code as given (level 5 or a group)
	coarse  string          // ATC group shorter than level 5 (CNAM-HR), when no level 5
	name    string          // normalised name (or substance)
	sub     string          // normalised substance
	keys    []key           // merge keys
	product key             // first product key, for ordering
	prods   []app.Code      // the product codes behind the product keys
	rank    int             // rank of (atc5, coarse, product, name) among the lines
	kbuf    [4]key          // room for keys without allocating
	pbuf    [2]app.Code     // room for prods
}

// ident is what a line is ordered by first.
type ident struct {
	atc5, coarse string
	product      key
	name         string
}

func (l *line) ident() ident { return ident{l.atc5, l.coarse, l.product, l.name} }

func cmpIdent(a, b ident) int {
	if c := cmpEmptyLast(a.atc5, b.atc5); c != 0 {
		return c
	}
	if c := cmpEmptyLast(a.coarse, b.coarse); c != 0 {
		return c
	}
	if c := cmpKey(a.product, b.product); c != 0 {
		return c
	}
	return cmpEmptyLast(a.name, b.name)
}

// key is a merge key: a level-5 ATC code, a product code or a name.
type key struct {
	kind byte // 'a' ATC, 'c' CIS, 'p' CIP13, 'u' UCD, 'n' name or substance
	val  string
}

// String returns the key as the prefix of an entry ID: "cip:3400…".
func (k key) String() string {
	switch k.kind {
	case 'a':
		return "atc:" + k.val
	case 'c':
		return "cis:" + k.val
	case 'p':
		return "cip:" + k.val
	case 'u':
		return "ucd:" + k.val
	}
	return "name:" + k.val
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

// prepare computes the keys of one line; names memoises normName.
func prepare(l *line, m *app.Medication, names map[string]string) {
	*l = line{m: m}
	l.keys = l.kbuf[:0]
	l.prods = l.pbuf[:0]
	consider := func(c app.Code) {
		code := strings.ToUpper(strings.TrimSpace(c.Code))
		if code == "" || code[0] < 'A' || code[0] > 'Z' {
			return
		}
		switch c.System {
		case app.SystemATC, app.SystemCNAMATC5, "":
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
		if c.System == app.SystemATC || c.System == app.SystemCNAMATC3 || c.System == app.SystemCNAMATC5 {
			consider(c)
		}
	}
	if l.atc5 == "" {
		inferATC(l, m)
	}
	if l.atc5 != "" {
		l.coarse = ""
		l.atcCode.Code = l.atc5
		l.keys = append(l.keys, key{'a', l.atc5})
	}
	addProduct := func(c app.Code) {
		if k := productKey(c); k.kind != 0 {
			l.keys = append(l.keys, k)
			l.prods = append(l.prods, c)
			if l.product.kind == 0 {
				l.product = k
			}
		}
	}
	addProduct(m.Product)
	for _, c := range m.Codes {
		addProduct(c)
	}
	norm := func(s string) string {
		if n, ok := names[s]; ok {
			return n
		}
		n := normName(s)
		names[s] = n
		return n
	}
	l.sub = norm(m.Substance)
	l.name = norm(m.Name)
	if l.name == "" {
		l.name = norm(m.Text)
	}
	if l.name != "" {
		l.keys = append(l.keys, key{'n', l.name})
	}
	if l.sub != "" && l.sub != l.name {
		l.keys = append(l.keys, key{'n', l.sub})
	}
}

// cmpEmptyLast orders strings with "" after every other value.
func cmpEmptyLast(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	return strings.Compare(a, b)
}

// cmpKey orders keys by kind then value, the zero key last.
func cmpKey(a, b key) int {
	switch {
	case a == b:
		return 0
	case a.kind == 0:
		return 1
	case b.kind == 0:
		return -1
	case a.kind != b.kind:
		return int(a.kind) - int(b.kind)
	}
	return strings.Compare(a.val, b.val)
}

// canonical orders lines by their content alone, so that the result of
// Consolidate does not depend on the order of its input: level-5 codes
// first, then groups, products, names, then every other field.
func canonical(a, b *line) int {
	if a.rank != b.rank {
		return a.rank - b.rank
	}
	x, y := a.m, b.m
	if c := strings.Compare(string(x.Source.Document), string(y.Source.Document)); c != 0 {
		return c
	}
	for _, p := range [][2]time.Time{{x.Source.Date, y.Source.Date}, {x.Dispensed, y.Dispensed}, {x.Start, y.Start}, {x.End, y.End}} {
		if c := p[0].Compare(p[1]); c != 0 {
			return c
		}
	}
	for _, p := range [][2]string{{string(x.Kind), string(y.Kind)}, {x.Name, y.Name}, {x.Text, y.Text}, {x.Prescriber, y.Prescriber},
		{x.Quantity, y.Quantity}, {x.Substance, y.Substance}, {x.Product.Code, y.Product.Code}, {x.ATC.Code, y.ATC.Code},
		{x.Dose, y.Dose}, {x.Frequency, y.Frequency}, {x.Form, y.Form}, {x.Route.Code, y.Route.Code}, {x.Indication, y.Indication},
		{x.Source.Author, y.Source.Author}, {x.Source.Title, y.Source.Title}, {x.Source.TypeCode, y.Source.TypeCode}} {
		if c := strings.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	return 0
}

// productKey is the merge key of a product code: CIS, CIP13 (ANSM or CNAM
// system) or UCD.
func productKey(c app.Code) key {
	code := strings.TrimSpace(c.Code)
	if code == "" {
		return key{}
	}
	switch c.System {
	case app.SystemCIS:
		return key{'c', code}
	case app.SystemCIP13, app.SystemCNAMCIP:
		return key{'p', code}
	case app.SystemUCD, app.SystemCNAMUCD:
		return key{'u', code}
	}
	return key{}
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
	cbuf   [1]string
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
	n := len(a.coarse) + len(b.coarse)
	at := func(i int) string {
		if i < len(a.coarse) {
			return a.coarse[i]
		}
		return b.coarse[i-len(a.coarse)]
	}
	for i := range n {
		c := at(i)
		if atc5 != "" {
			if !strings.HasPrefix(atc5, c) {
				return false
			}
			continue
		}
		for j := i + 1; j < n; j++ {
			d := at(j)
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
	names := make(map[string]string)
	uid := map[ident]int{} // ident → first-seen number
	var idents []ident
	for i := range meds {
		prepare(&lines[i], &meds[i], names)
		order[i] = i
		id := lines[i].ident()
		n, ok := uid[id]
		if !ok {
			n = len(idents)
			uid[id] = n
			idents = append(idents, id)
		}
		lines[i].rank = n
	}
	byIdent := make([]int, len(idents)) // first-seen number → rank
	for n := range byIdent {
		byIdent[n] = n
	}
	slices.SortFunc(byIdent, func(a, b int) int { return cmpIdent(idents[a], idents[b]) })
	rank := make([]int, len(idents))
	for r, n := range byIdent {
		rank[n] = r
	}
	for i := range lines {
		lines[i].rank = rank[lines[i].rank]
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := canonical(&lines[a], &lines[b]); c != 0 {
			return c
		}
		return a - b // identical lines: any order gives the same list
	})
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
			st[i].cbuf[0] = lines[i].coarse
			st[i].coarse = st[i].cbuf[:1]
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
	seen := make(map[key]int, 2*len(lines))
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

// InferredATC is the Display of an ATC code Carnet deduced from a line's
// substance or product name (terms.SubstanceATC), when the document gave
// only a product code (CIS, CIP, UCD) or a coarse group: the UI says so.
const InferredATC = "code ATC déduit du nom (table Carnet, à confirmer)"

// inferATC gives a line without a level-5 ATC code the one its substance or
// name implies, provided it agrees with the coarse group the line may carry
// (a CNAM-HR line "PLAVIX 75MG" in group B01 becomes B01AC04). Without it, a
// brand-only line of an anticoagulant would carry no perioperative flag.
func inferATC(l *line, m *app.Medication) {
	for _, name := range []string{m.Substance, m.Name} {
		atc, ok := terms.SubstanceATC(name)
		if !ok || !strings.HasPrefix(atc, l.coarse) {
			continue
		}
		l.atc5 = atc
		l.atcCode = app.Code{Code: atc, System: app.SystemATC, Display: InferredATC}
		return
	}
}
