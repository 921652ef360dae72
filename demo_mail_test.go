package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/internal/demoworld"
	"github.com/carnetdesk/carnet/internal/mailsched"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/mailbox"
)

// TestDemoMailbox imports the demo mailbox (go-imap's in-memory server)
// as the desktop application does: the mailbox is in the connection, its
// password sealed in the vault at the first unlock, and the sync cycle's
// mail import reads it. The structured reports and the forwarded one land
// on their patients, the PDF-only mail and the report without INS wait for
// a person, the hostile archive is quarantined.
func TestDemoMailbox(t *testing.T) {
	pop := dmptest.Patients(demoworld.Seed, demoworld.Patients)
	mb, stop, err := demoworld.StartMailbox(pop, t.TempDir(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	store := apptest.NewLockedStore(importPass, pop...)
	svc := app.NewService(app.Deps{Store: store, Log: quiet()})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := svc.SetConnectionStore(ctx, config.NewMemory(app.Connection{Mailboxes: []app.MailAccount{mb.Account}})); err != nil {
		t.Fatal(err)
	}
	d := &mailsched.Mail{Svc: svc, Opener: mailbox.Opener{Demo: true, Log: quiet()}, Demo: true, Log: quiet()}
	woken := make(chan struct{}, 1)
	demoworld.SealPassword(svc, mb, func() { woken <- struct{}{} }, quiet())
	// Locked: nothing is imported, nothing fails.
	if sum, err := d.Once(ctx); err != nil || sum.Messages != 0 {
		t.Fatalf("locked import: %+v %v", sum, err)
	}
	if _, err := svc.Unlock(ctx, []byte(importPass)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-ctx.Done():
		t.Fatal("the password was not sealed")
	}
	sum, err := d.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Messages != 7 || sum.Filed != 4 || sum.Manual != 2 || sum.Quarantined != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if running, _ := d.Status(); running {
		t.Fatal("the import still shows as running")
	}
	items, err := svc.Inbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[app.MatchReason]int{}
	for _, it := range items {
		reasons[it.Reason]++
	}
	if reasons[app.ReasonPDFOnly] != 1 || reasons[app.ReasonNoINS] != 1 || reasons[app.ReasonQuarantine] != 1 {
		t.Fatalf("inbox reasons %v", reasons)
	}
	for _, it := range items {
		if it.Reason == app.ReasonNoINS && len(it.Candidates) == 0 {
			t.Fatal("the report without INS has no candidate patient")
		}
	}
	// The reports filed carry the class of their XDM metadata (a CDA
	// header has none).
	classed := 0
	for _, p := range pop {
		man, err := store.Manifest(ctx, p.ID)
		if err != nil {
			continue
		}
		for _, d := range man.Documents {
			if d.Source == "mssante" {
				if d.ClassCode != app.ClassReport {
					t.Errorf("imported document class %q, want %q", d.ClassCode, app.ClassReport)
				}
				classed++
			}
		}
	}
	if classed == 0 {
		t.Error("no imported document found in the records")
	}
	// The next cycle imports nothing again.
	if sum, err := d.Once(ctx); err != nil || sum.Messages != 0 || sum.Filed != 0 {
		t.Fatalf("second cycle: %+v %v", sum, err)
	}
	// Without a sealed password the mailbox is "not configured", not a failure.
	if err := svc.SetMailPassword(ctx, mb.Account.Address, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Once(ctx); !errors.Is(err, app.ErrNotConfigured) || !mailsched.OnlyNotConfigured(err) {
		t.Fatalf("no password: %v", err)
	}
}
