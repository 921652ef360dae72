package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// listRow is an operating-list entry carrying p's identity as the clinic's
// identity system would export it, with status st.
func listRow(p app.Patient, st app.IdentityStatus, day time.Time, line int) app.Scheduled {
	return app.Scheduled{Matricule: p.INS.Matricule, OID: p.INS.OID, Date: day, Line: line,
		Identity: app.ListedIdentity{Status: st, BirthName: p.BirthName, BirthGivenNames: p.BirthGivenNames,
			BirthDate: p.BirthDate, Sex: p.Sex, BirthPlace: p.BirthPlace}}
}

// TestOperatingListLooksUpUnknownPatients: against the sandbox, a patient
// of the list not yet in the vault, with a qualified and complete identity,
// is looked up by INS, added with the list's identity and prefetched by the
// next cycle; a provisional or incomplete row, or a known INS whose traits
// disagree, makes no request at all and writes nothing; an INS without a
// record comes back "no record".
func TestOperatingListLooksUpUnknownPatients(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 60, Seed: 37})
	rs, pr := client(t, sb, dmptest.KeyAnesthetist)
	ps := qualified(sb, pr.RPPS, 5)
	if len(ps) < 5 {
		t.Fatal("not enough synthetic patients")
	}
	known, fresh, clash, prov, incomplete := ps[0], ps[1], ps[2], ps[3], ps[4]
	clock := apptest.NewClock(time.Now())
	v, _ := newVault(t, clock)
	if err := v.Write(ctx, &app.Batch{Patients: []app.Patient{known, clash}}); err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t, v, rs, pr, clock)
	day := clock.Now().Add(20 * time.Hour)

	// Nothing to look up: not one request.
	disagree := listRow(clash, app.IdentityQualified, day, 4)
	disagree.Identity.BirthDate = "1901-01-01"
	partial := listRow(incomplete, app.IdentityQualified, day, 6)
	partial.Identity.BirthPlace = ""
	quiet := []app.Scheduled{listRow(known, app.IdentityQualified, day, 2), disagree, listRow(prov, app.IdentityProvisional, day, 5), partial}
	before := sb.Served()
	res, err := eng.ImportOperatingList(ctx, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if n := sb.Served() - before; n != 0 {
		t.Fatalf("%d requests for a list with nothing to look up", n)
	}
	reasons := func(res app.OperatingListResult) string {
		s := ""
		for _, e := range res.ToIdentify {
			s += fmt.Sprintf("%d:%s ", e.Line, e.Reason)
		}
		return s
	}
	if len(res.Scheduled) != 1 || res.Scheduled[0].ID != known.ID || res.Added != 0 ||
		reasons(res) != "4:traits-disagree 5:not-qualified 6:traits-incomplete " {
		t.Fatalf("scheduled %d, added %d, to identify %s", len(res.Scheduled), res.Added, reasons(res))
	}
	if got, _ := v.Patient(ctx, clash.ID); !got.Scheduled.IsZero() {
		t.Fatal("a patient whose listed traits disagree was scheduled")
	}

	// A qualified unknown patient with a record, and an INS without one.
	body := "1990175999" + "123"
	key, _ := app.INSKey(body)
	ghost := fresh
	ghost.INS.Matricule = body + key
	if exists, _, _, _, _ := sb.Patient(ghost.INS, pr.RPPS); exists {
		t.Fatal("the ghost INS has a record")
	}
	var barred app.Patient // a record this practitioner may not read
	for _, q := range sb.Population() {
		exists, closed, authorised, blocked, treating := sb.Patient(q.INS, pr.RPPS)
		if exists && !closed && !authorised && !blocked && !treating && q.Status == app.IdentityQualified {
			barred = q
			break
		}
	}
	if barred.INS.Matricule == "" {
		t.Fatal("no synthetic patient without authorisation")
	}
	res, err = eng.ImportOperatingList(ctx, []app.Scheduled{listRow(fresh, app.IdentityQualified, day, 2), listRow(ghost, app.IdentityQualified, day, 3),
		listRow(barred, app.IdentityQualified, day, 4)})
	if err != nil || res.Added != 1 || len(res.Scheduled) != 1 || reasons(res) != "3:no-record 4:no-access " {
		t.Fatalf("added %d, scheduled %d, to identify %s, %v", res.Added, len(res.Scheduled), reasons(res), err)
	}
	added := res.Scheduled[0]
	got, err := v.Patient(ctx, added.ID)
	if err != nil || added.ID == "" || added.ID == fresh.ID {
		t.Fatalf("added patient %q: %v", added.ID, err)
	}
	if got.INS != fresh.INS || got.Status != app.IdentityQualified || got.BirthDate != fresh.BirthDate || got.Sex != fresh.Sex ||
		got.BirthPlace != fresh.BirthPlace || !got.Scheduled.Equal(day) {
		t.Fatalf("added identity %+v", got)
	}
	for _, q := range []app.Patient{ghost, barred} {
		if byINS, _ := v.PatientsByINS(ctx, q.INS); len(byINS) != 0 {
			t.Fatal("an INS without a readable record was added")
		}
	}

	// The next cycle prefetches the new patient's record.
	if sum, err := eng.Once(ctx); err != nil || !sum.OK() {
		t.Fatalf("sync: %v %+v", err, sum)
	}
	m, err := v.Manifest(ctx, added.ID)
	if err != nil || len(m.Documents) == 0 {
		t.Fatalf("the added patient's record was not prefetched: %v", err)
	}
	for _, d := range m.Documents {
		if !d.Superseded && !d.Cached {
			t.Fatal("a document of the added patient was not prefetched")
		}
	}
	mustCheck(t, v)
}

