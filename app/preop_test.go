package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/app/cda/cdacheck"
	"github.com/carnetdesk/carnet/app/meds"
	"github.com/carnetdesk/carnet/app/terms"
)

// TestSignedDecisionsNotCircular: the anesthesiologist signs the decision
// table; the report carries each line's decision, conforms to ANEST-CR-CPA
// and the common profiles; read back, it is Carnet's own source and raises
// no entry's count of independent sources.
func TestSignedDecisionsNotCircular(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := declService(t)
	svc.SetDocumentReader(&apptest.Reader{ReadFn: func(content []byte, meta app.DocumentMeta) (app.ClinicalDocument, error) {
		if strings.HasPrefix(string(content), "<?xml") {
			return cda.Reader{}.Read(content, meta)
		}
		return (&apptest.Reader{}).Read(content, meta)
	}})
	svc.SetDocumentWriter(cda.Writer{FacilityType: app.Code{Code: "SA04", System: "1.2.250.1.71.4.2.4", Display: "Etablissement privé non PSPH"}, AllowTestINS: true})
	svc.SignIn(app.Session{Practitioner: app.Practitioner{RPPS: "810000000001", Name: "Dr Anne Durand", Structure: app.Structure{ID: "1750000001", Name: "Clinique du Parc"}}, Records: &apptest.Records{}})
	if _, err := svc.DeclareMedication(ctx, "p1", app.Medication{Name: "ELIQUIS 5 mg", ATC: app.Code{Code: "B01AF02", System: app.SystemATC}}); err != nil {
		t.Fatal(err)
	}
	before, err := svc.ReadMedications(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	in := terms.DecisionInput{Surgery: now.AddDate(0, 0, 7), Bleeding: terms.BleedingHigh, CrCl: 70}
	list := meds.Consolidate(before.Lines, before.Metas(), now)
	rows := meds.Rows(list, in)
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	var lines []app.Medication
	var decisions []app.LineDecision
	for i := range rows {
		rows[i].Accept()
		lines = append(lines, rows[i].Entry.Lines[0])
		decisions = append(decisions, rows[i].LineDecision())
	}
	item, err := svc.SignReconciliation(ctx, "p1", app.Reconciliation{Lines: lines, Decisions: decisions})
	if err != nil {
		t.Fatal(err)
	}
	content, err := svc.Document(ctx, "p1", item.Meta.ID, app.Access{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(content), "Arrêter — dernière prise le ") || !strings.Contains(string(content), terms.DecisionStatus) {
		t.Error("the report lacks the apixaban decision or the rule's status")
	}
	cdacheck.Check(t, content, "CI-SIS_ANEST-CR-CPA_2022.01.sch")
	if r := cdacheck.Check(t, content); !r.OK() {
		t.Log(r.Output)
	}

	after, err := svc.ReadMedications(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	own := 0
	for _, l := range after.Lines {
		if l.Source.Document == item.Meta.ID {
			if !l.Source.Own {
				t.Errorf("a line of Carnet's report is not marked as its own: %+v", l.Source)
			}
			own++
		}
	}
	if own == 0 {
		t.Fatal("the report's lines were not read back")
	}
	count := func(l meds.List) map[string]int {
		m := map[string]int{}
		for _, g := range l.Groups {
			for _, e := range g.Entries {
				m[e.ID] = e.Independent
			}
		}
		return m
	}
	cb, ca := count(list), count(meds.Consolidate(after.Lines, after.Metas(), now))
	for id, n := range cb {
		if ca[id] != n {
			t.Errorf("%s: %d independent sources after signing, %d before", id, ca[id], n)
		}
	}
}
