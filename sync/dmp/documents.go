package dmp

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// ListDocuments lists a patient's documents (ITI-67 Find Document
// References): GET [base]/DocumentReference?patient.identifier=…&status=…
// with period=ge (ActSince), _lastUpdated=ge (UpdatedSince), type, identifier
// and _count as the query asks. It follows the Bundle's next links verbatim,
// but only on the service's own scheme, host and port, and hands each page
// to page, in order, as it arrives. A page whose next link is refused is not
// handed over. An error returned by page stops the listing and is returned
// unchanged.
//
// The query is re-applied on the client to every page (status, dates, types,
// identifier, patient), so that a server that ignores a parameter still gives
// a correct answer, only a larger one. Entries without a uniqueId
// (masterIdentifier) are skipped: Carnet cannot key them.
func (c *Client) ListDocuments(ctx context.Context, acc app.Access, ins app.INS, q app.DocumentQuery, page func([]app.RemoteDocument) error) error {
	const op = "list documents"
	if err := validateAccess(op, acc, &ins); err != nil {
		return err
	}
	if page == nil {
		return fail(op, app.ErrInvalid, "no page callback")
	}
	if q.ID != "" {
		return c.findByID(ctx, acc, ins, q, page)
	}
	return c.listDocs(ctx, op, acc, ins, q, c.mem.patientID(ins), false, page)
}

// listDocs runs one ITI-67 search: by the Patient's service id when known
// (patient=Patient/<id>, what every server indexes), else by the chained
// patient.identifier.
func (c *Client) listDocs(ctx context.Context, op string, acc app.Access, ins app.INS, q app.DocumentQuery, patientID string, anyPatient bool, page func([]app.RemoteDocument) error) error {
	first, f, err := c.searchURLFor(q, ins, patientID, anyPatient)
	if err != nil {
		return fail(op, app.ErrInvalid, err.Error())
	}
	if patientID != "" {
		c.mem.took(PathListByPatientID)
	} else if !anyPatient {
		c.mem.took(PathListByIdentifier)
	}
	return c.follow(ctx, op, acc, ins, first, func(p *searchPage, ids map[string]app.DocumentID) (func() error, error) {
		docs, skipped, err := decodeSearchset(p, f, ids)
		if err != nil {
			return nil, malformed(op, "answer (not the expected FHIR JSON)")
		}
		return func() error {
			if skipped > 0 {
				c.log.Warn("dmp: entries without a usable DocumentReference skipped", "op", op, "count", skipped)
			}
			if len(docs) == 0 {
				return nil
			}
			for i := range docs {
				c.mem.setDoc(docs[i].Meta.ID, docs[i].RemoteID)
			}
			return page(docs)
		}, nil
	})
}

// findByID looks one document up by its uniqueId, for the duplicate check
// before anything is sent again, in an order that needs no search feature
// first: (1) read by the service id remembered from an earlier answer;
// (2) search identifier= with the patient; (3) search identifier= alone,
// the patient filtered here (a uniqueId is global); (4) when the service
// refuses the identifier search, list the patient's documents and filter
// here, and also when both identifier searches found nothing (an empty
// page from a server that does not support them is no proof of absence).
// A step that cannot be answered (network, server fault) stops the lookup
// with its error: nothing may be sent again until one answers.
func (c *Client) findByID(ctx context.Context, acc app.Access, ins app.INS, q app.DocumentQuery, page func([]app.RemoteDocument) error) error {
	const op = "list documents"
	statuses := q.Statuses
	if len(statuses) == 0 {
		statuses = []string{"current"}
	}
	want := map[string]bool{}
	for _, s := range statuses {
		want[s] = true
	}
	if rid := c.mem.docID(q.ID); rid != "" {
		rd, err := c.ReadDocument(ctx, acc, ins, rid)
		switch {
		case err == nil && rd.Meta.ID == q.ID:
			c.mem.took(PathDupReadByID)
			if want[rd.Status] {
				return page([]app.RemoteDocument{rd})
			}
			return nil
		case err == nil, errors.Is(err, app.ErrWithdrawn), errors.Is(err, app.ErrServer), errors.Is(err, app.ErrInvalid):
			// another document now, gone, or no usable read: search
		default:
			return err // no answer (network, throttled, refused)
		}
	}
	found := false
	collect := func(docs []app.RemoteDocument) error {
		found = true
		return page(docs)
	}
	patientID := c.mem.patientID(ins)
	err := c.listDocs(ctx, op, acc, ins, q, patientID, false, collect)
	if err == nil && found {
		c.mem.took(PathDupIdentifier)
		return nil
	}
	if err != nil && !errors.Is(err, app.ErrInvalid) {
		return err
	}
	if err == nil {
		// (3) the identifier alone: a document written with a reference
		// the server did not resolve is not found through the patient
		err = c.listDocs(ctx, op, acc, ins, q, "", true, collect)
		if err == nil && found {
			c.mem.took(PathDupIdentifier)
			return nil
		}
		if err != nil && !errors.Is(err, app.ErrInvalid) {
			return err
		}
	}
	// (4) the service refuses identifier searches, or answers them with
	// nothing (a server that ignores the parameter may as well return an
	// empty page): the patient's listing, filtered here, before anything
	// is sent again
	c.mem.took(PathDupListing)
	qq := app.DocumentQuery{Statuses: q.Statuses, PageSize: q.PageSize}
	return c.listDocs(ctx, op, acc, ins, qq, patientID, false, func(docs []app.RemoteDocument) error {
		var keep []app.RemoteDocument
		for _, d := range docs {
			if d.Meta.ID == q.ID {
				keep = append(keep, d)
			}
		}
		if len(keep) == 0 {
			return nil
		}
		return page(keep)
	})
}

