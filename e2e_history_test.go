package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

// failingFetch is the central service with the content of one document
// made unreachable (its metadata still listed): a download cut mid-sync.
type failingFetch struct {
	app.RecordService
	broken *atomic.Value // app.DocumentID whose Retrieve fails
}

// Retrieve implements app.RecordService.
func (f failingFetch) Retrieve(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument) ([]byte, error) {
	if id, _ := f.broken.Load().(app.DocumentID); id != "" && doc.Meta.ID == id {
		return nil, fmt.Errorf("test: download cut: %w", app.ErrServer)
	}
	return f.RecordService.Retrieve(ctx, acc, ins, doc)
}

// ReadDocument implements app.EntryReader when the service does.
func (f failingFetch) ReadDocument(ctx context.Context, acc app.Access, ins app.INS, remoteID string) (app.RemoteDocument, error) {
	if r, ok := f.RecordService.(app.EntryReader); ok {
		return r.ReadDocument(ctx, acc, ins, remoteID)
	}
	return app.RemoteDocument{}, fmt.Errorf("test: no entry read: %w", app.ErrInvalid)
}

// TestReimbursementHistoryReplaced is point 5 of the offline issue on both
// [dmp] protocols: the reimbursement history is a living document. A
// pharmacy dispensing reaches the sandbox (AddDispensing), which replaces
// the patient's history by a new version dated now; the next sync lists it
// and supersedes the old one; when the new version's download fails, the
// old version's content stays in the vault and the medication view says
// the new one is not there yet (never a false "no dispensing"); once it is
// in, the medication view shows the new dispensing, read from the new
// version only.
func TestReimbursementHistoryReplaced(t *testing.T) {
	for _, protocol := range e2eProtocols {
		t.Run(protocol, func(t *testing.T) { reimbursementHistoryReplaced(t, newE2EWorldOn(t, 17, protocol)) })
	}
}

// histories returns the patient's reimbursement histories in the vault.
func histories(t *testing.T, world *e2eWorld, id app.PatientID) (current, superseded []app.DocumentMeta) {
	t.Helper()
	m, err := world.v.Manifest(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Documents {
		if d.TypeCode != "REMB" {
			continue
		}
		if d.Superseded {
			superseded = append(superseded, d)
		} else {
			current = append(current, d)
		}
	}
	return current, superseded
}

// reimbursementHistoryReplaced is TestReimbursementHistoryReplaced on world.
func reimbursementHistoryReplaced(t *testing.T, world *e2eWorld) {
	ctx := context.Background()
	world.signIn(t)
	broken := &atomic.Value{}
	clock := &laterClock{}
	eng, err := engine.New(engine.Config{Store: world.v, Logger: world.log, Clock: clock, Tries: 2,
		Records: func() (app.RecordService, app.Practitioner, bool) {
			rs, pr, ok := world.svc.Records()
			if !ok {
				return nil, pr, false
			}
			return failingFetch{RecordService: rs, broken: broken}, pr, true
		}})
	if err != nil {
		t.Fatal(err)
	}
	world.svc.SetSyncer(eng)
	p := world.authorised(t)
	if err := world.svc.SetPinned(ctx, p.ID, true); err != nil {
		t.Fatal(err)
	}
	if sum, err := world.svc.Sync(ctx); err != nil {
		t.Fatalf("first sync: %v (%+v)", err, sum)
	}
	// The generated history's period starts 24 months and a day back: the
	// first listing (two years of acts) finds it on both protocols, as an
	// act that lasts into the window.
	cur, _ := histories(t, world, p.ID)
	if len(cur) != 1 || !cur[0].Cached {
		m, _ := world.v.Manifest(ctx, p.ID)
		for _, d := range m.Documents {
			t.Logf("%s %s %s %v %v", d.ID, d.TypeCode, d.Date, d.Cached, d.Superseded)
		}
		t.Fatalf("current reimbursement histories after the first sync: %+v", cur)
	}
	old := cur[0]

	// A dispensing of a drug the patient never had reaches the service.
	reading, err := world.svc.ReadMedications(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	had := map[string]bool{}
	for _, l := range reading.Lines {
		had[l.Product.Code] = true
	}
	var drug dmptest.Drug
	for _, d := range dmptest.Catalogue() {
		if !had[d.CIP13] {
			drug = d
			break
		}
	}
	if drug.DCI == "" {
		t.Fatal("the patient had every drug of the catalogue")
	}
	at := time.Now().UTC().Truncate(24 * time.Hour)
	newID, err := world.sb.AddDispensing(p.INS, drug.DCI, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := world.sb.AddDispensing(p.INS, "no such drug", at); err == nil {
		t.Fatal("a drug outside the catalogue was dispensed")
	}

	// The new version's download fails: nothing is lost.
	broken.Store(newID)
	clock.skip = time.Hour
	_, _ = world.svc.Sync(ctx) // incomplete: the download failed
	cur, sup := histories(t, world, p.ID)
	if len(cur) != 1 || cur[0].ID != newID || cur[0].Cached || !hasDoc(sup, old.ID) {
		t.Fatalf("after the failed download: current %+v, superseded %+v", cur, sup)
	}
	if _, err := world.v.Document(ctx, p.ID, old.ID); err != nil {
		t.Fatalf("the old version's content left the vault before the new one was in: %v", err)
	}
	reading, err = world.svc.ReadMedications(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	missing := false
	for _, u := range reading.Unstructured {
		missing = missing || u.Meta.ID == newID && u.Reason == app.UnstructuredNotCached
	}
	if !missing {
		t.Fatal("the medication view does not say the new history is missing")
	}

	// The download works again: the new version is in, read alone.
	broken.Store(app.DocumentID(""))
	clock.skip = 2 * time.Hour
	if sum, err := world.svc.Sync(ctx); err != nil {
		t.Fatalf("sync: %v (%+v)", err, sum)
	}
	cur, sup = histories(t, world, p.ID)
	if len(cur) != 1 || cur[0].ID != newID || !cur[0].Cached || !hasDoc(sup, old.ID) {
		t.Fatalf("after the sync: current %+v, superseded %+v", cur, sup)
	}
	reading, err = world.svc.ReadMedications(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range reading.Lines {
		if l.Source.Document == old.ID {
			t.Fatal("a line was read from the superseded history")
		}
		if l.Source.Document == newID && l.Product.Code == drug.CIP13 && l.Dispensed.UTC().Format("2006-01-02") == at.Format("2006-01-02") {
			found = true
		}
	}
	if !found {
		t.Fatalf("the new dispensing (%s, %s) is not in the medication view", drug.Name, at.Format("2006-01-02"))
	}
}

// hasDoc reports whether docs holds id.
func hasDoc(docs []app.DocumentMeta, id app.DocumentID) bool {
	for _, d := range docs {
		if d.ID == id {
			return true
		}
	}
	return false
}
