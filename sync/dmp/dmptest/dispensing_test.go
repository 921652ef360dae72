package dmptest

import (
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// histories returns the patient's reimbursement histories listed with the
// given status.
func (a *actor) histories(p app.Patient, status string) []fhir.DocumentReference {
	a.t.Helper()
	var out []fhir.DocumentReference
	path := "/DocumentReference?" + q("patient.identifier", insTok(p.INS), "status", status)
	for _, d := range a.searchAll(path, p.INS) {
		if d.Type != nil && len(d.Type.Coding) > 0 && d.Type.Coding[0].Code == kindREMB.Type {
			out = append(out, d)
		}
	}
	return out
}

// content reads a document's content.
func (a *actor) content(p app.Patient, d fhir.DocumentReference) string {
	a.t.Helper()
	r := a.do("GET", "/"+d.Content[0].Attachment.URL, p.INS, nil)
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil || r.StatusCode != 200 {
		a.t.Fatalf("read %s: %d %v", d.ID, r.StatusCode, err)
	}
	return string(b)
}

var setIDRe = regexp.MustCompile(`<setId root="([^"]+)"`)

// TestAddDispensingReplacesHistory: a dispensing replaces the
// reimbursement history by a new version of the same logical document
// (same setId, version + 1, relatesTo replaces, RPLC in the CDA), dated
// now and covering the 24 months before now, the dispensing in its table
// and as the drug's last dispensing; the old version reads superseded; a
// second dispensing replaces it again; a drug outside the catalogue, an
// INS without a record, change nothing.
func TestAddDispensingReplacesHistory(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	sb := start(t, Options{Patients: 20, Now: func() time.Time { return now }})
	p := sb.patientWhere(t, openPatient)
	an := sb.as(t, KeyAnesthetist)
	cur := an.histories(p, "current")
	if len(cur) != 1 {
		t.Fatalf("%d current histories", len(cur))
	}
	old := cur[0]
	oldSet := setIDRe.FindStringSubmatch(an.content(p, old))

	at := now.Add(-2 * time.Hour)
	id, err := sb.AddDispensing(p.INS, "Apixaban", at)
	if err != nil {
		t.Fatal(err)
	}
	cur = an.histories(p, "current")
	if len(cur) != 1 || cur[0].UniqueID() != "urn:oid:"+string(id) || cur[0].ID == old.ID {
		t.Fatalf("current histories after a dispensing: %d", len(cur))
	}
	h := cur[0]
	if len(h.RelatesTo) != 1 || h.RelatesTo[0].Code != "replaces" || h.RelatesTo[0].Target.Reference != "DocumentReference/"+old.ID {
		t.Fatalf("relatesTo %+v", h.RelatesTo)
	}
	if h.Meta.LastUpdated != fhir.FormatInstant(now) || h.Context.Period.End != fhir.FormatInstant(now) ||
		h.Context.Period.Start != fhir.FormatInstant(now.AddDate(0, -24, 0)) {
		t.Fatalf("dated %s, period %+v", h.Meta.LastUpdated, h.Context.Period)
	}
	sup := an.histories(p, "superseded")
	found := false
	for _, d := range sup {
		found = found || d.ID == old.ID && d.Meta.LastUpdated == fhir.FormatInstant(now)
	}
	if !found {
		t.Fatal("the old version does not read superseded, updated now")
	}
	text := an.content(p, h)
	newSet := setIDRe.FindStringSubmatch(text)
	if oldSet == nil || newSet == nil || newSet[1] != oldSet[1] {
		t.Fatalf("setId %v, was %v", newSet, oldSet)
	}
	if !strings.Contains(text, `<relatedDocument typeCode="RPLC"><parentDocument><id root="`+strings.TrimPrefix(old.UniqueID(), "urn:oid:")+`"/>`) ||
		!strings.Contains(text, `<versionNumber value="3"/>`) {
		t.Fatal("the CDA does not say it replaces the old version (version 3 of the set)")
	}
	eliquis, _ := medOf("apixaban")
	if !strings.Contains(text, at.Format("02/01/2006")) || !strings.Contains(text, esc(eliquis.Name)) ||
		!strings.Contains(text, `<time value="`+at.Format("20060102")+`"/>`) {
		t.Fatal("the new dispensing is not in the history")
	}

	// A second dispensing replaces the new version in turn.
	now = now.Add(time.Second)
	id2, err := sb.AddDispensing(p.INS, eliquis.CIP13, now)
	if err != nil || id2 == id {
		t.Fatal(err)
	}
	if cur = an.histories(p, "current"); len(cur) != 1 || cur[0].UniqueID() != "urn:oid:"+string(id2) ||
		cur[0].RelatesTo[0].Target.Reference != "DocumentReference/"+h.ID {
		t.Fatal("the second dispensing did not replace the current version")
	}
	// What changes nothing.
	other := validINSForTest(t, "1990175999123")
	for name, err := range map[string]error{
		"unknown drug": func() error { _, err := sb.AddDispensing(p.INS, "unobtainium", now); return err }(),
		"no record":    func() error { _, err := sb.AddDispensing(other, "apixaban", now); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if cur = an.histories(p, "current"); len(cur) != 1 || cur[0].UniqueID() != "urn:oid:"+string(id2) {
		t.Fatal("a refused dispensing changed the history")
	}
}

// validINSForTest builds a test-domain INS with its key.
func validINSForTest(t *testing.T, body string) app.INS {
	k, err := app.INSKey(body)
	if err != nil {
		t.Fatal(err)
	}
	return app.INS{Matricule: body + k, OID: app.OIDINSNIRTest}
}

// TestAddDispensingPersists: with a data directory, the new version and the
// dispensings survive a restart.
func TestAddDispensingPersists(t *testing.T) {
	dir := t.TempDir()
	sb, _, err := Start(Config{Listen: "127.0.0.1:0", Patients: 40, Seed: 5, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := sb.patientWhere(t, openPatient)
	id, err := sb.AddDispensing(p.INS, "metformine", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sb.Close()
	sb2, _, err := Start(Config{Listen: "127.0.0.1:0", Patients: 40, Seed: 5, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sb2.Close()
	cur := sb2.as(t, KeyAnesthetist).histories(p, "current")
	if len(cur) != 1 || cur[0].UniqueID() != "urn:oid:"+string(id) {
		t.Fatalf("after restart: %d current histories", len(cur))
	}
	id2, err := sb2.AddDispensing(p.INS, "metformine", time.Now())
	if err != nil || id2 == id {
		t.Fatalf("a second dispensing after restart: %v", err)
	}
	sb2.data.mu.Lock()
	n := len(sb2.recordOf(fhir.INSToken(p.INS)).Dispensings)
	sb2.data.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d dispensings after restart, want 2", n)
	}
}