// searchURL builds the first ITI-67 URL and the client-side filter, by the
// chained patient.identifier.
func (c *Client) searchURL(q app.DocumentQuery, ins app.INS) (string, *docFilter, error) {
	return c.searchURLFor(q, ins, "", false)
}

// searchURLFor builds the first ITI-67 URL: by patient=Patient/<id> when
// patientID is given, else by patient.identifier (none at all for a
// uniqueId lookup across patients), and the client-side filter.
func (c *Client) searchURLFor(q app.DocumentQuery, ins app.INS, patientID string, anyPatient bool) (string, *docFilter, error) {
	v := url.Values{}
	switch {
	case patientID != "":
		v.Set("patient", "Patient/"+patientID)
	case q.ID != "" && anyPatient:
	default:
		v.Set("patient.identifier", fhir.INSToken(ins).String())
	}
	f := &docFilter{ins: ins, statuses: map[string]bool{}, actSince: q.ActSince, updatedSince: q.UpdatedSince, id: q.ID, patientID: patientID}
	if patientID == "" {
		f.patientID = c.mem.patientID(ins)
	}
	statuses := q.Statuses
	if len(statuses) == 0 {
		statuses = []string{"current"}
	}
	for _, s := range statuses {
		if s == "" || strings.ContainsAny(s, ",|$\\") {
			return "", nil, errBadQuery("status")
		}
		f.statuses[s] = true
	}
	v.Set("status", strings.Join(statuses, ","))
	if !q.ActSince.IsZero() {
		v.Set("period", "ge"+fhir.FormatInstant(q.ActSince))
	}
	if !q.UpdatedSince.IsZero() {
		v.Set("_lastUpdated", "ge"+fhir.FormatInstant(q.UpdatedSince))
	}
	if len(q.Types) > 0 {
		f.types = map[string]bool{}
		for _, t := range q.Types {
			if t == "" || strings.ContainsAny(t, ",|$\\") {
				return "", nil, errBadQuery("type")
			}
			f.types[t] = true
		}
		v.Set("type", strings.Join(q.Types, ","))
	}
	if q.ID != "" {
		if strings.ContainsAny(string(q.ID), ",|$\\") {
			return "", nil, errBadQuery("identifier")
		}
		v.Set("identifier", fhir.UniqueIDURN(q.ID))
	}
	if q.PageSize < 0 {
		return "", nil, errBadQuery("page size")
	}
	if q.PageSize > 0 {
		v.Set("_count", strconv.Itoa(q.PageSize))
	}
	return c.endpoint("DocumentReference", v), f, nil
}

// errBadQuery names a query field that cannot be sent.
type errBadQuery string

// Error implements error.
func (e errBadQuery) Error() string { return "unusable " + string(e) + " in the query" }

// searchPage is a searchset Bundle as a listing reads it: fhir.Bundle with
// each entry's resource left as raw JSON, which the caller decodes once,
// straight into its own type (a page is not decoded into a generic form
// first and then again into the typed one). Every other field is typed as
// in fhir.Bundle, so that a page malformed there fails as before.
type searchPage struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id,omitempty"`
	Meta         *fhir.Meta        `json:"meta,omitempty"`
	Identifier   *fhir.Identifier  `json:"identifier,omitempty"`
	Type         string            `json:"type"`
	Timestamp    string            `json:"timestamp,omitempty"`
	Total        *int              `json:"total,omitempty"`
	Link         []fhir.BundleLink `json:"link,omitempty"`
	Entry        []searchEntry     `json:"entry,omitempty"`
}

