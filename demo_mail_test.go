package main

import (
	"context"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// TestDemoMailbox imports the demo mailbox (go-imap's in-memory server)
// as demo mode does, after the first unlock: the structured reports and the
// forwarded one land on their patients, the PDF-only mail and the report
// without INS wait for a person, the hostile archive is quarantined.
func TestDemoMailbox(t *testing.T) {
	pop := dmptest.Patients(demoSeed, demoPatients)
	acct, stop, err := startDemoMailbox(pop, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	store := apptest.NewLockedStore(importPass, pop...)
	svc := app.NewService(store, nil, quiet())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := newDemoImporter(acct, quiet())
	d.register(ctx, svc)
	if _, err := svc.Unlock(ctx, []byte(importPass)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-ctx.Done():
		t.Fatal("demo import did not end")
	}
	if d.err != nil {
		t.Fatal(d.err)
	}
	if d.sum.Messages != 7 || d.sum.Filed != 4 || d.sum.Manual != 2 || d.sum.Quarantined != 1 {
		t.Fatalf("summary %+v", d.sum)
	}
	items, err := svc.Inbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[app.MatchReason]int{}
	for _, it := range items {
		reasons[it.Reason]++
	}
	if reasons[app.ReasonNoReport] != 1 || reasons[app.ReasonNoINS] != 1 || reasons[app.ReasonQuarantine] != 1 {
		t.Fatalf("inbox reasons %v", reasons)
	}
	for _, it := range items {
		if it.Reason == app.ReasonNoINS && len(it.Candidates) == 0 {
			t.Fatal("the report without INS has no candidate patient")
		}
	}
	// A second unlock does not import again.
	svc.Lock(app.LockSession)
	if _, err := svc.Unlock(ctx, []byte(importPass)); err != nil {
		t.Fatal(err)
	}
}
