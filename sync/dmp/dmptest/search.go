package dmptest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// Paging: results are ordered by (lastUpdated, insertion sequence), and
// the next link carries an opaque cursor (_cursor) holding the position
// after the last entry sent and a hash of the query. Equal timestamps never
// make a page skip or repeat an entry; a resource updated while paging moves
// to the end and is seen again.
const (
	defaultCount = 20
	maxCount     = 100
	cursorParam  = "_cursor"
)

// pageItem is a search match with its sort key.
type pageItem struct {
	t   time.Time
	seq uint64
	v   any
}

func queryHash(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != cursorParam && k != "_count" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := fnv.New32a()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s&", k, strings.Join(q[k], ","))
	}
	return strconv.FormatUint(uint64(h.Sum32()), 36)
}

// writePage sorts items, applies the cursor and _count, and writes the
// searchset Bundle with self and next links. render gives an entry's
// resource as JSON (as json.Marshal writes it) and its location.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, items []pageItem, render func(pageItem) ([]byte, string)) {
	q := r.URL.Query()
	count := defaultCount
	if v := q.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("invalid", "_count must be a non-negative integer"))
			return
		}
		count = min(n, maxCount)
	}
	sort.Slice(items, func(i, j int) bool {
		if !items[i].t.Equal(items[j].t) {
			return items[i].t.Before(items[j].t)
		}
		return items[i].seq < items[j].seq
	})
	qh := queryHash(q)
	start := 0
	if c := q.Get(cursorParam); c != "" {
		t, seq, h, err := parseCursor(c)
		if err != nil || h != qh {
			writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("invalid", "bad or foreign paging cursor"))
			return
		}
		start = sort.Search(len(items), func(i int) bool {
			return items[i].t.After(t) || items[i].t.Equal(t) && items[i].seq > seq
		})
	}
	end := min(start+count, len(items))
	b := fhir.Bundle{Type: "searchset", Total: ptr(len(items))}
	base := s.baseURL(r) + strings.TrimPrefix(r.URL.Path, s.opt.BasePath)
	b.Link = append(b.Link, fhir.BundleLink{Relation: "self", URL: base + "?" + r.URL.RawQuery})
	if end < len(items) && count > 0 {
		last := items[end-1]
		nq := url.Values{}
		for k, v := range q {
			if k != cursorParam {
				nq[k] = v
			}
		}
		nq.Set(cursorParam, makeCursor(last.t, last.seq, qh))
		b.Link = append(b.Link, fhir.BundleLink{Relation: "next", URL: base + "?" + nq.Encode()})
	}
	entries := make([]pageEntry, 0, end-start)
	for _, it := range items[start:end] {
		res, loc := render(it)
		entries = append(entries, pageEntry{fullURL: s.baseURL(r) + "/" + loc, resource: res})
	}
	body, err := searchsetJSON(b, entries)
	if err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Date", s.now().Format(http.TimeFormat))
	writeBody(w, http.StatusOK, body)
}

// pageEntry is a match of a searchset page: its fullUrl and its resource,
// already JSON.
type pageEntry struct {
	fullURL  string
	resource []byte
}

// searchsetJSON writes b (without entries) with entries as matches: the
// bytes json.Marshal gives for b with each entry as a fhir.BundleEntry
// {FullURL, Resource, Search: match}, but each resource is copied as it is
// rather than encoded (and checked and compacted) again.
func searchsetJSON(b fhir.Bundle, entries []pageEntry) ([]byte, error) {
	b.Entry = nil
	head, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return head, nil
	}
	n := len(head) + 16
	for _, e := range entries {
		n += len(e.fullURL) + len(e.resource) + 64
	}
	out := make([]byte, 0, n)
	out = append(out, head[:len(head)-1]...) // without its closing brace
	out = append(out, `,"entry":[`...)
	for i, e := range entries {
		if i > 0 {
			out = append(out, ',')
		}
		u, err := json.Marshal(e.fullURL)
		if err != nil {
			return nil, err
		}
		out = append(out, `{"fullUrl":`...)
		out = append(out, u...)
		if e.resource != nil {
			out = append(out, `,"resource":`...)
			out = append(out, e.resource...)
		}
		out = append(out, `,"search":{"mode":"match"}}`...)
	}
	out = append(out, "]}"...)
	return out, nil
}

func makeCursor(t time.Time, seq uint64, qh string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("v1|%d|%d|%s", t.UnixNano(), seq, qh)))
}

func parseCursor(c string) (time.Time, uint64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, 0, "", err
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 4 || parts[0] != "v1" {
		return time.Time{}, 0, "", fmt.Errorf("bad cursor")
	}
	ns, err1 := strconv.ParseInt(parts[1], 10, 64)
	seq, err2 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, 0, "", fmt.Errorf("bad cursor")
	}
	return time.Unix(0, ns).UTC(), seq, parts[3], nil
}

// dateFilter is a set of FHIR date comparisons.
type dateFilter []struct {
	prefix string
	t      time.Time
}

