// Package demoworld is the world of `carnet --demo`: the sandbox central
// record service in process with synthetic patients (FHIR or XDS side), a
// fresh vault holding them (passphrase shown on screen), tomorrow's
// operating list, and a secure mailbox (go-imap's in-memory IMAP server
// with implicit TLS) seeded with reports that exercise every import path,
// with real, readable PDFs. Synthetic data only.
package demoworld

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/internal/secret"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// Patients is the size of the demo population.
const Patients = 60

// The demo's LPS identifiers on the XDS side (test values, not issued).
const (
	SourceOID    = "1.2.250.1.999.77.1"
	Homologation = "CARNET-DEMO-tmp1"
)

// Seed makes the demo population the same at every start.
const Seed = 1

// demoWords make the demo passphrase readable on screen (ASCII only, so
// that scripts can type it).
var demoWords = []string{"carnet", "tilleul", "verveine", "garance", "lavande", "sureau", "mimosa", "bleuet", "cerfeuil", "aubepine", "camomille", "pervenche"}

// Env is what demo mode runs on: a vault with synthetic patients, the
// sandbox central record service in process, and one of its practitioner
// credentials.
type Env struct {
	Vault      *vault.Vault
	Passphrase string        // shown on the unlock screen
	Config     config.Config // the sandbox's URL, CA and the anesthesiologist's PKCS#12 file
	PIN        string        // its PIN, shown in the sign-in dialog
	Mail       Mailbox       // the demo's secure mailbox, also in Config (mail.go)
	Sandbox    *dmptest.Sandbox
	cleanups   []func() // stop the sandbox and the mailbox; remove a temporary data directory
}

// Close stops the sandbox and the mailbox and removes a temporary data
// directory (the vault is the caller's to close).
func (env *Env) Close() {
	for i := len(env.cleanups) - 1; i >= 0; i-- {
		env.cleanups[i]()
	}
	env.cleanups = nil
}

// Outage pauses the demo's sandbox (black-holed: requests accepted, never
// answered, as a lost network) or resumes it: the demo's outage switch.
func (env *Env) Outage(paused bool) {
	if paused {
		env.Sandbox.Pause()
	} else {
		env.Sandbox.Resume()
	}
}

// Open prepares demo mode in dataDir (a new temporary directory when
// empty, removed at exit): the sandbox on a loopback port with its
// credentials in dataDir/sandbox, and a vault whose directory holds the
// sandbox's synthetic patients, locked. The passphrase is shown on the
// unlock screen and written to dataDir/demo-passphrase.txt (0600) for
// scripts. The device secret lives in a file: no OS keyring is touched.
func Open(dataDir, protocol string, log *slog.Logger) (*Env, error) {
	env := &Env{}
	if dataDir == "" {
		d, err := os.MkdirTemp("", "carnet-demo-")
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		dataDir = d
		env.cleanups = append(env.cleanups, func() { os.RemoveAll(d) })
	}
	sb, sbDir, err := dmptest.Start(dmptest.Config{
		Listen:   "127.0.0.1:0",
		Patients: Patients,
		Seed:     Seed,
		DataDir:  filepath.Join(dataDir, "sandbox"),
	})
	if err != nil {
		env.Close()
		return nil, fmt.Errorf("demo: sandbox: %w", err)
	}
	env.cleanups = append(env.cleanups, sb.Close)
	env.Sandbox = sb
	cred := sb.PKI.Credentials[dmptest.KeyAnesthetist].Practitioner
	env.Config.DMP.URL = sb.URL
	env.Config.DMP.Protocol = config.ProtocolFHIR
	if protocol != config.ProtocolFHIR {
		// The same sandbox, its XDS.b/SOAP side (the demo's test OIDs).
		env.Config.DMP.Protocol = config.ProtocolXDS
		env.Config.DMP.URL = strings.TrimSuffix(sb.URL, sb.BasePath()) + dmptest.XDSBasePath
		env.Config.DMP.SourceOID = SourceOID
		env.Config.DMP.Homologation = Homologation
	}
	env.Config.DMP.CAFile = filepath.Join(sbDir, "ca.pem")
	env.Config.Credential.PKCS12File = cred.P12Path
	env.PIN = cred.PIN

	env.Vault, env.Passphrase, err = prepareDemoVault(dataDir, demoOperatingList(sb, cred.RPPS), log)
	if err != nil {
		env.Close()
		return nil, err
	}
	mb, stopMail, err := StartMailbox(sb.Population(), filepath.Join(dataDir, "mailbox"), log)
	if err != nil {
		env.Close()
		return nil, err
	}
	env.cleanups = append(env.cleanups, stopMail)
	env.Mail = mb
	env.Config.Mailboxes = []config.Mailbox{config.MailboxOf(mb.Account)}
	if err := writeDemoHints(dataDir, sb, env.PIN); err != nil {
		env.Close()
		return nil, err
	}
	log.Info("demo ready", "dir", dataDir, "patients", Patients, "protocol", env.Config.DMP.Protocol, "sandbox", env.Config.DMP.URL)
	return env, nil
}

