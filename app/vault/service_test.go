package vault

import (
	"path/filepath"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// TestServiceOverVault runs the app use cases over a real vault file.
func TestServiceOverVault(t *testing.T) {
	opt := testOptions()
	path := filepath.Join(t.TempDir(), "carnet.vault")
	v, err := Open(path, opt)
	mustOK(t, err)
	defer v.Close()
	svc := app.NewService(app.Deps{Store: v, Log: quietLogger()})
	if svc.HasVault() {
		t.Fatal("vault before Create")
	}
	mustOK(t, svc.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{}))
	mustOK(t, v.Write(ctx, patientBatch(synthPatient(60), 1, 100)))
	svc.Lock(app.LockByUser)
	if !svc.Locked() {
		t.Fatal("not locked")
	}
	rep, err := svc.Unlock(ctx, append([]byte(nil), testPass...))
	mustOK(t, err)
	if rep.Patients != 1 {
		t.Fatalf("report %+v", rep)
	}
	mustOK(t, svc.ChangePassphrase(ctx, append([]byte(nil), testPass...), append([]byte(nil), otherPass...)))
	if ps, err := svc.SearchPatients(ctx, synthPatient(60).BirthName, 5); err != nil || len(ps) != 1 {
		t.Fatalf("search: %v %v", ps, err)
	}
	evs, err := svc.Audit(ctx, app.AuditFilter{Action: "vault."})
	mustOK(t, err)
	var got []string
	for _, e := range evs {
		got = append(got, e.Action)
	}
	want := []string{"vault.create", "vault.lock", "vault.unlock", "vault.passwd"}
	if len(got) != len(want) {
		t.Fatalf("audit %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("audit %v, want %v", got, want)
		}
	}
	checkOK(t, v)
	svc.Lock(app.LockByUser)
	_, err = svc.Unlock(ctx, append([]byte(nil), otherPass...))
	mustOK(t, err)
}

// TestThrottleAppRestart: the wrong-passphrase delay survives a restart
// of the app (a new Service over a reopened file), and the new Service
// shows it (RetryIn) from the store's answer.
func TestThrottleAppRestart(t *testing.T) {
	opt := testOptions()
	v, path := newTestVault(t, opt)
	mustOK(t, v.Close())
	for i := 0; i < app.FreeAttempts; i++ {
		v, err := Open(path, opt)
		mustOK(t, err)
		svc := app.NewService(app.Deps{Store: v, Log: quietLogger()})
		_, err = svc.Unlock(ctx, []byte("wrong passphrase, restart "+string(rune('a'+i))))
		mustKind(t, err, app.ErrWrongPassphrase)
		mustOK(t, v.Close())
	}
	v, err := Open(path, opt)
	mustOK(t, err)
	defer v.Close()
	svc := app.NewService(app.Deps{Store: v, Log: quietLogger()})
	if svc.RetryIn() != 0 {
		t.Fatal("fresh service already waiting")
	}
	_, err = svc.Unlock(ctx, append([]byte(nil), testPass...))
	mustKind(t, err, app.ErrTooManyAttempts)
	if d := svc.RetryIn(); d <= 0 || d > app.FirstDelay {
		t.Fatalf("RetryIn %v", d)
	}
}