func parseDates(vs []string) (dateFilter, error) {
	var f dateFilter
	for _, v := range vs {
		p, rest := splitPrefix(v)
		t, err := fhir.ParseTime(rest)
		if err != nil {
			return nil, err
		}
		if p == "" {
			p = "eq"
		}
		f = append(f, struct {
			prefix string
			t      time.Time
		}{p, t})
	}
	return f, nil
}

// match reports whether t satisfies every comparison (eq: same day or
// later within the given precision is approximated as ≥ and < +1 day).
func (f dateFilter) match(t time.Time) bool {
	for _, c := range f {
		ok := true
		switch c.prefix {
		case "ge", "sa":
			ok = !t.Before(c.t)
		case "gt":
			ok = t.After(c.t)
		case "le", "eb":
			ok = !t.After(c.t)
		case "lt":
			ok = t.Before(c.t)
		case "eq":
			ok = !t.Before(c.t) && t.Before(c.t.Add(24*time.Hour))
		case "ne":
			ok = !t.Equal(c.t)
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchRange reports whether a period satisfies every comparison with the
// FHIR semantics of a range: ge and gt ask that the range reaches the date
// (its end), le, lt and eb that it began by then, sa
// that it starts after, eq that it overlaps the day (an act without an
// end is the point of its start). A living document (a
// reimbursement history covering the last 24 months) therefore matches a
// window that its start precedes.
func (f dateFilter) matchRange(p *fhir.Period) bool {
	if p == nil || p.Start == "" {
		return false
	}
	start, err := fhir.ParseTime(p.Start)
	if err != nil {
		return false
	}
	// Without an end the act is a point in time (as the client reads it):
	// the range is its start alone.
	end := start
	if e, err := fhir.ParseTime(p.End); p.End != "" && err == nil && !e.Before(start) {
		end = e
	}
	for _, c := range f {
		ok := true
		switch c.prefix {
		case "ge":
			ok = !end.Before(c.t)
		case "gt":
			ok = end.After(c.t)
		case "le", "eb":
			ok = !start.After(c.t)
		case "lt":
			ok = start.Before(c.t)
		case "sa":
			ok = start.After(c.t)
		case "eq":
			ok = start.Before(c.t.Add(24*time.Hour)) && !end.Before(c.t)
		case "ne":
			ok = !start.Equal(c.t)
		}
		if !ok {
			return false
		}
	}
	return true
}

// tokenMatch reports whether a concept matches any of the comma-separated
// tokens (system|code, |code or code).
func tokenMatch(cc []fhir.CodeableConcept, values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, alt := range strings.Split(v, ",") {
			t := fhir.ParseToken(alt)
			for i := range cc {
				if cc[i].Has(t.System, t.Value) {
					return true
				}
			}
		}
	}
	return false
}

// handleDocSearch serves ITI-67: DocumentReference?patient.identifier=…&
// status=…[&period=ge…][&date=…][&type=…][&category=…][&identifier=…]
// [&security-label=…][&_lastUpdated=…][&_count=…]. Masked documents are
// left out except for their author.
func (s *Server) handleDocSearch(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec, ok := s.patientParam(w, q, c)
	if !ok {
		return
	}
	if q.Get("status") == "" {
		writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("required", "status is required (ITI-67)"))
		return
	}
	if d := s.access(rec, c, opRead); d != "" {
		s.trace(rec, c, "search-type", "DocumentReference", d)
		deny(w, d, "document search refused")
		return
	}
	statuses := map[string]bool{}
	for _, v := range q["status"] {
		for _, st := range strings.Split(v, ",") {
			statuses[st] = true
		}
	}
	period, err1 := parseDates(q["period"])
	date, err2 := parseDates(q["date"])
	upd, err3 := parseDates(q["_lastUpdated"])
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("invalid", err.Error()))
			return
		}
	}
	ids := map[string]bool{}
	for _, v := range q["identifier"] {
		for _, id := range strings.Split(v, ",") {
			ids[fhir.ParseToken(id).Value] = true
		}
	}
	var items []pageItem
	for _, d := range rec.Docs {
		ref := &d.Ref
		if !d.visibleTo(c.RPPS) || !statuses[ref.Status] {
			continue
		}
		if len(period) > 0 && !period.matchRange(ref.Context.Period) {
			continue
		}
		if len(date) > 0 {
			t, err := fhir.ParseTime(ref.Date)
			if err != nil || !date.match(t) {
				continue
			}
		}
		if len(upd) > 0 && !upd.match(d.LastUpdated) {
			continue
		}
		if !tokenMatch([]fhir.CodeableConcept{*ref.Type}, q["type"]) || !tokenMatch(ref.Category, q["category"]) || !tokenMatch(ref.SecurityLabel, q["security-label"]) {
			continue
		}
		if len(ids) > 0 && !ids[ref.UniqueID()] && !ids[strings.TrimPrefix(ref.UniqueID(), "urn:oid:")] && !anyIdentifier(ref.Identifier, ids) {
			continue
		}
		items = append(items, pageItem{t: d.LastUpdated, seq: d.Seq, v: d})
	}
	s.trace(rec, c, "search-type", "DocumentReference", "")
	s.writePage(w, r, items, func(it pageItem) ([]byte, string) {
		d := it.v.(*doc)
		return d.refBytes(), "DocumentReference/" + d.Ref.ID
	})
}

