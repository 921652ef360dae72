package dmp

import (
	"context"
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
	first, f, err := c.searchURL(q, ins)
	if err != nil {
		return fail(op, app.ErrInvalid, err.Error())
	}
	return c.follow(ctx, op, acc, ins, first, func(b *fhir.Bundle, ids map[string]app.DocumentID) error {
		docs, skipped := decodeSearchset(b, f, ids)
		if skipped > 0 {
			c.log.Warn("dmp: entries without a usable DocumentReference skipped", "op", op, "count", skipped)
		}
		if len(docs) == 0 {
			return nil
		}
		return page(docs)
	})
}

// searchURL builds the first ITI-67 URL and the client-side filter.
func (c *Client) searchURL(q app.DocumentQuery, ins app.INS) (string, *docFilter, error) {
	v := url.Values{}
	v.Set("patient.identifier", fhir.INSToken(ins).String())
	f := &docFilter{ins: ins, statuses: map[string]bool{}, actSince: q.ActSince, updatedSince: q.UpdatedSince, id: q.ID}
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

// follow reads a searchset from first and every next link after it, calling
// handle with each page. The next link is checked before the page is
// handed over: a link to another origin, or one already followed (a loop),
// fails the listing with ErrServer. ids maps the resource ids seen so far
// to uniqueIds (for replacement references).
func (c *Client) follow(ctx context.Context, op string, acc app.Access, ins app.INS, first string, handle func(*fhir.Bundle, map[string]app.DocumentID) error) error {
	seen := map[string]bool{first: true}
	ids := map[string]app.DocumentID{}
	next := first
	for pages := 0; next != ""; pages++ {
		if pages >= c.maxPages {
			return fail(op, app.ErrServer, "too many pages")
		}
		var b fhir.Bundle
		if _, err := c.getJSON(ctx, &call{op: op, method: http.MethodGet, url: next, acc: acc, ins: ins}, &b); err != nil {
			return err
		}
		if b.ResourceType != "Bundle" || b.Type != "searchset" {
			return malformed(op, "answer (not a searchset Bundle)")
		}
		next = ""
		if raw := b.LinkURL("next"); raw != "" {
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
		}
		if err := handle(&b, ids); err != nil {
			return err
		}
	}
	return nil
}

// isAbsolute reports whether s is an absolute URL.
func isAbsolute(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs()
}
