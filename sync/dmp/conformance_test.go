package dmp

import (
	"bytes"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/test/fhirpeer"
)

// The client conformance suite: the same scenarios against Carnet's
// sandbox and against the independent peer (@medplum/fhir-router's
// MemoryRepository, test/fhirpeer). Where the peer lacks a feature, the
// client must still do the right thing; each run logs the paths the client
// took (Client.Paths).

// backend is a server the suite runs against.
type backend struct {
	name string
	// client returns a client of a practitioner who may read and feed
	// ins's record, and the access context.
	client func(t *testing.T) (*Client, app.Access)
	// patient returns a patient with a record this practitioner may use.
	patient func(t *testing.T) app.INS
	// loseNextWrite makes the service commit the next write and lose its
	// answer.
	loseNextWrite func()
	// extensions: the server speaks Carnet's record-status extensions.
	extensions bool
}

// peerIdentity is the practitioner the peer's tests act as.
var peerIdentity = credential.Identity{
	RPPS: "810000000027", Name: "Dr Pair Indépendant", Profession: credential.Code{Code: "10"},
	Structure: credential.Structure{ID: "1750000002", Name: "Clinique du pair"},
}

// peerBackend is the independent peer behind a lossy proxy.
func peerBackend(t *testing.T) backend {
	peer := fhirpeer.Shared(t)
	var lose atomic.Int64
	lossy := peer.NewLossy(t, func(r *http.Request) bool {
		if r.Method == http.MethodGet {
			return false
		}
		for {
			n := lose.Load()
			if n <= 0 {
				return false
			}
			if lose.CompareAndSwap(n, n-1) {
				return true
			}
		}
	})
	return backend{
		name: "peer",
		client: func(t *testing.T) (*Client, app.Access) {
			is, err := peer.CA.IssuePractitionerWith(peerIdentity, credtestOptions())
			if err != nil {
				t.Fatal(err)
			}
			c, err := New(Config{BaseURL: lossy.URL, Certificate: is.TLSCertificate(), Signer: is.Key, RootCAs: peer.CA.Pool(),
				SoftwareName: "Carnet", SoftwareVersion: "test", Timeout: 2 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			return c, app.Access{Practitioner: PractitionerFrom(peerIdentity), Mode: app.AccessNormal}
		},
		patient: func(t *testing.T) app.INS {
			ins := fhirpeer.NewINS()
			if _, err := peer.CreatePatient(t.Context(), ins); err != nil {
				t.Fatal(err)
			}
			return ins
		},
		loseNextWrite: func() { lose.Add(1) },
	}
}

// sandboxBackend is Carnet's sandbox.
func sandboxBackend(t *testing.T) backend {
	e := newEnv(t, dmptest.Options{})
	return backend{
		name:          "sandbox",
		client:        func(t *testing.T) (*Client, app.Access) { return e.client(dmptest.KeyGP) },
		patient:       func(t *testing.T) app.INS { return e.open().INS },
		loseNextWrite: func() { e.sb.FailNext(dmptest.FaultDropPost, 1) },
		extensions:    true,
	}
}

// eachBackend runs f against the sandbox and the peer.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, k := range []struct {
		name string
		mk   func(*testing.T) backend
	}{{"sandbox", sandboxBackend}, {"peer", peerBackend}} {
		t.Run(k.name, func(t *testing.T) { f(t, k.mk(t)) })
	}
}

// TestConformanceFindProvideRetrieve: find the record, provide a note,
// read it back (the client confirmed it), list it once, retrieve it intact.
func TestConformanceFindProvideRetrieve(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c, acc := b.client(t)
		ins := b.patient(t)
		ctx := t.Context()
		st, err := c.FindPatient(ctx, acc, ins)
		if err != nil || !st.Exists || st.Closed {
			t.Fatalf("find: %+v %v", st, err)
		}
		switch {
		case b.extensions && st.Authorization != app.AuthorizationGranted:
			t.Fatalf("sandbox authorisation %s", st.Authorization)
		case !b.extensions && st.Authorization != app.AuthorizationUnknown:
			t.Fatalf("no extension must read unknown, got %s", st.Authorization)
		}
		nd := note(newUID())
		res, err := c.Provide(ctx, acc, ins, []app.NewDocument{nd})
		if err != nil || len(res.Documents) != 1 || res.Documents[0].RemoteID == "" {
			t.Fatalf("provide: %+v %v", res, err)
		}
		if c.PathCount(PathReadBackOK) != 1 || c.PathCount(PathSubjectLiteral) != 1 {
			t.Fatalf("paths %v", c.Paths())
		}
		docs, err := list(t, c, acc, ins, app.DocumentQuery{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		var got app.RemoteDocument
		for _, d := range docs {
			if d.Meta.ID == nd.Meta.ID {
				n++
				got = d
			}
		}
		if n != 1 {
			t.Fatalf("the note lists %d times", n)
		}
		body, err := c.Retrieve(ctx, acc, ins, got)
		if err != nil || !bytes.Equal(body, nd.Content) {
			t.Fatalf("retrieve: %v", err)
		}
		t.Logf("%s paths: %v", b.name, c.Paths())
	})
}

