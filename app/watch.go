package app

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// DefaultWatchDays is how long a patient opened in Carnet stays on the watch
// list of the sync engine.
const DefaultWatchDays = 30

// Scheduled is one line of an operating list: a patient, by INS matricule,
// the date of the intervention, and the identity the clinic's identity
// system (GAM) exported with it, when the list carries one.
type Scheduled struct {
	Matricule string    // 15 characters, control key checked
	Date      time.Time // day (and time when given) of the intervention, UTC
	Line      int       // line of the file, for the "to identify" report
	// OID is the INS domain the list gives ("" when it gives none: INS-NIR,
	// or INS-NIA for a matricule starting with 7 or 8).
	OID string
	// Identity holds the traits and identity status of the row, each empty
	// when the list does not give it or gives it unreadable.
	Identity ListedIdentity
	// Reason says why an entry of OperatingListResult.ToIdentify was not
	// scheduled; empty elsewhere.
	Reason OperatingListReason
	// insUnsure: the INS came from free text or a property other than
	// the INS column (iCalendar: X-INS), or the row gives two different
	// ones. It may schedule a patient the vault knows, never add one.
	insUnsure bool
}

// Operating list bounds: a hostile file costs at most this much.
const (
	MaxOperatingListBytes   = 4 << 20
	MaxOperatingListEntries = 10000
	maxOperatingLine        = 64 << 10
)

// ParseOperatingList reads an operating list: a CSV file (comma, semicolon
// or tab separated; any column order; an optional header) whose rows hold an
// INS matricule and a date (YYYY-MM-DD, DD/MM/YYYY, optionally followed by
// a time), or an iCalendar file whose VEVENTs carry the INS in an X-INS
// property or anywhere in their SUMMARY or DESCRIPTION, and their date in
// DTSTART. name (the file name) picks the format by extension; the content
// decides when it says BEGIN:VCALENDAR. Rows without a valid INS and date
// are skipped; errors name a line, never its content.
func ParseOperatingList(r io.Reader, name string) ([]Scheduled, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxOperatingListBytes+1))
	if err != nil {
		return nil, fmt.Errorf("operating list: read: %w", err)
	}
	if len(data) > MaxOperatingListBytes {
		return nil, fmt.Errorf("operating list: larger than %d bytes: %w", MaxOperatingListBytes, ErrInvalid)
	}
	text := strings.TrimPrefix(string(data), "\ufeff")
	ics := strings.HasSuffix(strings.ToLower(name), ".ics") ||
		strings.HasPrefix(strings.ToUpper(strings.TrimSpace(text)), "BEGIN:VCALENDAR")
	var out []Scheduled
	if ics {
		out, err = parseICS(text)
	} else {
		out, err = parseCSV(text)
	}
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Date.Before(out[j].Date) })
	return out, nil
}

// lines splits text into lines (LF, CRLF or CR), refusing absurdly long ones.
func lines(text string) ([]string, error) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	ls := strings.Split(text, "\n")
	for i, l := range ls {
		if len(l) > maxOperatingLine {
			return nil, fmt.Errorf("operating list: line %d too long: %w", i+1, ErrInvalid)
		}
	}
	return ls, nil
}

func parseCSV(text string) ([]Scheduled, error) {
	ls, err := lines(text)
	if err != nil {
		return nil, err
	}
	var out []Scheduled
	var cols map[int]listColumn // from the header row, when there is one
	for i, l := range ls {
		if strings.TrimSpace(l) == "" {
			continue
		}
		fields := splitCSV(l)
		for j, f := range fields {
			fields[j] = strings.TrimSpace(strings.Trim(strings.TrimSpace(f), `"`))
		}
		if cols == nil {
			if h := headerColumns(fields); h != nil {
				cols = h
				continue
			}
		}
		s := csvRow(fields, cols)
		if s.Matricule == "" || s.Date.IsZero() {
			continue // a header, a comment or a row without what we need
		}
		s.Line = i + 1
		out = append(out, s)
		if len(out) > MaxOperatingListEntries {
			return nil, fmt.Errorf("operating list: more than %d entries: %w", MaxOperatingListEntries, ErrInvalid)
		}
	}
	return out, nil
}

