package vault

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

const crashEnv = "CARNET_VAULT_CRASH_CHILD"

// crashOptions share the device secret (a file) and light KDF parameters
// between the parent and the child.
func crashOptions() Options {
	return Options{KDF: lightKDF(), Keyring: crypto.NoKeyring{}, Logger: quietLogger(), Timeout: 5 * time.Second}
}

// TestCrashSafety kills a child process writing batches with SIGKILL at a
// random moment, 50 times; after each kill the vault must open, unlock and
// pass Check.
func TestCrashSafety(t *testing.T) {
	runs := 50
	if testing.Short() {
		runs = 10
	}
	path := filepath.Join(t.TempDir(), "carnet.vault")
	v, err := Open(path, crashOptions())
	mustOK(t, err)
	mustOK(t, v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{}))
	mustOK(t, v.Close())
	total := 0
	for run := 0; run < runs; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashEnv+"="+path, "CARNET_VAULT_CRASH_RUN="+strconv.Itoa(run))
		mustOK(t, cmd.Start())
		time.Sleep(time.Duration(5+rand.IntN(196)) * time.Millisecond)
		_ = cmd.Process.Kill() // SIGKILL
		_ = cmd.Wait()

		v, err := Open(path, crashOptions())
		if err != nil {
			t.Fatalf("run %d: open: %v", run, err)
		}
		// A compaction killed before its rename left a complete second
		// vault: the open removed it.
		if left, _ := filepath.Glob(path + ".compact-*"); len(left) != 0 {
			t.Fatalf("run %d: compaction copies left after open: %v", run, left)
		}
		if _, err := v.Unlock(ctx, append([]byte(nil), testPass...)); err != nil {
			t.Fatalf("run %d: unlock: %v", run, err)
		}
		rep, err := v.Check(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("run %d: check: %v %v", run, err, rep.Problems)
		}
		total = rep.Patients
		mustOK(t, v.Close())
	}
	t.Logf("%d runs, %d patients at the end", runs, total)
}

// TestCrashChild is the child of TestCrashSafety: it writes until killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("child process only")
	}
	run, _ := strconv.Atoi(os.Getenv("CARNET_VAULT_CRASH_RUN"))
	v, err := Open(path, crashOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Unlock(ctx, append([]byte(nil), testPass...)); err != nil {
		t.Fatal(err)
	}
	id := func(i int) app.PatientID { return app.PatientID(fmt.Sprintf("r%03d-%05d", run, i)) }
	for i := 0; ; i++ {
		p := synthPatient(run*1000 + i)
		p.ID = id(i)
		b := patientBatch(p, 3, 2000+rand.IntN(9000))
		b.Outbox = []app.OutboxItem{{ID: app.OutboxID("out-" + string(p.ID)), Patient: p.ID, Kind: "provide", CreatedAt: time.Now()}}
		if i > 0 {
			b.OutboxDone = []app.OutboxID{app.OutboxID("out-" + string(id(i-1)))}
		}
		if err := v.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		if i >= 2 && i%3 == 0 {
			if err := v.Purge(ctx, id(i-2)); err != nil && !errors.Is(err, app.ErrNotFound) {
				t.Fatal(err)
			}
		}
		if err := v.Record(ctx, app.AuditEvent{Action: "crash.write", Patient: p.ID, Result: "ok"}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 5 {
			if _, err := v.Compact(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestConcurrentUse runs readers, a writer and lock/unlock cycles at once
// (meant for -race). The only error allowed is ErrLocked.
func TestConcurrentUse(t *testing.T) {
	opt := testOptions()
	v, _ := newTestVault(t, opt)
	for i := 0; i < 20; i++ {
		mustOK(t, v.Write(ctx, patientBatch(synthPatient(i), 3, 500)))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	allowed := func(err error) {
		if err != nil && !errors.Is(err, app.ErrLocked) {
			select {
			case errs <- err:
			default:
			}
		}
	}
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := synthPatient((i + r) % 20)
				_, err := v.SearchPatients(ctx, "a", 5)
				allowed(err)
				_, err = v.Manifest(ctx, p.ID)
				allowed(err)
				_, err = v.Document(ctx, p.ID, synthManifest(p, 1).Documents[0].ID)
				allowed(err)
				allowed(v.Record(ctx, app.AuditEvent{Action: "read"}))
			}
		}(r)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 20; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			allowed(v.Write(ctx, patientBatch(synthPatient(i), 2, 300)))
		}
	}()
	for i := 0; i < 10; i++ {
		time.Sleep(10 * time.Millisecond)
		v.Lock()
		time.Sleep(2 * time.Millisecond)
		if _, err := v.Unlock(ctx, append([]byte(nil), testPass...)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkOK(t, v)
}
