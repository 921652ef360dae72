package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

// TestSavePreopDecision: a decision is kept with who took it and when,
// read back, replaced line by line, forgotten on request; the inputs are
// kept apart; each save is audited.
func TestSavePreopDecision(t *testing.T) {
	ctx := context.Background()
	svc, store, clock := declService(t)
	if rec, err := svc.PreopDecisions(ctx, "p1"); err != nil || len(rec.Decisions) != 0 {
		t.Fatalf("nothing decided: %+v, %v", rec, err)
	}
	surgery := time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC)
	d, err := svc.SavePreopDecision(ctx, "p1", app.PreopDecision{Line: "atc:B01AF02", Drug: "ELIQUIS 5 mg", Action: "stop", LastDose: surgery.AddDate(0, 0, -3)})
	if err != nil {
		t.Fatal(err)
	}
	if d.By != app.DeclaredByStaff || !d.At.Equal(clock.Now()) {
		t.Errorf("saved without a session: by %q at %v", d.By, d.At)
	}
	svc.SignIn(app.Session{Practitioner: app.Practitioner{RPPS: "810000000001", Name: "Dr Anne Durand"}, Records: &apptest.Records{}})
	if _, err := svc.SavePreopDecision(ctx, "p1", app.PreopDecision{Line: "atc:B01AF02", Drug: "ELIQUIS 5 mg", Action: "bridge", LastDose: surgery.AddDate(0, 0, -5),
		Override: true, Reason: "  valve mécanique  "}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SavePreopInputs(ctx, "p1", app.PreopInputs{Surgery: surgery, Bleeding: "high", CrCl: 55, CrClSource: "saisie"}); err != nil {
		t.Fatal(err)
	}
	rec, err := svc.PreopDecisions(ctx, "p1")
	if err != nil || len(rec.Decisions) != 1 {
		t.Fatalf("read back: %+v, %v", rec, err)
	}
	got := rec.Decisions[0]
	if got.Action != "bridge" || !got.Override || got.Reason != "valve mécanique" || got.By != "Dr Anne Durand" || got.RPPS != "810000000001" {
		t.Errorf("decision read back = %+v", got)
	}
	if rec.Inputs.CrCl != 55 || rec.Inputs.Bleeding != "high" || !rec.Inputs.Surgery.Equal(surgery) {
		t.Errorf("inputs read back = %+v", rec.Inputs)
	}
	if n := len(auditActions(t, store, "meds.decide")); n != 2 {
		t.Errorf("%d meds.decide audit events, want 2", n)
	}
	if err := svc.ForgetPreopDecision(ctx, "p1", "atc:B01AF02"); err != nil {
		t.Fatal(err)
	}
	if rec, _ := svc.PreopDecisions(ctx, "p1"); len(rec.Decisions) != 0 || rec.Inputs.CrCl != 55 {
		t.Errorf("after forgetting: %+v", rec)
	}
}

// TestSavePreopDecisionRefuses: hostile or incomplete decisions and inputs
// are refused with ErrInvalid (an unknown patient ErrNotFound), and nothing
// already saved is lost.
func TestSavePreopDecisionRefuses(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := declService(t)
	keep := app.PreopDecision{Line: "atc:A10BK01", Action: "stop", LastDose: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)}
	if _, err := svc.SavePreopDecision(ctx, "p1", keep); err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]app.PreopDecision{
		"no line":                {Action: "stop"},
		"blank line":             {Line: "   ", Action: "stop"},
		"unknown action":         {Line: "atc:X", Action: "supprimer"},
		"override without":       {Line: "atc:X", Action: "stop", Override: true, Reason: " \t"},
		"override without act":   {Line: "atc:X", Override: true, Reason: "x"},
		"control character":      {Line: "atc:X", Action: "stop", Reason: "a\x00b"},
		"invalid UTF-8":          {Line: "atc:\xff", Action: "stop"},
		"reason too long":        {Line: "atc:X", Action: "stop", Override: true, Reason: strings.Repeat("é", 2001)},
		"unknown discrepancy":    {Line: "atc:X", Action: "stop", Discrepancy: "maybe"},
		"line key far too long":  {Line: strings.Repeat("k", 301), Action: "continue"},
		"drug name far too long": {Line: "atc:X", Drug: strings.Repeat("n", 301), Action: "continue"},
	} {
		if _, err := svc.SavePreopDecision(ctx, "p1", d); !errors.Is(err, app.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := svc.SavePreopDecision(ctx, "nobody", keep); !errors.Is(err, app.ErrNotFound) {
		t.Errorf("unknown patient: %v, want ErrNotFound", err)
	}
	for name, in := range map[string]app.PreopInputs{
		"negative clearance": {CrCl: -1},
		"absurd clearance":   {CrCl: 4000},
		"bleeding risk":      {Bleeding: "moyen"},
		"source":             {CrClSource: "\xff"},
	} {
		if err := svc.SavePreopInputs(ctx, "p1", in); !errors.Is(err, app.ErrInvalid) {
			t.Errorf("inputs %s: %v, want ErrInvalid", name, err)
		}
	}
	// a stop keeps its date; a continue never carries one
	d, err := svc.SavePreopDecision(ctx, "p1", app.PreopDecision{Line: "atc:C07AB07", Action: "continue", LastDose: time.Now()})
	if err != nil || !d.LastDose.IsZero() {
		t.Errorf("continue with a date: %+v, %v", d, err)
	}
	rec, _ := svc.PreopDecisions(ctx, "p1")
	if got, ok := rec.Decision("atc:A10BK01"); !ok || got.Action != "stop" {
		t.Errorf("a refused save lost the saved decision: %+v", rec)
	}
}