// searchEntry is fhir.BundleEntry with the resource raw.
type searchEntry struct {
	Link     []fhir.BundleLink   `json:"link,omitempty"`
	FullURL  string              `json:"fullUrl,omitempty"`
	Resource json.RawMessage     `json:"resource,omitempty"`
	Search   *fhir.EntrySearch   `json:"search,omitempty"`
	Request  *fhir.EntryRequest  `json:"request,omitempty"`
	Response *fhir.EntryResponse `json:"response,omitempty"`
}

// resource returns the entry's raw resource, nil when absent or null.
func (e *searchEntry) resource() json.RawMessage {
	if len(e.Resource) == 0 || string(e.Resource) == "null" {
		return nil
	}
	return e.Resource
}

// header decodes the entry's resource header as fhir.RawResource does
// (a resource without a resourceType, or with a resourceType or id that is
// not a string, makes the whole page malformed). ok is false without a
// resource.
func (e *searchEntry) header() (h fhir.RawResource, ok bool, err error) {
	raw := e.resource()
	if raw == nil {
		return h, false, nil
	}
	if err := h.UnmarshalJSON(raw); err != nil {
		return h, false, err
	}
	return h, true, nil
}

// linkURL returns the URL of the link with relation rel, "" when absent.
func (p *searchPage) linkURL(rel string) string {
	for _, l := range p.Link {
		if l.Relation == rel {
			return l.URL
		}
	}
	return ""
}

// follow reads a searchset from first and every next link after it. Each
// page is decoded (decode), then its next link is checked, then the page
// is handed over (the function decode returned): a page that does not
// decode, or whose next link goes to another origin or was already followed
// (a loop), or that repeats a page already read under another link, fails
// the listing with ErrServer and is not handed over. ids maps the resource
// ids seen so far to uniqueIds (for replacement references).
//
// A server that pages without next links but says how many entries match
// (Bundle.total larger than what it gave) is paged with _offset; a page
// that brings nothing new while the total says more fails the listing
// (ErrServer): an incomplete listing is never handed over as complete. A
// bundle without total is complete when it has no next link.
func (c *Client) follow(ctx context.Context, op string, acc app.Access, ins app.INS, first string, decode func(*searchPage, map[string]app.DocumentID) (func() error, error)) error {
	seen := map[string]bool{first: true}
	pagesSeen := map[uint64]bool{}
	ids := map[string]app.DocumentID{}
	next := first
	got := 0
	for pages := 0; next != ""; pages++ {
		if pages >= c.maxPages {
			return fail(op, app.ErrServer, "too many pages")
		}
		var b searchPage
		if _, err := c.getJSON(ctx, &call{op: op, method: http.MethodGet, url: next, acc: acc, ins: ins}, &b); err != nil {
			return err
		}
		if b.ResourceType != "Bundle" || b.Type != "searchset" {
			return malformed(op, "answer (not a searchset Bundle)")
		}
		matches := 0
		h := fnv.New64a()
		for i := range b.Entry {
			e := &b.Entry[i]
			if e.Search == nil || e.Search.Mode == "" || e.Search.Mode == "match" {
				matches++
			}
			_, _ = h.Write(e.Resource)
			_, _ = h.Write([]byte{0})
		}
		if matches > 0 {
			sig := h.Sum64()
			if pagesSeen[sig] {
				return fail(op, app.ErrServer, "paging loop (the same page again)")
			}
			pagesSeen[sig] = true
		}
		got += matches
		deliver, err := decode(&b, ids)
		if err != nil {
			return err
		}
		next = ""
		if raw := b.linkURL("next"); raw != "" {
			u, err := c.resolve(raw)
			if err != nil {
				return fail(op, app.ErrServer, "next link refused: "+err.Error())
			}
			n := raw
			if !isAbsolute(raw) {
				n = u.String()
			}
			if seen[n] {
				return fail(op, app.ErrServer, "paging loop")
			}
			seen[n] = true
			next = n
			c.mem.took(PathPagingNext)
		} else if b.Total != nil && got < *b.Total {
			if matches == 0 {
				return fail(op, app.ErrServer, "incomplete listing (the total says more than the service gave)")
			}
			n, err := withOffset(first, got)
			if err != nil || seen[n] {
				return fail(op, app.ErrServer, "incomplete listing (no way to the next page)")
			}
			seen[n] = true
			next = n
			c.mem.took(PathPagingOffset)
		}
		if err := deliver(); err != nil {
			return err
		}
	}
	return nil
}

// withOffset returns first with _offset=n (the paging parameter of servers
// that give no next link).
func withOffset(first string, n int) (string, error) {
	u, err := url.Parse(first)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("_offset", strconv.Itoa(n))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// isAbsolute reports whether s is an absolute URL.
func isAbsolute(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs()
}
