package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

const importPass = "une phrase de passe assez longue"

// importEnv is a vault with patients, a Dovecot mailbox and the files
// `carnet import` reads.
type importEnv struct {
	srv      *mailtest.Server
	user     string
	data     string
	args     []string // import --once and every flag
	patients []app.Patient
}

// importPatient is the i-th qualified identity with a production INS.
func importPatient(t testing.TB, i int) app.Patient {
	body := fmt.Sprintf("%d8%02d75%03d%04d", 1+i%2, 1+i%12, 100+i, 2000+i)
	k, err := app.INSKey(body)
	if err != nil {
		t.Fatal(err)
	}
	return app.Patient{
		ID: app.PatientID(fmt.Sprintf("kp%03d", i)), INS: app.INS{Matricule: body + k, OID: app.OIDINSNIR},
		Status: app.IdentityQualified, BirthName: fmt.Sprintf("KILLTEST%c", 'A'+i%26), BirthGivenNames: "CAMILLE",
		BirthDate: fmt.Sprintf("19%02d-0%d-1%d", 50+i, 1+i%9, i%10), Sex: app.Sex([]string{"F", "M"}[i%2]), BirthPlace: "75056",
	}
}

// newImportEnv prepares the vault (light KDF, device secret in a file),
// the config, the secret files and a fresh mailbox user.
func newImportEnv(t *testing.T, srv *mailtest.Server, patients int) *importEnv {
	t.Helper()
	dir := t.TempDir()
	e := &importEnv{srv: srv, user: srv.NewUser(), data: filepath.Join(dir, "data")}
	for i := 0; i < patients; i++ {
		e.patients = append(e.patients, importPatient(t, i))
	}
	if err := os.MkdirAll(e.data, 0o700); err != nil {
		t.Fatal(err)
	}
	kdf := crypto.LightParams()
	v, err := vault.Open(filepath.Join(e.data, "vault.db"), vault.Options{KDF: &kdf, Keyring: crypto.NoKeyring{}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := v.Create(ctx, []byte(importPass), app.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := v.Write(ctx, &app.Batch{Patients: e.patients}); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "config.toml")
	toml := fmt.Sprintf("[[mailbox]]\nhost = \"localhost\"\nport = %d\nsecurity = \"implicit\"\nca_file = %q\nusername = %q\nauth = \"plain\"\nmark = \"keyword\"\n",
		srv.IMAPS, srv.CAFile, e.user)
	if err := os.WriteFile(conf, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	e.args = []string{"import", "--once", "--config", conf, "--data", e.data, "--no-keyring", "--insecure-test-kdf",
		"--passphrase-file", secretFile(t, dir, "pass", importPass, 0o600),
		"--password-file", secretFile(t, dir, "mailpw", mailtest.Password, 0o600)}
	return e
}

// report returns the message of the i-th report: auto-filed for a patient
// of the vault, or without INS (manual queue) when noINS.
func (e *importEnv) report(t *testing.T, i int, noINS bool) ([]byte, app.DocumentID) {
	t.Helper()
	p := e.patients[i%len(e.patients)]
	id := fmt.Sprintf("1.2.250.1.999.77.%d", i)
	zip, err := mailtest.XDM(mailtest.CDA{ID: id, Patient: p, NoINS: noINS, Payload: []byte(fmt.Sprintf("Résultat %d", i))})
	if err != nil {
		t.Fatal(err)
	}
	return mailtest.XDMMail(mailtest.Header{MessageID: fmt.Sprintf("kill-%d@labo-x.mssante.fr", i)}, zip, nil), app.DocumentID(id)
}

// openVault opens and unlocks the env's vault in the test process.
func (e *importEnv) open(t *testing.T) *vault.Vault {
	t.Helper()
	kdf := crypto.LightParams()
	v, err := vault.Open(filepath.Join(e.data, "vault.db"), vault.Options{KDF: &kdf, Keyring: crypto.NoKeyring{}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Unlock(context.Background(), []byte(importPass)); err != nil {
		v.Close()
		t.Fatal(err)
	}
	return v
}

// TestImportKillChild is the child of TestImportKill9: it runs the command
// line given in CARNET_IMPORT_CHILD and exits with its status.
func TestImportKillChild(t *testing.T) {
	args := os.Getenv("CARNET_IMPORT_CHILD")
	if args == "" {
		t.Skip("child process of TestImportKill9 only")
	}
	os.Exit(run(strings.Split(args, "\x1f"), strings.NewReader(""), os.Stdout, os.Stderr, quiet()))
}

// TestImportKill9 runs `carnet import --once` 50 times in a child process
// killed with SIGKILL after 5 to 300 ms, then once to the end, against a
// real Dovecot: no message is lost (every report filed or queued), none is
// imported twice (one document per report in the manifests, one inbox
// item per queued report), every message ends marked on the server, and
// the vault checks sound after every run.
func TestImportKill9(t *testing.T) {
	srv := mailtest.StartDovecot(t)
	if testing.Short() {
		t.Skip("-short")
	}
	e := newImportEnv(t, srv, 6)
	const manualEvery, perRun, runs = 5, 16, 50
	want := map[app.DocumentID]bool{} // report id → queued for a person
	messages := 0
	deliver := func(n int) {
		var raws [][]byte
		for ; n > 0; n-- {
			i := messages
			raw, id := e.report(t, i, i%manualEvery == manualEvery-1)
			want[id] = i%manualEvery == manualEvery-1
			raws = append(raws, raw)
			messages++
		}
		if err := srv.DeliverMaildir(e.user, raws); err != nil {
			t.Fatal(err)
		}
	}
	// Every run has new mail to import, so that the kills land anywhere:
	// start, unlock, connect, fetch, commit, mark.
	deliver(24)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	killed, exited, partial := 0, 0, 0
	for r := 0; r <= runs; r++ {
		if r > 0 && r < runs {
			deliver(perRun)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestImportKillChild$")
		cmd.Env = append(os.Environ(), "CARNET_IMPORT_CHILD="+strings.Join(e.args, "\x1f"))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if r < runs {
			time.Sleep(time.Duration(5+rng.IntN(296)) * time.Millisecond)
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		} else {
			exited++
			if r == runs && err != nil {
				t.Fatalf("final run: %v\n%s", err, out.String())
			}
		}
		v := e.open(t)
		rep, err := v.Check(context.Background())
		st, _ := v.MailState(context.Background(), e.user, "INBOX")
		v.Close()
		if err != nil || !rep.OK() {
			t.Fatalf("run %d: check %v %v", r, err, rep.Problems)
		}
		if st.LastUID > 0 && st.LastUID < uint32(messages) {
			partial++
		}
	}
	t.Logf("%d messages; %d runs killed, %d ran to their end, %d left the mailbox half imported", messages, killed, exited, partial)

	v := e.open(t)
	defer v.Close()
	ctx := context.Background()
	filed := map[app.DocumentID]int{}
	for _, p := range e.patients {
		m, err := v.Manifest(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range m.Documents {
			filed[d.ID]++
			if !d.Cached {
				t.Errorf("document %s listed but its content is missing", d.ID)
			}
		}
	}
	items, err := v.Inbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	queued := map[app.DocumentID]int{}
	for _, it := range items {
		if it.Report == nil || it.State != app.InboxPending {
			t.Errorf("unexpected inbox item %s %s", it.State, it.Reason)
			continue
		}
		queued[it.Report.Meta.ID]++
	}
	for id, manual := range want {
		switch {
		case manual && (queued[id] != 1 || filed[id] != 0):
			t.Errorf("report %s: queued %d times, filed %d times; want queued once", id, queued[id], filed[id])
		case !manual && (filed[id] != 1 || queued[id] != 0):
			t.Errorf("report %s: filed %d times, queued %d times; want filed once", id, filed[id], queued[id])
		}
	}
	if len(filed)+len(queued) != len(want) {
		t.Errorf("%d filed and %d queued reports, want %d in all", len(filed), len(queued), len(want))
	}
	flags, err := srv.Flags(e.user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(flags) != messages {
		t.Fatalf("%d messages on the server, want %d (never delete)", len(flags), messages)
	}
	for uid, f := range flags {
		if !strings.Contains(f, app.ImportedKeyword) || strings.Contains(f, `\Seen`) {
			t.Errorf("uid %d flags %q: want %s and no \\Seen", uid, f, app.ImportedKeyword)
		}
	}
	st, err := v.MailState(ctx, e.user, "INBOX")
	if err != nil || st.LastUID != uint32(messages) {
		t.Errorf("sync point %+v %v, want last uid %d", st, err, messages)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// zipSlip is an IHE_XDM.ZIP whose entry climbs out of the archive.
func zipSlip(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range []string{"IHE_XDM/SUBSET01/METADATA.XML", "../../../etc/cron.d/evil"} {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("x"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportCommand(t *testing.T) {
	srv := mailtest.StartDovecot(t)
	e := newImportEnv(t, srv, 2)
	auto, _ := e.report(t, 0, false)
	manual, _ := e.report(t, 1, true)
	hostile := mailtest.XDMMail(mailtest.Header{MessageID: "slip@labo"}, zipSlip(t), nil)
	for _, raw := range [][]byte{auto, manual, hostile} {
		if err := srv.Deliver(e.user, "INBOX", raw); err != nil {
			t.Fatal(err)
		}
	}
	code, out := carnet(t, e.args...)
	if code != importIncomplete {
		t.Fatalf("exit %d, want %d (a message quarantined)\n%s", code, importIncomplete, out)
	}
	for _, want := range []string{"imported 1 documents", "manual 1", "quarantined 1", "903 no-ins", "not done:", "uid 3 quarantined", "archive"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, p := range e.patients {
		if strings.Contains(out, p.BirthName) || strings.Contains(out, p.INS.Matricule) {
			t.Fatalf("health data in the output:\n%s", out)
		}
	}
	// Nothing new: success. The quarantined message stays unmarked.
	if code, out := carnet(t, e.args...); code != importOK || !strings.Contains(out, "import: 0 messages") {
		t.Fatalf("second run: %d\n%s", code, out)
	}
	flags, err := srv.Flags(e.user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(flags[3], app.ImportedKeyword) || !strings.Contains(flags[1], app.ImportedKeyword) {
		t.Fatalf("flags %v", flags)
	}
	// A wrong mailbox password: the account is not done.
	bad := append([]string(nil), e.args...)
	bad[len(bad)-1] = secretFile(t, t.TempDir(), "pw", "wrong", 0o600)
	if code, out := carnet(t, bad...); code != importIncomplete || !strings.Contains(out, "authentication failed") {
		t.Fatalf("wrong password: %d\n%s", code, out)
	}
}

func TestImportCommandRefusals(t *testing.T) {
	dir := t.TempDir()
	pass := secretFile(t, dir, "pass", importPass, 0o600)
	open := secretFile(t, dir, "open", "pw", 0o644)
	conf := func(body string) string {
		p := filepath.Join(dir, fmt.Sprintf("c%d.toml", rand.IntN(1<<30)))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := "[[mailbox]]\nhost = \"imap.example\"\nsecurity = \"implicit\"\nusername = \"dr@x.mssante.fr\"\n"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no mailbox", []string{"--config", conf("")}, "no [[mailbox]]"},
		{"plaintext", []string{"--config", conf(strings.Replace(good, "implicit", "none", 1))}, "plaintext is refused"},
		{"no host", []string{"--config", conf(strings.Replace(good, "imap.example", "", 1))}, "host is required"},
		{"move without folder", []string{"--config", conf(good + "mark = \"move\"\n")}, "needs a folder"},
		{"bad auth", []string{"--config", conf(good + "auth = \"cram-md5\"\n")}, "want plain, login"},
		{"unknown key", []string{"--config", conf(good + "password = \"x\"\n")}, "unknown key"},
		{"twice", []string{"--config", conf(good + good)}, "listed twice"},
		{"open password file", []string{"--config", conf(good), "--password-file", open}, "chmod 600"},
		{"once and watch", []string{"--once", "--watch", "1m"}, "not both"},
		{"secret in argv", []string{"hunter2"}, "never given on the command line"},
	}
	for _, c := range cases {
		args := append([]string{"import", "--data", filepath.Join(dir, "data"), "--passphrase-file", pass}, c.args...)
		code, out := carnet(t, args...)
		if code != importFailed || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, want %d and %q:\n%s", c.name, code, importFailed, c.want, out)
		}
	}
}