// TestOperatingListLookupUnanswered: not signed in, or the service out of
// reach: the qualified unknown patient comes back to identify with the
// reason, and nothing is written.
func TestOperatingListLookupUnanswered(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 30, Seed: 41})
	_, pr := client(t, sb, dmptest.KeyAnesthetist)
	p := qualified(sb, pr.RPPS, 1)[0]
	for _, c := range []struct {
		name string
		rs   app.RecordService
		want app.OperatingListReason
	}{{"not signed in", nil, app.ListNotSignedIn}, {"unreachable", deadClient(t), app.ListOffline}} {
		t.Run(c.name, func(t *testing.T) {
			clock := apptest.NewClock(time.Now())
			v, _ := newVault(t, clock)
			eng := newEngine(t, v, c.rs, pr, clock)
			res, err := eng.ImportOperatingList(ctx, []app.Scheduled{listRow(p, app.IdentityQualified, clock.Now().Add(time.Hour), 7)})
			if err != nil || len(res.Scheduled) != 0 || len(res.ToIdentify) != 1 || res.ToIdentify[0].Reason != c.want || res.ToIdentify[0].Line != 7 {
				t.Fatalf("%+v %v", res, err)
			}
			if all, _ := v.Patients(ctx); len(all) != 0 {
				t.Fatalf("%d patients written", len(all))
			}
		})
	}
}

// duringLookup runs hook before each FindPatient of the wrapped service:
// what the directory goes through while the lookups are on the network.
type duringLookup struct {
	app.RecordService
	hook func()
}

func (d duringLookup) FindPatient(ctx context.Context, acc app.Access, ins app.INS) (app.RecordStatus, error) {
	d.hook()
	return d.RecordService.FindPatient(ctx, acc, ins)
}

// TestOperatingListKeepsChangesDuringLookup: the lookups take network
// time; what changes in the directory meanwhile is kept — a known patient
// pinned during the lookup stays pinned (and is scheduled), and an INS
// another import added meanwhile with other traits is not added twice: the
// row goes to identify (traits disagree).
func TestOperatingListKeepsChangesDuringLookup(t *testing.T) {
	sb := dmptest.NewTLS(t, dmptest.Options{Patients: 60, Seed: 37})
	rs, pr := client(t, sb, dmptest.KeyAnesthetist)
	ps := qualified(sb, pr.RPPS, 2)
	if len(ps) < 2 {
		t.Fatal("not enough synthetic patients")
	}
	known, fresh := ps[0], ps[1]
	clock := apptest.NewClock(time.Now())
	v, _ := newVault(t, clock)
	if err := v.Write(ctx, &app.Batch{Patients: []app.Patient{known}}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	hook := func() {
		once.Do(func() {
			pinned := known
			pinned.Pinned = true
			twin := fresh
			twin.ID, twin.BirthDate = "", "1901-01-01"
			if err := v.Write(ctx, &app.Batch{Patients: []app.Patient{pinned, twin}}); err != nil {
				t.Error(err)
			}
		})
	}
	eng := newEngine(t, v, duringLookup{RecordService: rs, hook: hook}, pr, clock)
	day := clock.Now().Add(20 * time.Hour)
	res, err := eng.ImportOperatingList(ctx, []app.Scheduled{listRow(known, app.IdentityQualified, day, 2), listRow(fresh, app.IdentityQualified, day, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 0 || len(res.ToIdentify) != 1 || res.ToIdentify[0].Line != 3 || res.ToIdentify[0].Reason != app.ListTraitsDisagree {
		t.Fatalf("added %d, to identify %+v", res.Added, res.ToIdentify)
	}
	got, err := v.Patient(ctx, known.ID)
	if err != nil || !got.Pinned || got.Scheduled.IsZero() {
		t.Fatalf("known patient after the import: %+v %v (the pin made during the lookup must stay)", got, err)
	}
	all, _ := v.Patients(ctx)
	n := 0
	for _, p := range all {
		if p.INS.Matricule == fresh.INS.Matricule {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d patients carry the INS", n)
	}
}