// TestConformancePaging: seven notes listed with pages of two: each once,
// whether the server gives next links (sandbox) or only a total (peer:
// _offset).
func TestConformancePaging(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c, acc := b.client(t)
		ins := b.patient(t)
		ctx := t.Context()
		if _, err := c.FindPatient(ctx, acc, ins); err != nil {
			t.Fatal(err)
		}
		want := map[app.DocumentID]bool{}
		for i := 0; i < 7; i++ {
			nd := note(newUID())
			if _, err := c.Provide(ctx, acc, ins, []app.NewDocument{nd}); err != nil {
				t.Fatal(err)
			}
			want[nd.Meta.ID] = true
		}
		docs, err := list(t, c, acc, ins, app.DocumentQuery{PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[app.DocumentID]int{}
		for _, d := range docs {
			seen[d.Meta.ID]++
		}
		for id := range want {
			if seen[id] != 1 {
				t.Fatalf("document listed %d times; paths %v", seen[id], c.Paths())
			}
		}
		if c.PathCount(PathPagingNext)+c.PathCount(PathPagingOffset) < 3 {
			t.Fatalf("no paging: %v", c.Paths())
		}
		t.Logf("%s paths: %v", b.name, c.Paths())
	})
}

// TestConformanceReplaceAndPatch: a replacement is confirmed only when the
// old version reads superseded; a metadata change applies to the version
// known, and a stale version is a conflict (JSON Patch test on versionId,
// whether or not the server honours If-Match).
func TestConformanceReplaceAndPatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c, acc := b.client(t)
		ins := b.patient(t)
		ctx := t.Context()
		if _, err := c.FindPatient(ctx, acc, ins); err != nil {
			t.Fatal(err)
		}
		first := note(newUID())
		res, err := c.Provide(ctx, acc, ins, []app.NewDocument{first})
		if err != nil {
			t.Fatal(err)
		}
		old := res.Documents[0]
		second := note(newUID())
		second.Replaces = &old
		res, err = c.Provide(ctx, acc, ins, []app.NewDocument{second})
		if err != nil {
			t.Fatalf("replace: %v (paths %v)", err, c.Paths())
		}
		docs, err := list(t, c, acc, ins, app.DocumentQuery{Statuses: []string{"current", "superseded"}})
		if err != nil {
			t.Fatal(err)
		}
		status := map[app.DocumentID]string{}
		for _, d := range docs {
			status[d.Meta.ID] = d.Status
		}
		if status[first.Meta.ID] != "superseded" || status[second.Meta.ID] != "current" {
			t.Fatalf("after replacement: %v", status)
		}
		cur := res.Documents[0]
		masked, err := c.UpdateMetadata(ctx, acc, ins, cur, app.MetadataChange{Visibility: &app.Visibility{HiddenFromLegalReps: true}})
		if err != nil || !masked.Visibility.HiddenFromLegalReps || masked.VersionID == cur.VersionID {
			t.Fatalf("patch: %+v %v", masked, err)
		}
		// the same change again on the version now stale
		_, err = c.UpdateMetadata(ctx, acc, ins, cur, app.MetadataChange{Visibility: &app.Visibility{}})
		if !errors.Is(err, app.ErrConflict) {
			t.Fatalf("stale version: want conflict, got %v", err)
		}
		t.Logf("%s paths: %v", b.name, c.Paths())
	})
}

// TestConformanceLostAnswer: the service commits a provide and its answer
// is lost; the duplicate check finds the document (no second copy), with
// whatever search the server has.
func TestConformanceLostAnswer(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c, acc := b.client(t)
		ins := b.patient(t)
		ctx := t.Context()
		if _, err := c.FindPatient(ctx, acc, ins); err != nil {
			t.Fatal(err)
		}
		nd := note(newUID())
		b.loseNextWrite()
		if _, err := c.Provide(ctx, acc, ins, []app.NewDocument{nd}); !errors.Is(err, app.ErrOffline) {
			t.Fatalf("lost answer: want offline, got %v", err)
		}
		found, err := list(t, c, acc, ins, app.DocumentQuery{ID: nd.Meta.ID, Statuses: []string{"current", "superseded"}})
		if err != nil || len(found) != 1 {
			t.Fatalf("duplicate check: %d found, %v", len(found), err)
		}
		if c.PathCount(PathDupIdentifier)+c.PathCount(PathDupListing)+c.PathCount(PathDupReadByID) == 0 {
			t.Fatalf("paths %v", c.Paths())
		}
		// a second lookup reads by the id remembered from the first
		if found, err = list(t, c, acc, ins, app.DocumentQuery{ID: nd.Meta.ID}); err != nil || len(found) != 1 || c.PathCount(PathDupReadByID) != 1 {
			t.Fatalf("read by id: %d %v %v", len(found), err, c.Paths())
		}
		t.Logf("%s paths: %v", b.name, c.Paths())
	})
}

// credtestOptions: ECDSA keys (fast to generate on a loaded machine).
func credtestOptions() credtest.Options { return credtest.Options{ECDSA: true} }

// TestConformanceDelete: the author deletes a note; the deletion is read
// back (the entry reads gone), and the listing no longer shows it.
func TestConformanceDelete(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c, acc := b.client(t)
		ins := b.patient(t)
		ctx := t.Context()
		if _, err := c.FindPatient(ctx, acc, ins); err != nil {
			t.Fatal(err)
		}
		nd := note(newUID())
		res, err := c.Provide(ctx, acc, ins, []app.NewDocument{nd})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, acc, ins, res.Documents[0]); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := c.ReadDocument(ctx, acc, ins, res.Documents[0].RemoteID); !errors.Is(err, app.ErrWithdrawn) {
			t.Fatalf("deleted entry reads: %v", err)
		}
		docs, err := list(t, c, acc, ins, app.DocumentQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if d.Meta.ID == nd.Meta.ID {
				t.Fatal("deleted note still listed")
			}
		}
	})
}
