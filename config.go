package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/carnetdesk/carnet/app"
)

// Config is Carnet's configuration file (config.toml in the user config
// directory, or --config FILE): where the central record service is and
// where the practitioner's credential is. No secret lives in it: PINs are
// asked for, or read from a 0600 file given with --pin-file.
//
//	[dmp]
//	url     = "https://dmp.example/fhir"   # FHIR base of the central service
//	ca_file = "/etc/carnet/igc-sante.pem"  # authorities trusted for it (PEM)
//
//	[credential]
//	pkcs11_module = "/usr/lib/x86_64-linux-gnu/libcps3_pkcs11_lux.so"  # CPS card
//	pkcs11_slot   = "CPS"                                             # slot number or token label
//	# or, on a machine without a card reader:
//	pkcs12_file   = "/home/dr/.config/carnet/practitioner.p12"
//
//	[structure]
//	facility_type = "SA04"   # TRE_R02 type of the structure (SA04: établissement privé non PSPH)
//
//	[sync]
//	interval = "5m"          # background sync of the desktop app
type Config struct {
	DMP struct {
		URL    string `toml:"url"`
		CAFile string `toml:"ca_file"`
	} `toml:"dmp"`
	Credential struct {
		PKCS12File   string `toml:"pkcs12_file"`
		PKCS11Module string `toml:"pkcs11_module"`
		PKCS11Slot   string `toml:"pkcs11_slot"`
	} `toml:"credential"`
	Structure struct {
		FacilityType string `toml:"facility_type"` // TRE_R02 code of the documents written here (default SA04)
	} `toml:"structure"`
	Sync struct {
		Interval string `toml:"interval"` // background sync period in the desktop app (default "5m")
	} `toml:"sync"`
	// Mailboxes are the MSSanté secure mailboxes `carnet import` reads
	// ([[mailbox]] tables, see MailboxConfig in cli_import.go).
	Mailboxes []MailboxConfig `toml:"mailbox"`
}

// Configured reports whether the central service and a credential are set:
// without them Carnet works on its vault alone.
func (c Config) Configured() bool {
	return c.DMP.URL != "" && (c.Credential.PKCS12File != "" || c.Credential.PKCS11Module != "")
}

// CredentialLabel names the credential for the sign-in screen.
func (c Config) CredentialLabel() string {
	if c.Credential.PKCS11Module != "" {
		return "carte CPS"
	}
	return filepath.Base(c.Credential.PKCS12File)
}

// defaultConfigPath is config.toml in the user config directory.
func defaultConfigPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "carnet", "config.toml")
}

// loadConfig reads path; a missing file is an empty configuration (Carnet
// then works offline on its vault). Unknown keys are refused, so that a typo
// is not silently ignored.
func loadConfig(path string) (Config, error) {
	var c Config
	if path == "" {
		return c, nil
	}
	md, err := toml.DecodeFile(path, &c)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return Config{}, fmt.Errorf("config %s: unknown key %q", path, und[0].String())
	}
	if c.Credential.PKCS12File != "" && c.Credential.PKCS11Module != "" {
		return Config{}, fmt.Errorf("config %s: give either pkcs12_file or pkcs11_module, not both", path)
	}
	if err := validateMailboxes(c.Mailboxes); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// facilityType returns the configured TRE_R02 facility type of the
// documents written in Carnet (default SA04, établissement privé non PSPH).
func (c Config) facilityType() app.Code {
	code := c.Structure.FacilityType
	if code == "" {
		code = "SA04"
	}
	return app.Code{Code: code, System: "1.2.250.1.71.4.2.4"}
}

// syncInterval returns the background sync period (default 5 minutes).
func (c Config) syncInterval() (time.Duration, error) {
	if c.Sync.Interval == "" {
		return 5 * time.Minute, nil
	}
	d, err := time.ParseDuration(c.Sync.Interval)
	if err != nil || d < 30*time.Second {
		return 0, fmt.Errorf("config: sync interval %q: at least 30s", c.Sync.Interval)
	}
	return d, nil
}
