package xds

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// recorder keeps every SOAP message exchanged, for the schema checks.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	msgs []recorded
}

type recorded struct {
	what        string
	contentType string
	body        []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	r.add("request "+req.URL.Path, req.Header.Get("Content-Type"), body)
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	r.add("response "+req.URL.Path, resp.Header.Get("Content-Type"), rb)
	return resp, nil
}

func (r *recorder) add(what, ct string, b []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, recorded{what, ct, b})
	r.mu.Unlock()
}

var anyInclude = regexp.MustCompile(`<([A-Za-z0-9]+:)?Include [^>]*href="cid:([^"]+)"[^>]*/>`)

// infoset returns the SOAP envelope of a message with its MTOM parts put
// back inline (read with the standard library's multipart reader).
func infoset(t *testing.T, m recorded) []byte {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.contentType)
	if err != nil {
		t.Fatalf("%s: content type %q", m.what, m.contentType)
	}
	if mt != "multipart/related" {
		return m.body
	}
	mr := multipart.NewReader(bytes.NewReader(m.body), params["boundary"])
	var root []byte
	parts := map[string][]byte{}
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", m.what, err)
		}
		b, _ := io.ReadAll(p)
		if i == 0 {
			root = b
		} else {
			parts[strings.Trim(p.Header.Get("Content-Id"), "<>")] = b
		}
	}
	return anyInclude.ReplaceAllFunc(root, func(x []byte) []byte {
		cid := string(anyInclude.FindSubmatch(x)[2])
		return []byte(base64.StdEncoding.EncodeToString(parts[cid]))
	})
}

// hasSchema reports whether the official XSD set covers the body (the
// TD0.2 HL7 v3 and habilitations bodies have no public schema).
func hasSchema(b []byte) bool {
	return !bytes.Contains(b, []byte("urn:hl7-org:v3\" ITSVersion")) && !bytes.Contains(b, []byte(`<PRPA_IN2013`)) &&
		!bytes.Contains(b, []byte(`urn:si-dmp-habilitations"><`)) && !bytes.Contains(b, []byte(`<setAuthorization`))
}

type env struct {
	key    string
	sb     *dmptest.BothSandbox
	rec    *recorder
	client *Client
	acc    app.Access
}

