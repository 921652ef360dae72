package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/internal/demoworld"
	"github.com/carnetdesk/carnet/internal/signin"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

// laterClock is the system clock moved forward by skip.
type laterClock struct{ skip time.Duration }

func (c *laterClock) Now() time.Time { return time.Now().Add(c.skip) }

// e2ePass is the passphrase of the end-to-end tests' vaults.
const e2ePass = "une phrase de passe assez longue"

// e2eWorld is what the end-to-end tests run on: the sandbox started as
// `carnet sandbox` starts it, a configuration pointing at it with the
// anesthesiologist's PKCS#12 file, and a real vault (light KDF, device
// secret in a file) holding the sandbox's patients, created and unlocked,
// with the real CDA reader and writer wired.
type e2eWorld struct {
	sb  *dmptest.Sandbox
	an  dmptest.Practitioner
	cfg config.Config
	v   *vault.Vault
	svc *app.Service
	log *slog.Logger
}

// e2eProtocols are the [dmp] protocols the end-to-end tests run on: the
// DMP's production interface (XDS.b/SOAP, the default) and the PDSm FHIR
// API, both served by the same sandbox store.
var e2eProtocols = []string{config.ProtocolXDS, config.ProtocolFHIR}

// newE2EWorldOn starts the world with the configuration of protocol: the
// sandbox's FHIR base, or its XDS.b services with the demo's LPS OIDs.
func newE2EWorldOn(t testing.TB, seed uint64, protocol string) *e2eWorld {
	t.Helper()
	dir := t.TempDir()
	sb, sbDir, err := dmptest.Start(dmptest.Config{Listen: "127.0.0.1:0", Patients: 40, Seed: seed, DataDir: filepath.Join(dir, "sandbox")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	w := &e2eWorld{sb: sb, an: sb.PKI.Credentials[dmptest.KeyAnesthetist].Practitioner,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	w.cfg.DMP.Protocol = protocol
	w.cfg.DMP.URL, w.cfg.DMP.CAFile = sb.URL, filepath.Join(sbDir, "ca.pem")
	if protocol == config.ProtocolXDS {
		w.cfg.DMP.URL = strings.TrimSuffix(sb.URL, sb.BasePath()) + dmptest.XDSBasePath
		w.cfg.DMP.SourceOID, w.cfg.DMP.Homologation = demoworld.SourceOID, demoworld.Homologation
	}
	w.cfg.Credential.PKCS12File = w.an.P12Path
	light := crypto.LightParams()
	w.v, err = vault.Open(filepath.Join(dir, "vault.db"), vault.Options{KDF: &light, Keyring: crypto.NoKeyring{}, Logger: w.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.v.Close() })
	ctx := context.Background()
	w.svc = app.NewService(app.Deps{Store: w.v, Log: w.log})
	if err := w.svc.Create(ctx, []byte(e2ePass), app.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.v.Write(ctx, &app.Batch{Patients: sb.Population()}); err != nil {
		t.Fatal(err)
	}
	w.svc.SetDocumentReader(cda.Reader{})
	w.svc.SetDocumentWriter(cda.Writer{FacilityType: w.cfg.FacilityType(), AllowTestINS: true})
	return w
}

// signIn signs the anesthesiologist in with the sandbox credential; the
// card session ends with the test.
func (w *e2eWorld) signIn(t *testing.T) {
	t.Helper()
	sg := &signin.Signer{Config: signin.FixedConfig(w.cfg), Log: w.log, Svc: w.svc}
	t.Cleanup(sg.Close)
	if err := sg.SignIn(context.Background(), []byte(w.an.PIN)); err != nil {
		t.Fatal(err)
	}
}

// signInWithEngine signs in, then gives the service the sync engine over
// the world's vault, and returns it.
func (w *e2eWorld) signInWithEngine(t *testing.T) *engine.Engine {
	t.Helper()
	w.signIn(t)
	eng, err := engine.New(engine.Config{Store: w.v, Records: w.svc.Records, Logger: w.log})
	if err != nil {
		t.Fatal(err)
	}
	w.svc.SetSyncer(eng)
	return eng
}

// authorised returns a patient with a record the anesthesiologist may
// open, with a qualified identity (so that notes can be sent).
func (w *e2eWorld) authorised(t *testing.T) app.Patient {
	t.Helper()
	p, ok := w.sb.FindPatient(func(p app.Patient, exists, closed bool, authz, blocked map[string]bool) bool {
		return exists && !closed && authz[dmptest.KeyAnesthetist] && !blocked[dmptest.KeyAnesthetist] && p.Status == app.IdentityQualified
	})
	if !ok {
		t.Fatal("no suitable synthetic patient")
	}
	return p
}

// TestSandboxCredentialEndToEnd is the end-to-end flow, one table over
// both [dmp] protocols (XDS.b/SOAP and FHIR): `carnet sandbox`
// (dmptest.Start is what it runs) writes its CA and the practitioners'
// PKCS#12 files; a credential it wrote signs in through the same code as
// the desktop app, and through Carnet's client over mTLS the practitioner
// finds a patient, opens the record, retrieves a document (verified, then
// cached in a real vault), pushes a note and finds it, writes a note
// offline that is pushed exactly once back online, masks it, widens the
// listing; a closed record is purged (on a confirmed closure only); a
// record without authorisation opens in bris de glace.
func TestSandboxCredentialEndToEnd(t *testing.T) {
	for _, protocol := range e2eProtocols {
		t.Run(protocol, func(t *testing.T) { e2eFlow(t, newE2EWorldOn(t, 7, protocol)) })
	}
}

// e2eFlow is the end-to-end flow on world (TestSandboxCredentialEndToEnd).
func e2eFlow(t *testing.T, world *e2eWorld) {
	sb, an, cfg, v, svc, log := world.sb, world.an, world.cfg, world.v, world.svc, world.log
	ctx, cancelAll := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancelAll()

	sg := &signin.Signer{Config: signin.FixedConfig(cfg), Log: log, Svc: svc}
	defer sg.Close()
	if err := sg.SignIn(ctx, []byte("0000")); !errors.Is(err, app.ErrCredential) {
		t.Fatalf("sign in with a wrong PIN = %v, want ErrCredential", err)
	}
	if err := sg.SignIn(ctx, []byte(an.PIN)); err != nil {
		t.Fatalf("sign in with the PIN the sandbox printed: %v", err)
	}
	me, _ := svc.Practitioner()
	if me.RPPS != an.RPPS {
		t.Fatalf("signed in as %q, want the anesthesiologist %q", me.RPPS, an.RPPS)
	}

	// A patient whose record exists and who authorised this practitioner,
	// with a qualified identity so that a note can be pushed.
	p, ok := sb.FindPatient(func(p app.Patient, exists, closed bool, authz, blocked map[string]bool) bool {
		return exists && !closed && authz[dmptest.KeyAnesthetist] && !blocked[dmptest.KeyAnesthetist] && p.Status == app.IdentityQualified
	})
	if !ok {
		t.Fatal("no suitable synthetic patient")
	}
	st, err := svc.FindPatient(ctx, p.ID)
	if err != nil || !st.Exists || st.Authorization != app.AuthorizationGranted {
		t.Fatalf("FindPatient = %+v, %v", st, err)
	}
	rec, err := svc.OpenPatient(ctx, p.ID, app.AccessNormal, "")
	if err != nil {
		t.Fatalf("OpenPatient: %v", err)
	}
	if rec.Offline || len(rec.Manifest.Documents) == 0 {
		t.Fatalf("record offline=%v with %d documents", rec.Offline, len(rec.Manifest.Documents))
	}
	now := st.ServerTime
	if now.IsZero() {
		now = time.Now()
	}
	for _, d := range rec.Manifest.Documents {
		// The act's range must reach the window (FHIR period=ge): a stay
		// may begin a few days before it, and the reimbursement history,
		// a living document covering 24 months, begins before it.
		if d.TypeCode != "REMB" && d.Date.Before(now.Add(-app.FirstOpenWindow).AddDate(0, 0, -11)) {
			t.Fatalf("first open listed a document older than two years: %v", d.Date)
		}
	}
	doc := rec.Manifest.Documents[0]
	content, err := svc.Document(ctx, p.ID, doc.ID, app.Access{Mode: app.AccessNormal})
	if err != nil {
		t.Fatalf("retrieve: %v", err)
	}
	if cached, err := v.Document(ctx, p.ID, doc.ID); err != nil || !bytes.Equal(cached, content) {
		t.Fatalf("retrieved document not cached in the vault: %v", err)
	}
	if doc.MediaType == "text/xml" || doc.MediaType == "application/xml" || doc.MediaType == "" {
		if _, err := cda.ParseBytes(content, cda.Options{}); err != nil {
			t.Fatalf("retrieved CDA does not parse: %v", err)
		}
	}

	// Push a consultation note written in Carnet.
	note, err := cda.WriteNote(cda.Note{
		Patient:  p,
		Author:   cda.Practitioner{RPPS: an.RPPS[1:], Given: "Benoît", Family: "Saint-Just", Profession: app.Code{Code: "G15_10/SM02", System: "1.2.250.1.213.1.1.4.5", Display: "Médecin - Anesthésie-réanimation (SM)"}, Structure: cda.Structure{FINESS: "750000001", Name: "Clinique Sainte-Geneviève", FacilityType: app.Code{Code: "SA07", System: "1.2.250.1.71.4.2.4", Display: "Cabinet individuel"}}},
		Title:    "Consultation pré-opératoire",
		Start:    time.Now().Add(-time.Hour),
		Sections: []cda.NoteSection{{Title: "Conclusion", Text: cda.Paragraphs("Patient vu en consultation. Pas de contre-indication retenue.")}},
		Level:    cda.LevelN3,
	}, cda.WriteOptions{AllowTestINS: true})
	if err != nil {
		t.Fatalf("write note: %v", err)
	}
	parsed, err := cda.ParseBytes(note, cda.Options{})
	if err != nil {
		t.Fatal(err)
	}
	meta := parsed.Meta()
	sent, err := svc.ProvideDocument(ctx, p.ID, app.NewDocument{Meta: meta, Content: note})
	if err != nil {
		t.Fatalf("provide: %v", err)
	}
	if sent.Meta.ID != meta.ID {
		t.Fatalf("sent %q, the service answered for %q", meta.ID, sent.Meta.ID)
	}
	// The note is now in the record, for this practitioner and in the vault.
	rec, err = svc.OpenPatient(ctx, p.ID, app.AccessNormal, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rec.Manifest.Document(meta.ID); !ok {
		t.Fatal("the pushed note is not in the record")
	}
	events, err := svc.Audit(ctx, app.AuditFilter{Patient: p.ID, Action: "dmp."})
	if err != nil || len(events) < 5 {
		t.Fatalf("audit: %d events, %v", len(events), err)
	}

	// Offline: the service unreachable (every connection reset), the
	// practitioner writes a note; it is readable at once from the vault and
	// waits in the outbox. Back online, the engine sends it exactly once.
	svc.SetDocumentWriter(cda.Writer{FacilityType: app.Code{Code: "SA04", System: "1.2.250.1.71.4.2.4"}, AllowTestINS: true})
	clock := &laterClock{}
	eng, err := engine.New(engine.Config{Store: v, Records: svc.Records, Logger: log, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	sb.FailNext(dmptest.FaultReset, 1000)
	item, err := svc.WriteNote(ctx, p.ID, app.NoteDraft{Title: "Visite à domicile", Text: "Patient vu à domicile.\n\nTraitement inchangé."})
	if err != nil {
		t.Fatalf("write note offline: %v", err)
	}
	if _, err := svc.Document(ctx, p.ID, item.Meta.ID, app.Access{}); err != nil {
		t.Fatalf("the note written offline is not readable: %v", err)
	}
	ctxShort, cancel := context.WithTimeout(ctx, 20*time.Second)
	eng.Once(ctxShort) // offline: nothing sent
	cancel()
	if out, _ := svc.Outbox(ctx); len(out) != 1 {
		t.Fatalf("outbox holds %d items while offline, want 1", len(out))
	}
	sb.ClearFaults()
	clock.skip = time.Hour // past the item's next attempt
	if _, err := eng.Once(ctx); err != nil {
		t.Fatalf("sync back online: %v", err)
	}
	if out, _ := svc.Outbox(ctx); len(out) != 0 {
		t.Fatalf("outbox holds %d items after the sync, want 0", len(out))
	}
	if n := sb.UniqueIDs(p.INS)[item.Meta.ID]; n != 1 {
		t.Fatalf("the note is %d times on the server, want once", n)
	}

	// Mask the note just sent (its author may), then widen the listing.
	if err := svc.SetVisibility(ctx, p.ID, item.Meta.ID, app.Visibility{MaskedToProfessionals: true}); err != nil {
		t.Fatalf("mask: %v", err)
	}
	if m, err := v.Manifest(ctx, p.ID); err != nil {
		t.Fatal(err)
	} else if d, ok := m.Document(item.Meta.ID); !ok || !d.Visibility.MaskedToProfessionals {
		t.Fatalf("the mask is not in the manifest: %+v", d)
	}
	wide, err := svc.WidenRecord(ctx, p.ID, app.Access{Mode: app.AccessNormal}, time.Now().AddDate(-10, 0, 0))
	if err != nil || len(wide.Manifest.Documents) < len(rec.Manifest.Documents) {
		t.Fatalf("widen: %d documents (first open %d), %v", len(wide.Manifest.Documents), len(rec.Manifest.Documents), err)
	}

	// The record closes: the closure is seen on one cycle and confirmed on
	// the next, at least a minute later (never a purge on one answer); then
	// the record leaves the vault.
	sb.CloseRecord(p.INS)
	clock.skip = 2 * time.Hour
	if sum, err := eng.Once(ctx); err != nil || sum.Purged != 0 || sum.PurgeHeld != 1 {
		t.Fatalf("first sync after closure: %+v, %v; want the purge held for confirmation", sum, err)
	}
	if _, err := v.Manifest(ctx, p.ID); err != nil {
		t.Fatalf("one closure answer already removed the record: %v", err)
	}
	clock.skip = 2*time.Hour + 2*time.Minute
	if sum, err := eng.Once(ctx); err != nil || sum.Purged != 1 {
		t.Fatalf("second sync after closure: %+v, %v", sum, err)
	}
	if _, err := v.Manifest(ctx, p.ID); err == nil {
		t.Fatal("the closed record is still readable in the vault")
	}

	// A record without authorisation: refused in normal mode, open in bris
	// de glace with a justification.
	q, ok := sb.FindPatient(func(p app.Patient, exists, closed bool, authz, blocked map[string]bool) bool {
		return exists && !closed && !authz[dmptest.KeyAnesthetist] && !blocked[dmptest.KeyAnesthetist] && p.Status == app.IdentityQualified
	})
	if !ok {
		t.Fatal("no record without authorisation")
	}
	if _, err := svc.OpenPatient(ctx, q.ID, app.AccessNormal, ""); app.Denial(err) != app.DeniedNoAuthorization && !errors.Is(err, app.ErrAccessDenied) {
		t.Fatalf("normal access without authorisation: %v", err)
	}
	if _, err := svc.OpenPatient(ctx, q.ID, app.AccessEmergency, "Patient inconscient admis en urgence au bloc"); err != nil {
		t.Fatalf("bris de glace: %v", err)
	}
}
