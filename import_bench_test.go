package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/sync/mailbox"
	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
)

// benchMailbox is the import benchmark's mailbox: one Dovecot user holding
// benchMessages messages of ~340 KB (an IHE_XDM.ZIP holding a scanned
// report), delivered once per benchmark binary run (outside the timers).
type benchMailbox struct {
	srv      *mailtest.Server
	user     string
	patients []app.Patient
	bytes    int64 // total raw size of the messages
	err      error
}

const (
	benchMessages = 200
	benchPayload  = 340 << 10 // the message: an incompressible PDF in a CDA in a ZIP, base64 in the mail: ~340 KB
)

var (
	benchOnce sync.Once
	benchMB   benchMailbox
)

// setupBenchMailbox starts Dovecot and delivers the messages (Maildir
// drop: 1,000 doveadm processes would take longer than the import).
func setupBenchMailbox(b *testing.B) *benchMailbox {
	b.Helper()
	mailtest.Require(b)
	benchOnce.Do(func() {
		srv, err := mailtest.Launch("")
		if err != nil {
			benchMB.err = err
			return
		}
		benchMB.srv, benchMB.user = srv, srv.NewUser()
		for i := 0; i < 50; i++ {
			benchMB.patients = append(benchMB.patients, importPatient(b, i))
		}
		raws := make([][]byte, 0, benchMessages)
		for i := 0; i < benchMessages; i++ {
			p := benchMB.patients[i%len(benchMB.patients)]
			z, err := mailtest.XDM(mailtest.CDA{ID: fmt.Sprintf("1.2.250.1.999.88.%d", i), Patient: p,
				Payload: mailtest.RandomPDF(benchPayload * 3 / 4), MediaType: "application/pdf"})
			if err != nil {
				benchMB.err = err
				return
			}
			raw := mailtest.XDMMail(mailtest.Header{MessageID: fmt.Sprintf("bench-%d@labo-x.mssante.fr", i)}, z, nil)
			benchMB.bytes += int64(len(raw))
			raws = append(raws, raw)
		}
		benchMB.err = srv.DeliverMaildir(benchMB.user, raws)
	})
	if benchMB.err != nil {
		b.Fatal(benchMB.err)
	}
	return &benchMB
}

// BenchmarkImport compares Carnet's import of the mailbox (fetch, parse
// the MIME and the XDM, read the CDA headers, match, seal and store into a
// real vault, mark) with mbsync (Debian isync) copying the same mailbox
// into a Maildir, in the same run. MB/s is the mailbox's raw size over the
// time; the goal is Carnet's time ≤ mbsync's. /carnet also reports MB-peak,
// the peak resident memory of the process during the import (goal
// ≤ 64 MB: at most one commit unit of message bodies in memory).
func BenchmarkImport(b *testing.B) {
	mb := setupBenchMailbox(b)
	b.Run("carnet", func(b *testing.B) {
		b.SetBytes(mb.bytes)
		var peak int64
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			svc, v, run := benchVault(b, mb)
			resetPeakRSS(b)
			b.StartTimer()
			sum, err := svc.ImportMail(context.Background(), run)
			b.StopTimer()
			peak = max(peak, peakRSS(b))
			v.Close()
			if err != nil || sum.Filed != benchMessages {
				b.Fatalf("import: %+v %v", sum, err)
			}
			b.StartTimer()
		}
		if peak > 0 {
			b.ReportMetric(float64(peak)/(1<<20), "MB-peak")
		}
	})
	b.Run("mbsync", func(b *testing.B) {
		if _, err := exec.LookPath("mbsync"); err != nil {
			b.Skip("mbsync not installed (apt-get install isync)")
		}
		b.SetBytes(mb.bytes)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			rc := mbsyncrc(b, mb)
			b.StartTimer()
			out, err := exec.Command("mbsync", "-q", "-c", rc, "-a").CombinedOutput()
			b.StopTimer()
			if err != nil {
				b.Fatalf("mbsync: %v %s", err, out)
			}
			if n := countFiles(b, filepath.Join(filepath.Dir(rc), "mail", "INBOX", "cur"), filepath.Join(filepath.Dir(rc), "mail", "INBOX", "new")); n != benchMessages {
				b.Fatalf("mbsync copied %d messages, want %d", n, benchMessages)
			}
			b.StartTimer()
		}
	})
}

// benchVault creates a vault (light KDF) holding the benchmark's patients,
// unlocked, and the account that reads the mailbox.
func benchVault(b *testing.B, mb *benchMailbox) (*app.Service, *vault.Vault, app.MailImport) {
	b.Helper()
	kdf := crypto.LightParams()
	v, err := vault.Open(filepath.Join(b.TempDir(), "vault.db"), vault.Options{KDF: &kdf, Keyring: crypto.NoKeyring{}, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := v.Create(ctx, []byte(importPass), app.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	if err := v.Write(ctx, &app.Batch{Patients: mb.patients}); err != nil {
		b.Fatal(err)
	}
	svc := app.NewService(app.Deps{Store: v, Log: quiet()})
	run := app.MailImport{
		Opener: mailbox.Opener{Log: quiet()},
		Credentials: func(context.Context, app.MailAccount) (app.MailCredentials, error) {
			return app.MailCredentials{Secret: []byte(mailtest.Password)}, nil
		},
		Accounts: []app.MailAccount{{Address: mb.user, Host: "localhost", Port: mb.srv.IMAPS, Security: app.MailImplicitTLS,
			CAFile: mb.srv.CAFile, Auth: app.MailAuthPlain}},
	}
	return svc, v, run
}

// mbsyncrc writes an isync 1.4 configuration pulling the mailbox into a
// fresh Maildir over implicit TLS, trusting the test CA.
func mbsyncrc(b *testing.B, mb *benchMailbox) string {
	b.Helper()
	dir := b.TempDir()
	rc := fmt.Sprintf(`IMAPAccount bench
Host localhost
Port %d
User %s
Pass %s
SSLType IMAPS
CertificateFile %s

IMAPStore remote
Account bench

MaildirStore local
Path %s/mail/
Inbox %s/mail/INBOX
SubFolders Verbatim

Channel pull
Far :remote:
Near :local:
Patterns INBOX
Create Near
Sync Pull
SyncState *
`, mb.srv.IMAPS, mb.user, mailtest.Password, mb.srv.CAFile, dir, dir)
	if err := os.MkdirAll(filepath.Join(dir, "mail"), 0o700); err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(p, []byte(rc), 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

// resetPeakRSS returns the heap to the system and resets the process's
// peak resident set size (Linux: /proc/self/clear_refs, "5"), so that
// peakRSS then measures the import alone (with the runtime and the
// binary, as `carnet import` would have them).
func resetPeakRSS(b *testing.B) {
	b.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("MB-peak not measured: %v", err)
	}
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes,
// 0 when unknown.
func peakRSS(b *testing.B) int64 {
	b.Helper()
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return n << 10
				}
			}
		}
	}
	return 0
}

func countFiles(b *testing.B, dirs ...string) int {
	b.Helper()
	n := 0
	for _, d := range dirs {
		es, err := os.ReadDir(d)
		if err != nil && !os.IsNotExist(err) {
			b.Fatal(err)
		}
		n += len(es)
	}
	return n
}
