package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// demoPatients is the size of the demo population.
const demoPatients = 60

// demoWords make the demo passphrase readable on screen.
var demoWords = []string{"carnet", "tilleul", "verveine", "garance", "lavande", "sureau", "mimosa", "bleuet", "cerfeuil", "aubepine", "camomille", "pervenche"}

// openDemo prepares demo mode: a vault in dataDir (a new temporary directory
// when empty, removed by cleanup at exit) with synthetic patients, locked,
// and its passphrase, which the unlock screen shows and
// DIR/demo-passphrase.txt (0600) holds for scripts. The device secret lives
// in a file (no OS keyring is touched in demo mode).
func openDemo(dataDir string, log *slog.Logger) (v *vault.Vault, pass string, cleanup func(), err error) {
	cleanup = func() {}
	if dataDir == "" {
		d, err := os.MkdirTemp("", "carnet-demo-")
		if err != nil {
			return nil, "", cleanup, fmt.Errorf("demo: %w", err)
		}
		dataDir = d
		cleanup = func() { os.RemoveAll(d) }
	}
	v, pass, err = prepareDemo(dataDir, log)
	if err != nil {
		cleanup()
	}
	return v, pass, cleanup, err
}

// prepareDemo opens or creates the demo vault in dataDir.
func prepareDemo(dataDir string, log *slog.Logger) (*vault.Vault, string, error) {
	v, err := openVault(dataDir, vault.Options{Logger: log, Keyring: crypto.NoKeyring{}})
	if err != nil {
		return nil, "", err
	}
	passFile := filepath.Join(dataDir, "demo-passphrase.txt")
	if v.Exists() {
		raw, err := readSecretFile(passFile)
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
	if err := v.Write(ctx, &app.Batch{Patients: dmptest.Patients(1, demoPatients)}); err != nil {
		v.Close()
		return nil, "", fmt.Errorf("demo: seed patients: %w", err)
	}
	v.Lock()
	log.Info("demo vault ready", "dir", dataDir, "patients", demoPatients)
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