func newEnv(t *testing.T, key string) *env {
	t.Helper()
	sb := dmptest.NewTLSBoth(t, dmptest.Options{Seed: 7, Patients: 40})
	cred := sb.PKI.Credentials[key]
	rec := &recorder{next: sb.Client(key).Transport}
	c, err := New(Config{BaseURL: sb.XDSURL, HTTP: &http.Client{Transport: rec}, Signer: &VIHFSigner{Signer: cred.Signer, Cert: cred.Leaf},
		AuthMode: AuthIndirect, Sector: "SA07", SourceOID: "1.2.250.1.999.1.1",
		Software: Software{Name: "Carnet", Version: "0.9", Homologation: "CAR-2026-tmp1"}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{key: key, sb: sb, rec: rec, client: c, acc: app.Access{Practitioner: cred.Practitioner.Practitioner, Mode: app.AccessNormal}}
}

// patient returns a sandbox patient with a record that pred accepts.
func (e *env) patient(t *testing.T, pred func(exists, closed, authorised, blocked bool) bool) app.Patient {
	t.Helper()
	key := e.key
	p, ok := e.sb.FindPatient(func(p app.Patient, exists, closed bool, authz map[string]bool, blocked map[string]bool) bool {
		return p.Status == app.IdentityQualified && pred(exists, closed, authz[key], blocked[key])
	})
	if !ok {
		t.Fatal("no such sandbox patient")
	}
	return p
}

// checkSchemas validates every message recorded (schema where one exists).
func (e *env) checkSchemas(t *testing.T) {
	t.Helper()
	e.rec.mu.Lock()
	msgs := append([]recorded(nil), e.rec.msgs...)
	e.rec.mu.Unlock()
	n := 0
	for _, m := range msgs {
		b := infoset(t, m)
		if !hasSchema(b) {
			continue
		}
		validate(t, m.what, bytes.ReplaceAll(b, []byte(` xsi:type="CE"`), nil))
		n++
	}
	if n == 0 {
		t.Fatal("no message validated")
	}
	t.Logf("%d messages validated against the official schemas", n)
}

// The end-to-end flow over XDS.b against the sandbox: find, authorise, list,
// retrieve, provide (idempotent), replace, mask, archive, delete; bris de
// glace; refusals. Every message passes the official schemas.
func TestSandboxEndToEnd(t *testing.T) {
	needRef(t)
	e := newEnv(t, dmptest.KeyGP)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := e.patient(t, func(exists, closed, authorised, blocked bool) bool {
		return exists && !closed && authorised && !blocked
	})

	st, err := e.client.FindPatient(ctx, e.acc, p.INS)
	if err != nil || !st.Exists || st.Authorization != app.AuthorizationGranted {
		t.Fatalf("find: %+v %v", st, err)
	}
	var docs []app.RemoteDocument
	if err := e.client.ListDocuments(ctx, e.acc, p.INS, app.DocumentQuery{}, func(page []app.RemoteDocument) error {
		docs = append(docs, page...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no documents")
	}
	got, err := e.client.Retrieve(ctx, e.acc, p.INS, docs[0])
	if err != nil || int64(len(got)) != docs[0].Meta.Size || sha1hex(got) != docs[0].Meta.Hash {
		t.Fatalf("retrieve: %d bytes, %v", len(got), err)
	}

	// Provide, twice (a lost response): one document in the registry.
	nd := app.NewDocument{Meta: app.DocumentMeta{ID: "1.2.250.1.999.1.1.77", TypeCode: "11506-3", Title: "Note de consultation",
		Date: time.Now().Add(-time.Hour), MediaType: "text/xml"}, Content: []byte("<ClinicalDocument>note</ClinicalDocument>")}
	pr, err := e.client.Provide(ctx, e.acc, p.INS, []app.NewDocument{nd})
	if err != nil || len(pr.Documents) != 1 || pr.Documents[0].Meta.ID != nd.Meta.ID {
		t.Fatalf("provide: %+v %v", pr, err)
	}
	if _, err := e.client.Provide(ctx, e.acc, p.INS, []app.NewDocument{nd}); err != nil {
		t.Fatalf("provide again: %v", err)
	}
	count := func(id app.DocumentID) (n int, last app.RemoteDocument) {
		_ = e.client.ListDocuments(ctx, e.acc, p.INS, app.DocumentQuery{ID: id}, func(page []app.RemoteDocument) error {
			for _, d := range page {
				if d.Meta.ID == id && d.Status == "current" {
					n++
					last = d
				}
			}
			return nil
		})
		return
	}
	if n, _ := count(nd.Meta.ID); n != 1 {
		t.Fatalf("%d copies after two provides", n)
	}
	// Replace it.
	old := pr.Documents[0]
	repl := nd
	repl.Meta.ID = "1.2.250.1.999.1.1.78"
	repl.Content = []byte("<ClinicalDocument>note v2</ClinicalDocument>")
	repl.Replaces = &old
	if _, err := e.client.Provide(ctx, e.acc, p.INS, []app.NewDocument{repl}); err != nil {
		t.Fatalf("replace: %v", err)
	}
	var sup []app.RemoteDocument
	_ = e.client.ListDocuments(ctx, e.acc, p.INS, app.DocumentQuery{Statuses: []string{"superseded"}}, func(page []app.RemoteDocument) error {
		sup = append(sup, page...)
		return nil
	})
	found := false
	for _, d := range sup {
		found = found || d.Meta.ID == nd.Meta.ID
	}
	if !found {
		t.Fatal("the replaced document is not superseded")
	}
	_, cur := count(repl.Meta.ID)
	// Mask, then archive, then unarchive.
	masked, err := e.client.UpdateMetadata(ctx, e.acc, p.INS, cur, app.MetadataChange{Visibility: &app.Visibility{MaskedToProfessionals: true}})
	if err != nil || !masked.Visibility.MaskedToProfessionals || masked.RemoteID == cur.RemoteID {
		t.Fatalf("mask: %+v %v", masked, err)
	}
	// The stale version is refused (entryUUID changed).
	if _, err := e.client.UpdateMetadata(ctx, e.acc, p.INS, cur, app.MetadataChange{Visibility: &app.Visibility{HiddenFromLegalReps: true}}); !errors.Is(err, app.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	yes, no := true, false
	arch, err := e.client.UpdateMetadata(ctx, e.acc, p.INS, masked, app.MetadataChange{Archived: &yes})
	if err != nil || !arch.Archived {
		t.Fatalf("archive: %+v %v", arch, err)
	}
	unarch, err := e.client.UpdateMetadata(ctx, e.acc, p.INS, arch, app.MetadataChange{Archived: &no})
	if err != nil || unarch.Archived {
		t.Fatalf("unarchive: %+v %v", unarch, err)
	}
	if err := e.client.Delete(ctx, e.acc, p.INS, unarch); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if n, _ := count(repl.Meta.ID); n != 0 {
		t.Fatal("deleted document still listed")
	}
	if _, err := e.client.AccessTraces(ctx, e.acc, p.INS, time.Time{}); !errors.Is(err, ErrNoAccessTraces) {
		t.Fatalf("traces: %v", err)
	}
	// One VIHF per patient context for the whole flow.
	if n := e.client.Signatures(); n != 1 {
		t.Fatalf("%d VIHF signatures for one patient context", n)
	}
	if n := e.client.cfg.Signer.SubmissionSignatures(); n != 2 {
		t.Fatalf("%d submission sets signed for two sent", n)
	}
	e.checkSchemas(t)
}

// Refusals come back classified, with their reason.
func TestSandboxRefusals(t *testing.T) {
	e := newEnv(t, dmptest.KeyGP)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := e.patient(t, func(exists, closed, authorised, blocked bool) bool {
		return exists && !closed && !authorised && !blocked
	})
	list := func(acc app.Access) error {
		return e.client.ListDocuments(ctx, acc, p.INS, app.DocumentQuery{}, func([]app.RemoteDocument) error { return nil })
	}
	if err := list(e.acc); app.Denial(err) != app.DeniedNoAuthorization {
		t.Fatalf("not authorised: %v", err)
	}
	bdg := e.acc
	bdg.Mode, bdg.Justification = app.AccessEmergency, "Patient inconscient admis aux urgences"
	if err := list(bdg); err != nil {
		t.Fatalf("bris de glace: %v", err)
	}
	// Consent, then normal access works.
	if err := e.client.GrantAuthorization(ctx, e.acc, p.INS); err != nil {
		t.Fatal(err)
	}
	if err := list(e.acc); err != nil {
		t.Fatalf("after consent: %v", err)
	}
	none := e.patient(t, func(exists, closed, authorised, blocked bool) bool { return !exists })
	st, err := e.client.FindPatient(ctx, e.acc, none.INS)
	if err != nil || st.Exists {
		t.Fatalf("no record: %+v %v", st, err)
	}
	e.checkSchemas(t)
}

// A VIHF refused as expired is signed again once; a forged one is refused.
func TestSandboxVIHFExpiry(t *testing.T) {
	e := newEnv(t, dmptest.KeyGP)
	ctx := context.Background()
	p := e.patient(t, func(exists, closed, authorised, blocked bool) bool {
		return exists && !closed && authorised && !blocked
	})
	// The client's clock is an hour late: its first VIHF is expired for the
	// sandbox, which refuses it; the client signs again (still late) and
	// reports the refusal after that one retry.
	e.client.cfg.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	err := e.client.ListDocuments(ctx, e.acc, p.INS, app.DocumentQuery{}, func([]app.RemoteDocument) error { return nil })
	var f *Fault
	if !errors.As(err, &f) || !f.Expired() || !errors.Is(err, app.ErrAccessDenied) {
		t.Fatalf("got %v", err)
	}
	if n := e.client.Signatures(); n != 2 {
		t.Fatalf("%d signatures: want one retry", n)
	}
	e.client.cfg.Now = time.Now
	if err := e.client.ListDocuments(ctx, e.acc, p.INS, app.DocumentQuery{}, func([]app.RemoteDocument) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// A VIHF signed by a key the sandbox's CA never certified is refused.
	s, _, _ := testSigner(t)
	e.client.cfg.Signer = s
	e.client.vihf = &VIHFCache{Signer: s}
	err = e.client.ListDocuments(ctx, e.acc, p.INS, app.DocumentQuery{}, func([]app.RemoteDocument) error { return nil })
	if !errors.Is(err, app.ErrAccessDenied) {
		t.Fatalf("foreign VIHF: %v", err)
	}
}

// dropper loses the response of every other ITI-41 after the sandbox has
// processed the request: the client sees a network failure.
type dropper struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    int
}

func (d *dropper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.Header.Get("Content-Type"), "multipart/related") {
		return resp, err
	}
	d.mu.Lock()
	d.n++
	lose := d.n%2 == 1
	d.mu.Unlock()
	if lose {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, errors.New("connection reset (test: response lost)")
	}
	return resp, nil
}

// Pushes whose responses are lost, retried: never a duplicate in the
// registry (the uniqueId lookup is an ITI-18 GetDocuments).
func TestSandboxLostResponsesNoDuplicates(t *testing.T) {
	e := newEnv(t, dmptest.KeyGP)
	drop := &dropper{next: e.rec.next}
	e.client.cfg.HTTP = &http.Client{Transport: drop}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := e.patient(t, func(exists, closed, authorised, blocked bool) bool {
		return exists && !closed && authorised && !blocked
	})
	pushes := 1000
	if testing.Short() {
		pushes = 100
	}
	for i := 0; i < pushes; i++ {
		nd := app.NewDocument{Meta: app.DocumentMeta{ID: app.DocumentID("1.2.250.1.999.1.2." + strconv.Itoa(i)), TypeCode: "11506-3", Title: "Note",
			MediaType: "text/xml"}, Content: []byte("<ClinicalDocument>" + strconv.Itoa(i) + "</ClinicalDocument>")}
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if _, err = e.client.Provide(ctx, e.acc, p.INS, []app.NewDocument{nd}); err == nil {
				break
			}
			if !errors.Is(err, app.ErrOffline) {
				t.Fatalf("push %d: %v", i, err)
			}
		}
		if err != nil {
			t.Fatalf("push %d never succeeded: %v", i, err)
		}
	}
	seen := map[app.DocumentID]int{}
	if err := e.client.ListDocuments(ctx, e.acc, p.INS, app.DocumentQuery{}, func(page []app.RemoteDocument) error {
		for _, d := range page {
			seen[d.Meta.ID]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dups, pushed := 0, 0
	for id, n := range seen {
		if strings.HasPrefix(string(id), "1.2.250.1.999.1.2.") {
			pushed++
			if n > 1 {
				dups++
			}
		}
	}
	if dups != 0 || pushed != pushes {
		t.Fatalf("%d documents in the registry for %d pushes, %d duplicated", pushed, pushes, dups)
	}
	t.Logf("%d pushes, %d responses lost, 0 duplicates", pushes, (drop.n+1)/2)
}

// An ECDSA credential (the sandbox's anesthesiste) works end to end too.
func TestSandboxECDSACredential(t *testing.T) {
	e := newEnv(t, dmptest.KeyAnesthetist)
	ctx := context.Background()
	p := e.patient(t, func(exists, closed, authorised, blocked bool) bool {
		return exists && !closed && authorised && !blocked
	})
	n := 0
	if err := e.client.ListDocuments(ctx, e.acc, p.INS, app.DocumentQuery{}, func(d []app.RemoteDocument) error { n += len(d); return nil }); err != nil || n == 0 {
		t.Fatalf("%d documents, %v", n, err)
	}
}
