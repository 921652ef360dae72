package xds

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// The service suffixes of the DMP (reference §1). Open question §14.1:
// whether they stay the same across versions.
const (
	ServiceRegistry      = "/registry"
	ServiceRepository    = "/repository"
	ServicePatients      = "/patients"
	ServiceHabilitations = "/habilitations"
)

// Limits of what the client reads.
const (
	maxEnvelope        = 32 << 20 // a registry response of thousands of entries
	DefaultMaxDocument = 64 << 20
)

// Config configures a Client.
type Config struct {
	BaseURL     string       // e.g. https://lps.dev9.dmp.gouv.fr/si-dmp-server/v2/services
	HTTP        *http.Client // with the mutual TLS configuration (card or organisation certificate)
	Signer      *VIHFSigner  // the VIHF signing key (card, or organisation seal)
	AuthMode    AuthMode
	Sector      string // Secteur_Activite / healthcareFacilityTypeCode
	Software    Software
	SourceOID   string // the LPS OID (submission sets)
	MaxDocument int64  // largest document retrieved; DefaultMaxDocument when 0
	Now         func() time.Time
}

// Client is the XDS.b/SOAP adapter of app.RecordService.
type Client struct {
	cfg  Config
	vihf *VIHFCache
}

var _ app.RecordService = (*Client)(nil)

