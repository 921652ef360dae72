package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/internal/demoworld"
	"github.com/carnetdesk/carnet/internal/signin"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

// TestSandboxEndToEndXDS runs the end-to-end flow on the DMP's production
// protocol ([dmp] protocol = "xds"): sign in with the PKCS#12 file the
// sandbox wrote, find, open, retrieve into the vault, push a note, write a
// note offline and push it exactly once when back online, then bris de
// glace on a record without authorisation. The same sandbox store answers
// the FHIR tests.
func TestSandboxEndToEndXDS(t *testing.T) {
	w := newE2EWorld(t, 7)
	w.cfg.DMP.Protocol = config.ProtocolXDS
	w.cfg.DMP.URL = strings.TrimSuffix(w.sb.URL, w.sb.BasePath()) + dmptest.XDSBasePath
	w.cfg.DMP.SourceOID, w.cfg.DMP.Homologation = demoworld.SourceOID, demoworld.Homologation
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	sg := &signin.Signer{Config: signin.FixedConfig(w.cfg), Log: w.log, Svc: w.svc}
	defer sg.Close()
	if err := sg.SignIn(ctx, []byte(w.an.PIN)); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	p := w.authorised(t)
	st, err := w.svc.FindPatient(ctx, p.ID)
	if err != nil || !st.Exists || st.Authorization != app.AuthorizationGranted {
		t.Fatalf("FindPatient = %+v, %v", st, err)
	}
	rec, err := w.svc.OpenPatient(ctx, p.ID, app.AccessNormal, "")
	if err != nil || rec.Offline || len(rec.Manifest.Documents) == 0 {
		t.Fatalf("OpenPatient: %d documents, offline %v, %v", len(rec.Manifest.Documents), rec.Offline, err)
	}
	doc := rec.Manifest.Documents[0]
	content, err := w.svc.Document(ctx, p.ID, doc.ID, app.Access{Mode: app.AccessNormal})
	if err != nil {
		t.Fatalf("retrieve: %v", err)
	}
	if cached, err := w.v.Document(ctx, p.ID, doc.ID); err != nil || !bytes.Equal(cached, content) {
		t.Fatalf("retrieved document not cached in the vault: %v", err)
	}

	// Offline: every connection reset; the note waits in the outbox and is
	// sent exactly once when the service is back.
	w.svc.SetDocumentWriter(cda.Writer{FacilityType: app.Code{Code: "SA04", System: "1.2.250.1.71.4.2.4"}, AllowTestINS: true})
	clock := &laterClock{}
	eng, err := engine.New(engine.Config{Store: w.v, Records: w.svc.Records, Logger: w.log, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	w.sb.FailNext(dmptest.FaultReset, 1000)
	item, err := w.svc.WriteNote(ctx, p.ID, app.NoteDraft{Title: "Visite à domicile", Text: "Patient vu à domicile.\n\nTraitement inchangé."})
	if err != nil {
		t.Fatalf("write note offline: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 20*time.Second)
	eng.Once(short)
	cancelShort()
	if out, _ := w.svc.Outbox(ctx); len(out) != 1 {
		t.Fatalf("outbox holds %d items while offline, want 1", len(out))
	}
	w.sb.ClearFaults()
	clock.skip = time.Hour
	if _, err := eng.Once(ctx); err != nil {
		t.Fatalf("sync back online: %v", err)
	}
	if out, _ := w.svc.Outbox(ctx); len(out) != 0 {
		t.Fatalf("outbox holds %d items after the sync, want 0", len(out))
	}
	if n := w.sb.UniqueIDs(p.INS)[item.Meta.ID]; n != 1 {
		t.Fatalf("the note is %d times on the server, want once", n)
	}

	// Mask the note just sent (its author may), then widen the listing.
	if err := w.svc.SetVisibility(ctx, p.ID, item.Meta.ID, app.Visibility{MaskedToProfessionals: true}); err != nil {
		t.Fatalf("mask: %v", err)
	}
	if m, err := w.v.Manifest(ctx, p.ID); err != nil {
		t.Fatal(err)
	} else if d, ok := m.Document(item.Meta.ID); !ok || !d.Visibility.MaskedToProfessionals {
		t.Fatalf("the mask is not in the manifest: %+v", d)
	}
	wide, err := w.svc.WidenRecord(ctx, p.ID, app.Access{Mode: app.AccessNormal}, time.Now().AddDate(-10, 0, 0))
	if err != nil || len(wide.Manifest.Documents) < len(rec.Manifest.Documents) {
		t.Fatalf("widen: %d documents (first open %d), %v", len(wide.Manifest.Documents), len(rec.Manifest.Documents), err)
	}

	// The record closes: the closure is seen on one cycle and confirmed on
	// the next, at least a minute later (never a purge on one answer); then
	// the record leaves the vault.
	w.sb.CloseRecord(p.INS)
	clock.skip = 2 * time.Hour
	if sum, err := eng.Once(ctx); err != nil || sum.Purged != 0 || sum.PurgeHeld != 1 {
		t.Fatalf("first sync after closure: %+v, %v; want the purge held for confirmation", sum, err)
	}
	if _, err := w.v.Manifest(ctx, p.ID); err != nil {
		t.Fatalf("one closure answer already removed the record: %v", err)
	}
	clock.skip = 2*time.Hour + 2*time.Minute
	if sum, err := eng.Once(ctx); err != nil || sum.Purged != 1 {
		t.Fatalf("second sync after closure: %+v, %v", sum, err)
	}
	if _, err := w.v.Manifest(ctx, p.ID); err == nil {
		t.Fatal("the closed record is still readable in the vault")
	}

	// A record without authorisation: refused in normal mode, open in bris
	// de glace with a justification.
	q, ok := w.sb.FindPatient(func(p app.Patient, exists, closed bool, authz, blocked map[string]bool) bool {
		return exists && !closed && !authz[dmptest.KeyAnesthetist] && !blocked[dmptest.KeyAnesthetist] && p.Status == app.IdentityQualified
	})
	if !ok {
		t.Fatal("no record without authorisation")
	}
	if _, err := w.svc.OpenPatient(ctx, q.ID, app.AccessNormal, ""); app.Denial(err) != app.DeniedNoAuthorization && !errors.Is(err, app.ErrAccessDenied) {
		t.Fatalf("normal access without authorisation: %v", err)
	}
	if _, err := w.svc.OpenPatient(ctx, q.ID, app.AccessEmergency, "Patient inconscient admis en urgence au bloc"); err != nil {
		t.Fatalf("bris de glace: %v", err)
	}
}