// csvRow reads one row: with a header, the INS, the date and the identity
// from their columns (INS and date found in any other column when the
// header names none); without one, the first field holding a valid INS and
// the first holding a date.
func csvRow(fields []string, cols map[int]listColumn) Scheduled {
	var s Scheduled
	hasINS, hasDate := false, false
	for _, c := range cols {
		hasINS = hasINS || c == colINS
		hasDate = hasDate || c == colDate
	}
	for j, f := range fields {
		c, named := cols[j]
		switch {
		case named && c == colINS:
			if m, ok := findINS(f, true); ok {
				if s.Matricule != "" && s.Matricule != m {
					s.insUnsure = true // two INS columns, two INS
				}
				if s.Matricule == "" {
					s.Matricule = m
				}
			}
		case named && c == colDate:
			if d, ok := parseListDate(f); ok && s.Date.IsZero() {
				s.Date = d
			}
		case named:
			s.setTrait(c, f)
		default:
			if s.Matricule == "" && !hasINS {
				if m, ok := findINS(f, true); ok {
					s.Matricule, s.insUnsure = m, true // not from an INS column
					continue
				}
			}
			if s.Date.IsZero() && !hasDate {
				if d, ok := parseListDate(f); ok {
					s.Date = d
				}
			}
		}
	}
	return s
}

// splitCSV splits a row on its separator (the most frequent of ; , tab
// outside quotes), honouring double quotes.
func splitCSV(l string) []string {
	counts := map[rune]int{}
	in := false
	for _, c := range l {
		switch {
		case c == '"':
			in = !in
		case !in && (c == ';' || c == ',' || c == '\t'):
			counts[c]++
		}
	}
	sep, best := ';', -1
	for _, c := range []rune{';', ',', '\t'} {
		if counts[c] > best {
			sep, best = c, counts[c]
		}
	}
	var fields []string
	var cur strings.Builder
	in = false
	for _, c := range l {
		switch {
		case c == '"':
			in = !in
		case c == sep && !in:
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(c)
		}
	}
	return append(fields, cur.String())
}

// findINS finds an INS matricule with a valid control key in s: the whole
// field (spaces removed) when whole, else any run of 15 characters
// delimited by non-alphanumerics.
func findINS(s string, whole bool) (string, bool) {
	if whole {
		m := strings.ToUpper(strings.ReplaceAll(s, " ", ""))
		m = strings.TrimPrefix(m, "INS:")
		m = strings.TrimPrefix(m, "INS")
		if validMatricule(m) {
			return m, true
		}
		return "", false
	}
	up := strings.ToUpper(s)
	for i := 0; i+15 <= len(up); i++ {
		if i > 0 && alnum(up[i-1]) {
			continue
		}
		if i+15 < len(up) && alnum(up[i+15]) {
			continue
		}
		if m := up[i : i+15]; validMatricule(m) {
			return m, true
		}
	}
	return "", false
}

func alnum(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' }

func validMatricule(m string) bool {
	if len(m) != 15 || (m[0] != '1' && m[0] != '2' && m[0] != '3' && m[0] != '4' && m[0] != '7' && m[0] != '8') {
		return false
	}
	key, err := INSKey(m[:13])
	return err == nil && key == m[13:]
}

var listDateLayouts = []string{
	"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02",
	"02/01/2006 15:04:05", "02/01/2006 15:04", "02/01/2006", "2/1/2006",
}

// parseListDate reads a date of a CSV field, within 2000–2100.
func parseListDate(s string) (time.Time, bool) {
	if len(s) < 8 || len(s) > 32 {
		return time.Time{}, false
	}
	for _, l := range listDateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return sane(t.UTC())
		}
	}
	return time.Time{}, false
}

func sane(t time.Time) (time.Time, bool) {
	if t.Year() < 2000 || t.Year() > 2100 {
		return time.Time{}, false
	}
	return t, true
}