// demoListSize is how many patients the demo's operating list holds.
const demoListSize = 8

// demoOperatingList returns the sandbox population with tomorrow's
// operating list already imported: a few patients the demo practitioner may
// open are scheduled at 08:00, so that the background sync prefetches their
// records and a newcomer finds them readable, offline too.
func demoOperatingList(sb *dmptest.Sandbox, rpps string) []app.Patient {
	ps := sb.Population()
	y, m, d := time.Now().AddDate(0, 0, 1).Date()
	tomorrow := time.Date(y, m, d, 8, 0, 0, 0, time.Local)
	n := 0
	for i := range ps {
		if n == demoListSize {
			break
		}
		exists, closed, authorised, blocked, _ := sb.Patient(ps[i].INS, rpps)
		if exists && !closed && authorised && !blocked && ps[i].Status == app.IdentityQualified {
			ps[i].Scheduled = tomorrow.Add(time.Duration(n) * 45 * time.Minute)
			n++
		}
	}
	return ps
}

// writeDemoHints writes, for scripts (make screenshot, smoke runs), the
// sandbox PIN (demo-pin.txt) and the INS of a patient whose record the demo
// practitioner may open (demo-patient.txt), both 0600. Synthetic data only.
func writeDemoHints(dataDir string, sb *dmptest.Sandbox, pin string) error {
	p, ok := sb.FindPatient(func(p app.Patient, exists, closed bool, authz, blocked map[string]bool) bool {
		return exists && !closed && authz[dmptest.KeyAnesthetist] && !blocked[dmptest.KeyAnesthetist] && p.Status == app.IdentityQualified
	})
	hints := map[string]string{"demo-pin.txt": pin}
	if ok {
		hints["demo-patient.txt"] = p.INS.Matricule
	}
	for name, v := range hints {
		if err := os.WriteFile(filepath.Join(dataDir, name), []byte(v+"\n"), 0o600); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}

// prepareDemoVault opens the demo vault of dataDir, or creates it with the
// given patients in its directory.
func prepareDemoVault(dataDir string, patients []app.Patient, log *slog.Logger) (*vault.Vault, string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("demo: data directory: %w", err)
	}
	v, err := vault.Open(filepath.Join(dataDir, "vault.db"), vault.Options{Logger: log, Keyring: crypto.NoKeyring{}})
	if err != nil {
		if errors.Is(err, app.ErrInUse) {
			return nil, "", fmt.Errorf("another Carnet already uses this vault (%s): %w", dataDir, err)
		}
		return nil, "", err
	}
	passFile := filepath.Join(dataDir, "demo-passphrase.txt")
	if v.Exists() {
		raw, err := secret.ReadFile(passFile)
		if err != nil {
			v.Close()
			return nil, "", fmt.Errorf("demo: existing vault without its passphrase file: %w", err)
		}
		return v, string(raw), nil
	}
	pass, err := demoPassphrase()
	if err != nil {
		v.Close()
		return nil, "", err
	}
	if err := os.WriteFile(passFile, []byte(pass+"\n"), 0o600); err != nil {
		v.Close()
		return nil, "", fmt.Errorf("demo: %w", err)
	}
	ctx := context.Background()
	if err := v.Create(ctx, []byte(pass), app.CreateOptions{}); err != nil {
		v.Close()
		return nil, "", fmt.Errorf("demo: create vault: %w", err)
	}
	if err := v.Write(ctx, &app.Batch{Patients: patients}); err != nil {
		v.Close()
		return nil, "", fmt.Errorf("demo: seed patients: %w", err)
	}
	v.Lock()
	return v, pass, nil
}

// demoPassphrase draws four words and a number.
func demoPassphrase() (string, error) {
	words := make([]string, 0, 5)
	for i := 0; i < 4; i++ {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(demoWords))))
		if err != nil {
			return "", fmt.Errorf("demo passphrase: %w", err)
		}
		words = append(words, demoWords[n.Int64()])
	}
	n, err := rand.Int(rand.Reader, big.NewInt(100))
	if err != nil {
		return "", fmt.Errorf("demo passphrase: %w", err)
	}
	return strings.Join(words, "-") + fmt.Sprintf("-%02d", n.Int64()), nil
}