func anyIdentifier(ids []fhir.Identifier, want map[string]bool) bool {
	for _, id := range ids {
		if want[id.Value] {
			return true
		}
	}
	return false
}

// handleDocRead serves GET DocumentReference/{id} with its ETag.
func (s *Server) handleDocRead(w http.ResponseWriter, r *http.Request, c *caller) {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	d, ok := s.docForCaller(w, r.PathValue("id"), false, c, "read")
	if !ok {
		return
	}
	w.Header().Set("ETag", fhir.WeakETag(itoa(d.Version)))
	w.Header().Set("Last-Modified", d.LastUpdated.Format(http.TimeFormat))
	writeJSON(w, http.StatusOK, d.Ref)
}

// docForCaller finds a document and applies the access rules: unknown,
// deleted or masked (for a non-author) documents are 404 (410 when
// deleted); the record rules as for a search.
func (s *Server) docForCaller(w http.ResponseWriter, id string, binary bool, c *caller, action string) (*doc, bool) {
	d := s.docByID(id, binary)
	if d == nil {
		writeOutcome(w, http.StatusNotFound, fhir.NewOutcome("not-found", "no such resource"))
		return nil, false
	}
	rec := d.patient
	if !checkPatient(w, c, fhir.INSToken(rec.Patient.INS)) {
		return nil, false
	}
	what := "DocumentReference/" + d.Ref.ID
	if binary {
		what = "Binary/" + d.BinaryID
	}
	if den := s.access(rec, c, opRead); den != "" {
		s.trace(rec, c, action, what, den)
		deny(w, den, "access refused")
		return nil, false
	}
	if d.Deleted {
		s.trace(rec, c, action, what, app.DeniedOther)
		writeOutcome(w, http.StatusGone, fhir.NewOutcome("deleted", "the document was deleted"))
		return nil, false
	}
	if !d.visibleTo(c.RPPS) {
		s.trace(rec, c, action, what, app.DeniedOther)
		writeOutcome(w, http.StatusNotFound, fhir.NewOutcome("not-found", "no such resource"))
		return nil, false
	}
	s.trace(rec, c, action, what, "")
	return d, true
}

// handleListSearch serves ITI-66: List?patient.identifier=…&code=submissionset
// [&status=current][&date=ge…]. Entries pointing to documents the caller may
// not see are left out.
func (s *Server) handleListSearch(w http.ResponseWriter, r *http.Request, c *caller) {
	q := r.URL.Query()
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec, ok := s.patientParam(w, q, c)
	if !ok {
		return
	}
	code := fhir.ParseToken(q.Get("code")).Value
	if code == "" {
		writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("required", "code is required (ITI-66)"))
		return
	}
	if d := s.access(rec, c, opRead); d != "" {
		s.trace(rec, c, "search-type", "List", d)
		deny(w, d, "submission set search refused")
		return
	}
	date, err := parseDates(q["date"])
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, fhir.NewOutcome("invalid", err.Error()))
		return
	}
	var items []pageItem
	if code == "submissionset" {
		for _, l := range rec.Lists {
			if st := q.Get("status"); st != "" && !strings.Contains(","+st+",", ","+l.List.Status+",") {
				continue
			}
			if !date.match(l.Date) {
				continue
			}
			items = append(items, pageItem{t: l.Date, seq: l.Seq, v: l})
		}
	}
	s.trace(rec, c, "search-type", "List", "")
	s.writePage(w, r, items, func(it pageItem) ([]byte, string) {
		l := it.v.(*subset)
		out := l.List
		out.Entry = nil
		for _, m := range l.Members {
			if m.visibleTo(c.RPPS) {
				out.Entry = append(out.Entry, fhir.ListEntry{Item: fhir.Reference{Reference: "DocumentReference/" + m.Ref.ID}})
			}
		}
		return mustJSON(out), "List/" + l.List.ID
	})
}

// handleBinary serves ITI-68: the raw document with its Content-Type, or a
// FHIR Binary when the client accepts only application/fhir+json.
func (s *Server) handleBinary(w http.ResponseWriter, r *http.Request, c *caller) {
	s.data.mu.Lock()
	d, ok := s.docForCaller(w, r.PathValue("id"), true, c, "read")
	if !ok {
		s.data.mu.Unlock()
		return
	}
	content, ctype, id, version := d.Content, d.ContentType, d.BinaryID, d.Version
	s.data.mu.Unlock()
	w.Header().Set("ETag", fhir.WeakETag(itoa(version)))
	if wantsFHIR(r.Header.Get("Accept")) {
		writeJSON(w, http.StatusOK, fhir.Binary{ID: id, ContentType: ctype, Data: content})
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", itoa(len(content)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(content)
}

func wantsFHIR(accept string) bool {
	a := strings.ToLower(accept)
	return strings.Contains(a, "application/fhir+json") && !strings.Contains(a, "*/*") && !strings.Contains(a, "xml") && !strings.Contains(a, "pdf")
}