// parseICS reads the VEVENTs of an iCalendar file (RFC 5545): unfolded
// content lines, DTSTART (date or date-time, UTC or floating), the INS in
// X-INS or in SUMMARY/DESCRIPTION text.
func parseICS(text string) ([]Scheduled, error) {
	raw, err := lines(text)
	if err != nil {
		return nil, err
	}
	// Unfold: a line starting with a space or tab continues the previous one.
	type cl struct {
		text string
		line int
	}
	var cls []cl
	for i, l := range raw {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(cls) > 0 {
			last := &cls[len(cls)-1]
			if len(last.text)+len(l) > maxOperatingLine {
				return nil, fmt.Errorf("operating list: line %d too long: %w", i+1, ErrInvalid)
			}
			last.text += l[1:]
			continue
		}
		cls = append(cls, cl{l, i + 1})
	}
	var out []Scheduled
	var ev *Scheduled
	depth := 0
	for _, c := range cls {
		name, params, value := contentLine(c.text)
		switch {
		case name == "BEGIN":
			depth++
			if depth > 8 {
				return nil, fmt.Errorf("operating list: line %d: components nested too deep: %w", c.line, ErrInvalid)
			}
			if strings.EqualFold(value, "VEVENT") {
				ev = &Scheduled{Line: c.line}
			}
		case name == "END":
			depth--
			if strings.EqualFold(value, "VEVENT") && ev != nil {
				if ev.Matricule != "" && !ev.Date.IsZero() {
					out = append(out, *ev)
					if len(out) > MaxOperatingListEntries {
						return nil, fmt.Errorf("operating list: more than %d entries: %w", MaxOperatingListEntries, ErrInvalid)
					}
				}
				ev = nil
			}
		case ev == nil:
		case name == "DTSTART":
			if t, ok := icsDate(value, params); ok {
				ev.Date = t
			}
		case name == "X-INS" || strings.HasSuffix(name, "-INS"):
			m, ok := findINS(icsUnescape(value), true)
			if !ok {
				m, ok = findINS(icsUnescape(value), false)
			}
			if ok {
				// Only X-INS itself names the patient's INS for sure (an
				// X-MOTHER-INS does not); two different INS make it unsure.
				if name != "X-INS" || (ev.Matricule != "" && ev.Matricule != m) {
					ev.insUnsure = true
				}
				ev.Matricule = m
			}
		case name == "SUMMARY" || name == "DESCRIPTION" || name == "COMMENT" || name == "ATTENDEE":
			if ev.Matricule == "" {
				if m, ok := findINS(icsUnescape(value), false); ok {
					ev.Matricule, ev.insUnsure = m, true
				}
			}
		case strings.HasPrefix(name, "X-"):
			if c, ok := listColumns[columnKey(name[2:])]; ok && c != colINS && c != colDate {
				ev.setTrait(c, strings.TrimSpace(icsUnescape(value)))
			}
		}
	}
	return out, nil
}

// contentLine splits "NAME;PARAM=x:value" (a colon inside a quoted
// parameter value does not end the name part).
func contentLine(l string) (name, params, value string) {
	in := false
	for i := 0; i < len(l); i++ {
		switch l[i] {
		case '"':
			in = !in
		case ':':
			if !in {
				head := l[:i]
				name, params, _ = strings.Cut(head, ";")
				return strings.ToUpper(strings.TrimSpace(name)), params, l[i+1:]
			}
		}
	}
	return "", "", ""
}

