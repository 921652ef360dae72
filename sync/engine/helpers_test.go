package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/sync/dmp"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

var (
	ctx      = context.Background()
	testPass = []byte("une phrase de passe assez longue")
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newVault creates an unlocked real vault file (light KDF, device secret in
// a file beside it) whose clock is clock (nil: the system clock).
func newVault(t testing.TB, clock app.Clock) (*vault.Vault, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "carnet.vault")
	v := openVault(t, path, clock)
	if err := v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return v, path
}

// openVault opens (locked) the vault at path.
func openVault(t testing.TB, path string, clock app.Clock) *vault.Vault {
	t.Helper()
	light := crypto.LightParams()
	v, err := vault.Open(path, vault.Options{KDF: &light, Keyring: crypto.NoKeyring{}, Logger: quiet(), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// client returns Carnet's client of the sandbox acting as the practitioner
// key.
func client(t testing.TB, sb *dmptest.Sandbox, key string) (*dmp.Client, app.Practitioner) {
	t.Helper()
	cr := sb.PKI.Credentials[key]
	c, err := dmp.New(dmp.Config{BaseURL: sb.URL, Certificate: cr.TLS, Signer: cr.Signer, RootCAs: sb.PKI.Pool(),
		SoftwareName: "Carnet", SoftwareVersion: "test", Timeout: 20 * time.Second, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, cr.Practitioner.Practitioner
}

// noSleep is an injected sleep that does not wait (the Retry-After gate
// still waits for real).
func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

// newEngine returns an engine over v acting through rs as pr.
func newEngine(t testing.TB, v app.Store, rs app.RecordService, pr app.Practitioner, clock app.Clock, tweak ...func(*engine.Config)) *engine.Engine {
	t.Helper()
	cfg := engine.Config{Store: v, Clock: clock, Logger: testLogger(), Sleep: noSleep,
		Records: func() (app.RecordService, app.Practitioner, bool) { return rs, pr, rs != nil }}
	for _, f := range tweak {
		f(&cfg)
	}
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// accessible returns the population's patients whose record the
// practitioner may read (exists, open, authorised or médecin traitant, not
// blocked), at most n.
func accessible(sb *dmptest.Sandbox, rpps string, n int) []app.Patient {
	var out []app.Patient
	for _, p := range sb.Population() {
		exists, closed, authorised, blocked, treating := sb.Patient(p.INS, rpps)
		if exists && !closed && !blocked && (authorised || treating) {
			out = append(out, p)
			if len(out) == n {
				break
			}
		}
	}
	return out
}

// watch writes patients into the vault as opened now (on the watch list).
func watch(t testing.TB, v app.Store, now time.Time, ps ...app.Patient) []app.Patient {
	t.Helper()
	out := make([]app.Patient, len(ps))
	for i, p := range ps {
		p.LastAccess = now
		out[i] = p
	}
	if err := v.Write(ctx, &app.Batch{Patients: out}); err != nil {
		t.Fatal(err)
	}
	return out
}

// serverDocs lists what the service holds for p (current and superseded),
// by uniqueId.
func serverDocs(t testing.TB, rs app.RecordService, pr app.Practitioner, p app.Patient, since time.Time) map[app.DocumentID]app.RemoteDocument {
	t.Helper()
	out := map[app.DocumentID]app.RemoteDocument{}
	acc := app.Access{Practitioner: pr, Mode: app.AccessNormal}
	err := rs.ListDocuments(ctx, acc, p.INS, app.DocumentQuery{ActSince: since, Statuses: []string{"current", "superseded"}, PageSize: 100},
		func(page []app.RemoteDocument) error {
			for _, d := range page {
				out[d.Meta.ID] = d
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mustCheck runs the vault's check.
func mustCheck(t testing.TB, v *vault.Vault) app.CheckReport {
	t.Helper()
	rep, err := v.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("vault check: %v", rep.Problems)
	}
	return rep
}

// countingService wraps a RecordService: it counts calls and retrievals
// per document, and records every throttle answer and the calls that came
// before its Retry-After had passed.
type countingService struct {
	app.RecordService
	mu        sync.Mutex
	calls     int
	finds     int
	lists     int
	retrieved map[app.DocumentID]int
	until     time.Time // no call before this (a Retry-After received)…
	untilSet  time.Time // …known since then
	early     int
	throttled int
}

func counting(rs app.RecordService) *countingService {
	return &countingService{RecordService: rs, retrieved: map[app.DocumentID]int{}}
}

func (c *countingService) enter() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	// A call that passed the engine's gate just before another
	// goroutine received the 429 is not early: allow 100 ms for that race
	// (goroutines wait that long to run under -race on 2 busy cores). An
	// engine that ignored Retry-After would retry after its own back-off
	// (≥ 125 ms) and again and again: it is still caught.
	if now := time.Now(); now.Before(c.until) && now.Sub(c.untilSet) > 100*time.Millisecond {
		c.early++
	}
}

func (c *countingService) leave(err error) {
	var we *app.WaitError
	if errors.As(err, &we) && errors.Is(err, app.ErrThrottled) {
		c.mu.Lock()
		c.throttled++
		if u := time.Now().Add(we.Wait); u.After(c.until) {
			if !time.Now().Before(c.until) {
				c.untilSet = time.Now()
			}
			c.until = u
		}
		c.mu.Unlock()
	}
}

func (c *countingService) FindPatient(ctx context.Context, acc app.Access, ins app.INS) (app.RecordStatus, error) {
	c.enter()
	c.mu.Lock()
	c.finds++
	c.mu.Unlock()
	st, err := c.RecordService.FindPatient(ctx, acc, ins)
	c.leave(err)
	return st, err
}

func (c *countingService) ListDocuments(ctx context.Context, acc app.Access, ins app.INS, q app.DocumentQuery, page func([]app.RemoteDocument) error) error {
	c.enter()
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	err := c.RecordService.ListDocuments(ctx, acc, ins, q, page)
	c.leave(err)
	return err
}

func (c *countingService) Retrieve(ctx context.Context, acc app.Access, ins app.INS, doc app.RemoteDocument) ([]byte, error) {
	c.enter()
	b, err := c.RecordService.Retrieve(ctx, acc, ins, doc)
	c.leave(err)
	if err == nil {
		c.mu.Lock()
		c.retrieved[doc.Meta.ID]++
		c.mu.Unlock()
	}
	return b, err
}

func (c *countingService) Provide(ctx context.Context, acc app.Access, ins app.INS, docs []app.NewDocument) (app.Provided, error) {
	c.enter()
	r, err := c.RecordService.Provide(ctx, acc, ins, docs)
	c.leave(err)
	return r, err
}

// stats returns a copy of the counts.
// ReadDocument passes the evidence reads through (app.EntryReader), when
// the wrapped service has them.
func (c *countingService) ReadDocument(ctx context.Context, acc app.Access, ins app.INS, id string) (app.RemoteDocument, error) {
	r, ok := c.RecordService.(app.EntryReader)
	if !ok {
		return app.RemoteDocument{}, fmt.Errorf("no reads: %w", app.ErrInvalid)
	}
	c.enter()
	rd, err := r.ReadDocument(ctx, acc, ins, id)
	c.leave(err)
	return rd, err
}

func (c *countingService) stats() (calls, finds, lists int, retrieved map[app.DocumentID]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := make(map[app.DocumentID]int, len(c.retrieved))
	for k, v := range c.retrieved {
		r[k] = v
	}
	return c.calls, c.finds, c.lists, r
}

// noteItem is an outbox item holding a small CDA-like note for p.
func noteItem(p app.Patient, i int, at time.Time) app.OutboxItem {
	id := app.OutboxID(fmt.Sprintf("1.2.250.1.999.77.%d.%d", at.UnixNano()%1e9, i))
	return app.OutboxItem{
		ID: id, Patient: p.ID, Kind: app.OutboxProvide, State: app.OutboxPending, CreatedAt: at.Add(time.Duration(i)),
		Payload: []byte(fmt.Sprintf("<ClinicalDocument><id root=%q/><title>Note %d</title></ClinicalDocument>", id, i)),
		Meta:    app.DocumentMeta{ID: app.DocumentID(id), TypeCode: "11488-4", Title: fmt.Sprintf("Note %d", i), MediaType: "text/xml", Date: at},
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("ENGINE_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return quiet()
}

// openVaultNoCleanup opens the vault at path outside a test (child process).
func openVaultNoCleanup(path string) *vault.Vault {
	light := crypto.LightParams()
	v, err := vault.Open(path, vault.Options{KDF: &light, Keyring: crypto.NoKeyring{}, Logger: quiet()})
	if err != nil {
		panic(err)
	}
	return v
}