// New returns a client; nothing is sent before the first call.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" || cfg.HTTP == nil {
		return nil, fmt.Errorf("xds: no service URL or HTTP client: %w", app.ErrNotConfigured)
	}
	if cfg.Signer == nil {
		return nil, fmt.Errorf("xds: no VIHF signing credential: %w", app.ErrNotConfigured)
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.MaxDocument == 0 {
		cfg.MaxDocument = DefaultMaxDocument
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AuthMode == "" {
		cfg.AuthMode = AuthIndirect
	}
	return &Client{cfg: cfg, vihf: &VIHFCache{Signer: cfg.Signer}}, nil
}

// Signatures returns how many VIHF signatures the client made.
func (c *Client) Signatures() int64 { return c.cfg.Signer.Signatures() }

// request is one SOAP exchange.
type request struct {
	service string
	action  string
	acc     app.Access
	ins     *app.INS
	body    func(b *bytes.Buffer) ([]Attachment, error)
}

// send posts r and returns the HTTP response (body open) with the request's
// MessageID. A VIHF refused as expired is signed again once.
func (c *Client) send(ctx context.Context, r request) (*http.Response, string, error) {
	vr := VIHFRequest{Access: r.acc, INS: r.ins, Mode: c.cfg.AuthMode, Sector: c.cfg.Sector, Software: c.cfg.Software}
	for attempt := 0; ; attempt++ {
		vr.Now = c.cfg.Now()
		assertion, err := c.vihf.Get(vr)
		if err != nil {
			return nil, "", err
		}
		resp, id, err := c.post(ctx, r, assertion)
		if err != nil {
			return nil, "", err
		}
		if resp.StatusCode == http.StatusOK {
			return resp, id, nil
		}
		ferr := c.statusError(resp)
		resp.Body.Close()
		var f *Fault
		if attempt == 0 && errors.As(ferr, &f) && f.Expired() {
			c.vihf.Forget(vr)
			continue
		}
		return nil, "", ferr
	}
}

// post writes the envelope (MTOM when there are attachments, streamed
// through a pipe) and posts it.
func (c *Client) post(ctx context.Context, r request, assertion []byte) (*http.Response, string, error) {
	id := NewMessageID()
	var atts []Attachment
	var berr error
	var env bytes.Buffer // writeEnvelope sizes it once: the VIHF is most of it
	h := Header{MessageID: id, To: c.cfg.BaseURL + r.service, Action: r.action, Security: assertion}
	if err := writeEnvelope(&env, h, func(b *bytes.Buffer) { atts, berr = r.body(b) }); err != nil {
		return nil, "", err
	}
	if berr != nil {
		return nil, "", berr
	}
	var body io.Reader
	var ctype string
	var pipe *io.PipeReader
	if len(atts) == 0 {
		body = bytes.NewReader(env.Bytes())
		ctype = `application/soap+xml; charset=UTF-8; action="` + r.action + `"`
	} else {
		pr, pw := io.Pipe()
		boundary := NewBoundary()
		go func() { pw.CloseWithError(WriteMTOM(pw, boundary, r.action, env.Bytes(), atts)) }()
		body, pipe = pr, pr
		ctype = MTOMContentType(boundary, r.action)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+r.service, body)
	if err != nil {
		return nil, "", fmt.Errorf("xds: %s: %v: %w", r.action, err, app.ErrNotConfigured)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/soap+xml, multipart/related")
	resp, err := c.cfg.HTTP.Do(req)
	if pipe != nil {
		// However the exchange ends, the MTOM writer goroutine ends with it.
		if err != nil {
			pipe.CloseWithError(err)
		} else {
			resp.Body = &closeBoth{ReadCloser: resp.Body, also: func() { pipe.CloseWithError(io.ErrClosedPipe) }}
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, "", fmt.Errorf("xds: %s: %v: %w", localStatus(r.action), err, app.ErrOffline)
	}
	return resp, id, nil
}

// statusError classifies a non-200 answer: a SOAP fault (HTTP 500 with a
// SOAP body), throttling, or a server fault.
func (c *Client) statusError(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		we := &app.WaitError{Kind: app.ErrThrottled}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			we.Wait = time.Duration(s) * time.Second
		}
		return fmt.Errorf("xds: HTTP %d: %w", resp.StatusCode, we)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/soap+xml" || mt == "multipart/related" || mt == "text/xml" {
		msg, err := ReadMessage(resp.Body, resp.Header.Get("Content-Type"), 1<<20, 1<<20)
		var f *Fault
		if errors.As(err, &f) {
			f.Status = resp.StatusCode
			return fmt.Errorf("xds: HTTP %d: %w", resp.StatusCode, f)
		}
		if err == nil && msg != nil {
			return fmt.Errorf("xds: HTTP %d with a SOAP body that is not a fault: %w", resp.StatusCode, app.ErrServer)
		}
	}
	if resp.StatusCode >= 500 {
		return fmt.Errorf("xds: HTTP %d: %w", resp.StatusCode, app.ErrServer)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("xds: HTTP %d: %w", resp.StatusCode, &app.AccessError{Reason: app.DeniedOther})
	}
	return fmt.Errorf("xds: HTTP %d: %w", resp.StatusCode, app.ErrServer)
}

// exchange sends r and reads the response envelope (no attachments).
func (c *Client) exchange(ctx context.Context, r request, wantAction string) (*Envelope, error) {
	resp, id, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	msg, err := ReadMessage(resp.Body, resp.Header.Get("Content-Type"), maxEnvelope, 1<<20)
	if err != nil {
		var f *Fault
		if errors.As(err, &f) {
			return nil, fmt.Errorf("xds: %s: %w", localStatus(r.action), f)
		}
		return nil, err
	}
	if msg.Envelope.RelatesTo != id {
		return nil, fmt.Errorf("xds: %s: response relates to another request: %w", localStatus(r.action), app.ErrServer)
	}
	if wantAction != "" && msg.Envelope.Action != "" && msg.Envelope.Action != wantAction {
		return nil, fmt.Errorf("xds: %s: unexpected response action: %w", localStatus(r.action), app.ErrServer)
	}
	return msg.Envelope, nil
}

// query runs an ITI-18 stored query.
func (c *Client) query(ctx context.Context, acc app.Access, ins app.INS, q Query) (*QueryResult, error) {
	env, err := c.exchange(ctx, request{service: ServiceRegistry, action: ActionRegistryStoredQuery, acc: acc, ins: &ins,
		body: func(b *bytes.Buffer) ([]Attachment, error) { writeQuery(b, q); return nil, nil }}, ActionRegistryStoredQueryResponse)
	if err != nil {
		return nil, err
	}
	res, err := ReadQueryResponse(env.Body)
	if err != nil {
		return nil, err
	}
	for _, e := range res.Entries {
		if !patientIDMatches(e.PatientID, ins) {
			return nil, fmt.Errorf("xds: query: an entry of another patient: %w", app.ErrIntegrity)
		}
	}
	return res, nil
}

// ListDocuments implements app.RecordService (TD3.1: ITI-18 FindDocuments,
// or GetDocuments for a single uniqueId; with UpdatedSince, the EEDS delta
// pattern of delta.go). The registry does not page: the whole answer is
// one page.
func (c *Client) ListDocuments(ctx context.Context, acc app.Access, ins app.INS, q app.DocumentQuery, page func([]app.RemoteDocument) error) error {
	var statuses []string
	for _, s := range q.Statuses {
		switch s {
		case "current":
			statuses = append(statuses, StatusApproved, StatusArchived)
		case "superseded":
			statuses = append(statuses, StatusDeprecated)
		}
	}
	if q.ID == "" && !q.UpdatedSince.IsZero() {
		if len(statuses) == 0 {
			statuses = []string{StatusApproved, StatusArchived}
		}
		want := map[string]bool{}
		for _, s := range statuses {
			want[s] = true
		}
		docs, err := c.listDelta(ctx, acc, ins, q.UpdatedSince, q.ActSince, q.Types, want)
		if err != nil {
			return fmt.Errorf("xds: list changes: %w", err)
		}
		return page(docs)
	}
	qs := []Query{GetDocumentsQuery(string(q.ID))}
	if q.ID == "" {
		qs = FindDocumentsQueries(ins, statuses, q.ActSince, q.Types)
	}
	res, err := c.queryAll(ctx, acc, ins, qs)
	if err != nil {
		return fmt.Errorf("xds: list: %w", err)
	}
	return page(toRemote(res))
}

// queryAll sends the queries together (one round trip on the critical
// path) and joins their answers, each entry and association once. Any
// failure fails the whole: a partial listing must not look complete.
func (c *Client) queryAll(ctx context.Context, acc app.Access, ins app.INS, qs []Query) (*QueryResult, error) {
	if len(qs) == 1 {
		return c.query(ctx, acc, ins, qs[0])
	}
	results := make([]*QueryResult, len(qs))
	errs := make([]error, len(qs))
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.query(ctx, acc, ins, q)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := &QueryResult{}
	entries, assocs, refs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, r := range results {
		for _, e := range r.Entries {
			if !entries[e.EntryUUID] {
				entries[e.EntryUUID] = true
				out.Entries = append(out.Entries, e)
			}
		}
		for _, a := range r.Associations {
			if k := a.ID + "\x00" + a.Type + "\x00" + a.Source + "\x00" + a.Target; !assocs[k] {
				assocs[k] = true
				out.Associations = append(out.Associations, a)
			}
		}
		for _, o := range r.ObjectRefs {
			if !refs[o] {
				refs[o] = true
				out.ObjectRefs = append(out.ObjectRefs, o)
			}
		}
	}
	return out, nil
}

// toRemote maps the entries, resolving RPLC associations to uniqueIds.
func toRemote(res *QueryResult) []app.RemoteDocument {
	uid := map[string]string{}
	for _, e := range res.Entries {
		uid[e.EntryUUID] = e.UniqueID
	}
	repl := map[string]string{}
	for _, a := range res.Associations {
		if a.Type == AssocRPLC {
			repl[a.Source] = uid[a.Target]
		}
	}
	out := make([]app.RemoteDocument, 0, len(res.Entries))
	for _, e := range res.Entries {
		out = append(out, e.RemoteDocument(app.DocumentID(repl[e.EntryUUID])))
	}
	return out
}

// Retrieve implements app.RecordService (TD3.2: ITI-43, MTOM streamed).
func (c *Client) Retrieve(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument) ([]byte, error) {
	repo := doc.URL
	if repo == "" {
		repo = doc.Meta.URL
	}
	if repo == "" || doc.Meta.ID == "" {
		return nil, fmt.Errorf("xds: retrieve: no repository or document id: %w", app.ErrInvalid)
	}
	resp, id, err := c.send(ctx, request{service: ServiceRepository, action: ActionRetrieve, acc: acc, ins: &ins,
		body: func(b *bytes.Buffer) ([]Attachment, error) {
			writeRetrieve(b, repo, string(doc.Meta.ID))
			return nil, nil
		}})
	if err != nil {
		return nil, fmt.Errorf("xds: retrieve: %w", err)
	}
	defer resp.Body.Close()
	want := Expect{DocumentID: string(doc.Meta.ID), Size: -1, Hash: doc.Meta.Hash, MaxSize: c.cfg.MaxDocument}
	if doc.Meta.Size > 0 {
		want.Size = doc.Meta.Size
	}
	// Read the body in large chunks: the MTOM reader asks for 4 KB at a
	// time, and each small read of an HTTP/2 body may send a flow-control
	// update (a frame, a syscall); one 32 KB buffer, reused, sends a few.
	br := bodyReaders.Get().(*bufio.Reader)
	br.Reset(resp.Body)
	data, err := ReadRetrieve(br, resp.Header.Get("Content-Type"), id, want, maxEnvelope)
	br.Reset(nil)
	bodyReaders.Put(br)
	if err != nil {
		return nil, fmt.Errorf("xds: retrieve: %w", err)
	}
	return data, nil
}

// bodyReaders are the 32 KB read buffers of ITI-43 response bodies.
var bodyReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

// Provide implements app.RecordService (TD2/TD2.1: ITI-41). It is
// idempotent on the documents' uniqueIds: documents the registry already
// holds (a response lost before) are not sent again.
func (c *Client) Provide(ctx context.Context, acc app.Access, ins app.INS, docs []app.NewDocument) (app.Provided, error) {
	if len(docs) == 0 {
		return app.Provided{}, nil
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = string(d.Meta.ID)
	}
	have, err := c.query(ctx, acc, ins, GetDocumentsQuery(ids...))
	if err != nil {
		return app.Provided{}, fmt.Errorf("xds: provide: looking up the uniqueIds: %w", err)
	}
	present := map[string]bool{}
	for _, e := range have.Entries {
		present[e.UniqueID] = true
	}
	sub := Submission{INS: ins, Author: acc.Practitioner, SourceOID: c.cfg.SourceOID, Sector: c.cfg.Sector, Time: c.cfg.Now(),
		ReplacesUUID: map[int]string{}, Signer: c.cfg.Signer}
	for _, d := range docs {
		if present[string(d.Meta.ID)] {
			continue
		}
		if d.Replaces != nil {
			sub.ReplacesUUID[len(sub.Documents)] = d.Replaces.RemoteID
		}
		sub.Documents = append(sub.Documents, d)
	}
	if len(sub.Documents) > 0 {
		env, err := c.exchange(ctx, request{service: ServiceRepository, action: ActionProvideAndRegister, acc: acc, ins: &ins,
			body: func(b *bytes.Buffer) ([]Attachment, error) { return writeProvide(b, sub) }}, ActionProvideAndRegisterResponse)
		if err != nil {
			return app.Provided{}, fmt.Errorf("xds: provide: %w", err)
		}
		if !env.Body.is(NSRs, "RegistryResponse") {
			return app.Provided{}, fmt.Errorf("xds: provide: unexpected answer: %w", app.ErrServer)
		}
		if err := readRegistryResponse(env.Body); err != nil {
			return app.Provided{}, fmt.Errorf("xds: provide: %w", err)
		}
	}
	got, err := c.query(ctx, acc, ins, GetDocumentsQuery(ids...))
	if err != nil {
		return app.Provided{}, fmt.Errorf("xds: provide: reading the new entries: %w", err)
	}
	return app.Provided{Documents: toRemote(got)}, nil
}

// statusOf returns the registry status of doc.
func statusOf(doc app.RemoteDocument) string {
	switch {
	case doc.Archived:
		return StatusArchived
	case doc.Status == "superseded":
		return StatusDeprecated
	default:
		return StatusApproved
	}
}

// updateStatus runs an ITI-57 availability status change.
func (c *Client) updateStatus(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument, to string) error {
	ch := StatusChange{INS: ins, Author: acc.Practitioner, SourceOID: c.cfg.SourceOID, EntryUUID: doc.RemoteID, From: statusOf(doc), To: to}
	env, err := c.exchange(ctx, request{service: ServiceRegistry, action: ActionUpdateDocumentSet, acc: acc, ins: &ins,
		body: func(b *bytes.Buffer) ([]Attachment, error) { return nil, writeStatusUpdate(b, ch) }}, ActionUpdateDocumentSetResponse)
	if err != nil {
		return err
	}
	return readRegistryResponse(env.Body)
}

// UpdateMetadata implements app.RecordService: archive and unarchive
// (TD3.3d, ITI-57 UpdateAvailabilityStatus) and visibility (TD3.3a/b, ITI-57
// Update DocumentEntry Metadata with the new confidentiality codes).
func (c *Client) UpdateMetadata(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument, ch app.MetadataChange) (app.RemoteDocument, error) {
	if ch.Visibility != nil {
		if err := c.updateVisibility(ctx, acc, ins, doc, *ch.Visibility); err != nil {
			return app.RemoteDocument{}, fmt.Errorf("xds: visibility: %w", err)
		}
	}
	if ch.Archived != nil {
		cur, err := c.current(ctx, acc, ins, doc.Meta.ID)
		if err != nil {
			return app.RemoteDocument{}, fmt.Errorf("xds: archive: %w", err)
		}
		if cur.Archived != *ch.Archived { // the registry's state decides, not the caller's copy
			to := StatusApproved
			if *ch.Archived {
				to = StatusArchived
			}
			if err := c.updateStatus(ctx, acc, ins, cur, to); err != nil {
				return app.RemoteDocument{}, fmt.Errorf("xds: archive: %w", err)
			}
		}
	}
	out, err := c.current(ctx, acc, ins, doc.Meta.ID)
	if err != nil {
		return app.RemoteDocument{}, fmt.Errorf("xds: update: reading back: %w", err)
	}
	return out, nil
}

// current returns the registry's current entry of a document.
func (c *Client) current(ctx context.Context, acc app.Access, ins app.INS, id app.DocumentID) (app.RemoteDocument, error) {
	res, err := c.query(ctx, acc, ins, GetDocumentsQuery(string(id)))
	if err != nil {
		return app.RemoteDocument{}, err
	}
	docs := toRemote(res)
	for _, d := range docs {
		if d.Status == "current" {
			return d, nil
		}
	}
	return app.RemoteDocument{}, fmt.Errorf("xds: document not in the registry: %w", app.ErrWithdrawn)
}

// Delete implements app.RecordService (TD3.3c: ITI-57 → Deleted).
func (c *Client) Delete(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument) error {
	if err := c.updateStatus(ctx, acc, ins, doc, StatusDeleted); err != nil {
		return fmt.Errorf("xds: delete: %w", err)
	}
	return nil
}

// ErrNoAccessTraces: the DMP's access-trace consultation has no known
// transaction for practice software (reference §14.8).
var ErrNoAccessTraces = fmt.Errorf("xds: access traces are not offered by the DMP's LPS interface: %w", app.ErrInvalid)

// AccessTraces implements app.RecordService. No public source describes an
// LPS transaction for the DMP's access traces (reference §14.8); the local
// audit log remains the source of truth.
func (c *Client) AccessTraces(ctx context.Context, acc app.Access, ins app.INS, since time.Time) ([]app.AccessTrace, error) {
	return nil, ErrNoAccessTraces
}

// closeBoth closes a response body and releases the request's pipe.
type closeBoth struct {
	io.ReadCloser
	also func()
}

func (c *closeBoth) Close() error {
	err := c.ReadCloser.Close()
	c.also()
	return err
}