func icsUnescape(v string) string {
	r := strings.NewReplacer(`\n`, "\n", `\N`, "\n", `\,`, ",", `\;`, ";", `\\`, `\`)
	return r.Replace(v)
}

// icsDate reads a DTSTART value: 20260314, 20260314T083000 (floating or
// with TZID: taken as is), 20260314T083000Z.
func icsDate(v, params string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	var t time.Time
	var err error
	switch {
	case len(v) == 8:
		t, err = time.Parse("20060102", v)
	case len(v) == 16 && strings.HasSuffix(v, "Z"):
		t, err = time.Parse("20060102T150405Z", v)
	case len(v) == 15:
		t, err = time.Parse("20060102T150405", v)
	default:
		return time.Time{}, false
	}
	if err != nil {
		return time.Time{}, false
	}
	return sane(t.UTC())
}

// OperatingListResult is what importing an operating list changed.
type OperatingListResult struct {
	Scheduled  []Patient   // patients now scheduled (to write to the Store), new ones included
	ToIdentify []Scheduled // entries not scheduled, each with its Reason: to identify before they can be shown
	// Lookup holds the entries of INS unknown to the directory whose
	// listed identity is qualified and complete: to look up by INS on the
	// central service (ApplyOperatingList fills it; the importer empties
	// it, adding the patients found to Scheduled and the others to
	// ToIdentify).
	Lookup []Scheduled
	// Added counts the patients of Scheduled that the import added to the
	// directory (found by INS on the central service).
	Added int
}

// ApplyOperatingList matches an operating list to the local directory by INS
// matricule: matched patients get Scheduled set to the entry's date (the
// earliest still to come when a patient appears twice), unless the traits
// the list gives disagree with the local identity (ListTraitsDisagree).
// Entries of an INS with no local identity go to Lookup when the list gives
// a qualified and complete identity (one entry per INS, the earliest), else
// to ToIdentify with the reason. Entries dated before now − 1 day are
// ignored.
func ApplyOperatingList(patients []Patient, list []Scheduled, now time.Time) OperatingListResult {
	byINS := map[string]int{}
	for i, p := range patients {
		if p.INS.Matricule != "" {
			byINS[p.INS.Matricule] = i
		}
	}
	var res OperatingListResult
	when := map[int]time.Time{}
	unknown := map[string][]Scheduled{} // matricule the vault does not know → its rows
	var order []string                  // the unknown matricules, in the list's order
	toIdentify := func(s Scheduled, r OperatingListReason) {
		s.Reason = r
		res.ToIdentify = append(res.ToIdentify, s)
	}
	for _, s := range list {
		if s.Date.Before(now.Add(-24 * time.Hour)) {
			continue
		}
		i, ok := byINS[s.Matricule]
		switch {
		case ok && !s.Identity.Agrees(patients[i]):
			toIdentify(s, ListTraitsDisagree)
			continue
		case ok:
			if t, seen := when[i]; !seen || s.Date.Before(t) {
				when[i] = s.Date
			}
			continue
		}
		if _, seen := unknown[s.Matricule]; !seen {
			order = append(order, s.Matricule)
		}
		unknown[s.Matricule] = append(unknown[s.Matricule], s)
	}
	// The rows of an INS the vault does not know are judged together: if
	// two give it two identities (or domains), none is trusted, whatever
	// else is wrong with them; else one row that may not be looked up
	// (not qualified, incomplete, INS unsure) keeps them all from it.
	for _, m := range order {
		rows := unknown[m]
		reason := OperatingListReason("")
		for _, s := range rows[1:] {
			if !s.Identity.sameAs(rows[0].Identity) || s.OID != rows[0].OID {
				reason = ListTraitsDisagree
			}
		}
		for _, s := range rows {
			if reason != "" {
				break
			}
			reason = s.Identity.lookupable()
			if reason == "" && s.insUnsure {
				reason = ListINSUnsure
			}
		}
		if reason != "" {
			for _, s := range rows {
				toIdentify(s, reason)
			}
			continue
		}
		first := rows[0]
		for _, s := range rows[1:] {
			if s.Date.Before(first.Date) {
				first.Date = s.Date
			}
		}
		res.Lookup = append(res.Lookup, first)
	}
	idx := make([]int, 0, len(when))
	for i := range when {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		p := patients[i]
		p.Scheduled = when[i]
		res.Scheduled = append(res.Scheduled, p)
	}
	sort.SliceStable(res.ToIdentify, func(a, b int) bool { return res.ToIdentify[a].Line < res.ToIdentify[b].Line })
	return res
}

// Watched reports whether the sync engine keeps p's record up to date at
// now: pinned, opened within days days, or scheduled from the day before
// lead ahead of its date until the day after it.
func Watched(p Patient, now time.Time, days int, lead time.Duration) bool {
	switch {
	case p.INS.Matricule == "":
		return false
	case p.Pinned:
		return true
	case !p.LastAccess.IsZero() && now.Sub(p.LastAccess) <= time.Duration(days)*24*time.Hour:
		return true
	case !p.Scheduled.IsZero() && now.After(p.Scheduled.Add(-lead)) && now.Before(p.Scheduled.Add(48*time.Hour)):
		return true
	}
	return false
}

// RetentionDue reports whether p's cache has outlived the retention window
// at now: not consulted for days days, not pinned, no intervention to come.
// A patient never opened (zero LastAccess) is not subject to it.
func RetentionDue(p Patient, days int, now time.Time) bool {
	switch {
	case p.Pinned, p.LastAccess.IsZero(), days <= 0:
		return false
	case !p.Scheduled.IsZero() && now.Before(p.Scheduled.Add(48*time.Hour)):
		return false
	}
	return now.Sub(p.LastAccess) > time.Duration(days)*24*time.Hour
}

// WatchEntry is a patient of the home screen's watch list, with how ready
// the record is for offline reading.
type WatchEntry struct {
	Patient   Patient
	Documents int       // documents of the record (superseded ones left out)
	Cached    int       // of which readable offline
	CheckedAt time.Time // last check with the central service; zero if never
}

// Ready reports whether every document of the record is readable offline.
func (e WatchEntry) Ready() bool { return e.Documents > 0 && e.Cached == e.Documents }
