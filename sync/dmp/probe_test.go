package dmp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// TestProbe: the probe answers against the running sandbox, and fails as
// offline when the sandbox is paused (black-holed) once its deadline is
// over; it never waits longer than its context.
func TestProbe(t *testing.T) {
	e := newEnv(t, dmptest.Options{Seed: 3, Patients: 1})
	sb := e.sb
	c, _ := e.client(dmptest.KeyGP)
	var _ app.Prober = c
	if err := c.Probe(context.Background()); err != nil {
		t.Fatalf("probe of a running sandbox: %v", err)
	}
	sb.Pause()
	defer sb.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond) // the probe's own short deadline
	defer cancel()
	err := c.Probe(ctx)
	if !errors.Is(err, app.ErrOffline) {
		t.Fatalf("probe of a paused sandbox: %v, want offline", err)
	}
}
