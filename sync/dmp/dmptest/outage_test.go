package dmptest

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestPauseBlackHoles: a paused sandbox accepts a request and holds it
// without an answer (not refused) until Resume; a client that gives up
// leaves nothing held.
func TestPauseBlackHoles(t *testing.T) {
	sb := NewTLS(t, Options{Seed: 1, Patients: 1})
	c := sb.Client(KeyGP)
	get := func(ctx context.Context) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sb.URL+"/metadata", nil)
		res, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	if code, err := get(context.Background()); err != nil || code != http.StatusOK {
		t.Fatalf("running sandbox: %d, %v", code, err)
	}
	sb.Pause()
	if !sb.Paused() {
		t.Fatal("not paused")
	}
	served := sb.Served()
	answered := make(chan error, 1)
	go func() { _, err := get(context.Background()); answered <- err }()
	waitHeld(t, sb, 1)
	select {
	case err := <-answered:
		t.Fatalf("a paused sandbox answered: %v", err)
	default:
	}
	if sb.Served() != served {
		t.Fatal("a request was served while paused")
	}

	// A client that gives up: nothing left held.
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { _, err := get(ctx); gaveUp <- err }()
	waitHeld(t, sb, 2)
	cancel()
	if err := <-gaveUp; err == nil {
		t.Fatal("a cancelled request got an answer while paused")
	}
	waitHeld(t, sb, 1)

	sb.Resume()
	if err := <-answered; err != nil {
		t.Fatalf("held request after Resume: %v", err)
	}
	if sb.Held() != 0 || sb.Served() != served+1 {
		t.Fatalf("after Resume: held %d, served %d (want 0, %d)", sb.Held(), sb.Served(), served+1)
	}
}

// waitHeld waits until n requests are held; the bound only catches a hang.
func waitHeld(t *testing.T, sb *Sandbox, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for sb.Held() != n {
		if time.Now().After(deadline) {
			t.Fatalf("held = %d, want %d (hang)", sb.Held(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLatencyHoldsAnswers: with a latency set, an answer is not served
// before it; a client that gives up meanwhile gets nothing served.
func TestLatencyHoldsAnswers(t *testing.T) {
	sb := NewTLS(t, Options{Seed: 1, Patients: 1})
	sb.SetLatency(time.Hour) // longer than any test: the request can only end by giving up
	c := sb.Client(KeyGP)
	served := sb.Served()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sb.URL+"/metadata", nil)
	done := make(chan error, 1)
	go func() {
		res, err := c.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("an answer came before the latency")
	}
	if sb.Served() != served {
		t.Fatal("a request was served before its latency")
	}
	sb.SetLatency(0)
	res, err := c.Get(sb.URL + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
}
