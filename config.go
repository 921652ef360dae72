package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
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
//	protocol     = "xds"   # "xds": the DMP's production SOAP interface (XDS.b + VIHF);
//	                       # "fhir": the PDSm FHIR API (draft; the default when absent)
//	url          = "https://lps.dev9.dmp.gouv.fr/si-dmp-server/v2/services"  # xds: services base; fhir: FHIR base
//	ca_file      = "/etc/carnet/igc-sante.pem"  # authorities trusted for it (PEM)
//	source_oid   = "1.2.250.1.999.1"            # xds: the LPS OID (submission sets, TD0.2)
//	homologation = "CAR-2026-tmp1"              # xds: the CNAM homologation id (VIHF LPS_ID_HOMOLOGATION_DMP)
//	auth_mode    = "indirecte"                  # xds: "directe" (CPS card) or "indirecte" (organisation certificate)
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
		URL    string `toml:"url,omitempty"`
		CAFile string `toml:"ca_file,omitempty"`
		// Protocol is "xds" (SOAP, XDS.b, VIHF: sync/dmp/xds) or "fhir"
		// (sync/dmp); empty means "fhir".
		Protocol     string `toml:"protocol,omitempty"`
		SourceOID    string `toml:"source_oid,omitempty"`
		Homologation string `toml:"homologation,omitempty"`
		AuthMode     string `toml:"auth_mode,omitempty"`
	} `toml:"dmp"`
	Credential struct {
		PKCS12File   string `toml:"pkcs12_file,omitempty"`
		PKCS11Module string `toml:"pkcs11_module,omitempty"`
		PKCS11Slot   string `toml:"pkcs11_slot,omitempty"`
	} `toml:"credential"`
	Structure struct {
		FacilityType string `toml:"facility_type,omitempty"` // TRE_R02 code of the documents written here (default SA04)
	} `toml:"structure"`
	Sync struct {
		Interval string `toml:"interval,omitempty"` // background sync period in the desktop app (default "5m")
	} `toml:"sync"`
	// Mailboxes are the MSSanté secure mailboxes `carnet import` reads
	// ([[mailbox]] tables, see MailboxConfig in cli_import.go).
	Mailboxes []MailboxConfig `toml:"mailbox,omitempty"`
}

// Configured reports whether the central service and a credential are set:
// without them Carnet works on its vault alone.
func (c Config) Configured() bool {
	return c.DMP.URL != "" && (c.Credential.PKCS12File != "" || c.Credential.PKCS11Module != "")
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
	if err := c.connection().Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// facilityType returns the configured TRE_R02 facility type of the
// documents written in Carnet (default SA04, établissement privé non PSPH).
func (c Config) facilityType() app.Code { return facilityCode(c.Structure.FacilityType) }

// facilityCode is the TRE_R02 code of a facility type, SA04 when empty.
func facilityCode(code string) app.Code {
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

// connection is the configuration as the application sees it.
func (c Config) connection() app.Connection {
	conn := app.Connection{ServiceURL: c.DMP.URL, ServiceCA: c.DMP.CAFile, FacilityType: c.Structure.FacilityType}
	switch {
	case c.Credential.PKCS11Module != "":
		conn.Credential = app.CredentialConfig{Kind: app.CredentialCard, Module: c.Credential.PKCS11Module, Slot: c.Credential.PKCS11Slot}
	case c.Credential.PKCS12File != "":
		conn.Credential = app.CredentialConfig{Kind: app.CredentialFile, File: c.Credential.PKCS12File}
	}
	for _, m := range c.Mailboxes {
		conn.Mailboxes = append(conn.Mailboxes, m.mailAccount())
	}
	return conn
}

// setConnection replaces the sections of c that the connection holds
// ([dmp], [credential], [structure], [[mailbox]]); [sync] stays.
func (c *Config) setConnection(conn app.Connection) {
	c.DMP.URL, c.DMP.CAFile = conn.ServiceURL, conn.ServiceCA
	c.Credential.PKCS11Module, c.Credential.PKCS11Slot, c.Credential.PKCS12File = "", "", ""
	switch conn.Credential.Kind {
	case app.CredentialCard:
		c.Credential.PKCS11Module, c.Credential.PKCS11Slot = conn.Credential.Module, conn.Credential.Slot
	case app.CredentialFile:
		c.Credential.PKCS12File = conn.Credential.File
	}
	c.Structure.FacilityType = conn.FacilityType
	c.Mailboxes = nil
	for _, m := range conn.Mailboxes {
		c.Mailboxes = append(c.Mailboxes, mailboxConfig(m))
	}
}

// configFile keeps the connection in a config.toml file (the desktop
// application's app.ConnectionStore). Saving rewrites the whole file
// atomically with mode 0600, keeping the sections the connection does not
// hold.
type configFile struct {
	path string
	mu   sync.Mutex
}

// Connection implements app.ConnectionStore.
func (f *configFile) Connection(context.Context) (app.Connection, error) {
	c, err := f.load()
	if err != nil {
		return app.Connection{}, err
	}
	return c.connection(), nil
}

// load reads the file.
func (f *configFile) load() (Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return loadConfig(f.path)
}

// SaveConnection implements app.ConnectionStore.
func (f *configFile) SaveConnection(_ context.Context, conn app.Connection) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.path == "" {
		return fmt.Errorf("save configuration: no configuration file: %w", app.ErrInvalid)
	}
	c, err := loadConfig(f.path)
	if err != nil {
		return err
	}
	c.setConnection(conn)
	var buf bytes.Buffer
	buf.WriteString("# Carnet configuration: the central record service, the practitioner's\n" +
		"# credential, the structure and the secure mailboxes. No secret lives here.\n" +
		"# Written by Carnet's settings screen; the clinic's IT may deploy it.\n\n")
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	return writeFileAtomic(f.path, buf.Bytes())
}

// writeFileAtomic writes data to path through a temporary file of mode
// 0600 in the same directory (created 0700), synced then renamed: a crash
// leaves the old file or the new one, never half of one. A path that is a
// symbolic link (a file the clinic's IT deploys elsewhere) is written
// through the link, not replaced by a regular file; a read-only file (no
// owner write permission) or anything but a regular file is refused
// rather than replaced.
func writeFileAtomic(path string, data []byte) error {
	real, err := filepath.EvalSymlinks(path)
	switch {
	case err == nil:
		path = real
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("save configuration: %w", err)
	}
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("save configuration: %s is not a regular file", path)
		}
		if st.Mode().Perm()&0o200 == 0 {
			return fmt.Errorf("save configuration: %s: %w (deployed by the clinic's IT?): not replaced", path, app.ErrReadOnly)
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.toml")
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("save configuration: %s: %w: %w", dir, app.ErrReadOnly, err)
	}
	if err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: no such file
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save configuration: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("save configuration: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save configuration: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	// The rename itself survives a crash once the directory is synced.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// memConnection keeps the connection in memory (demo mode: the sandbox's
// address changes at every start, nothing is written).
type memConnection struct {
	mu   sync.Mutex
	conn app.Connection
}

// Connection implements app.ConnectionStore.
func (m *memConnection) Connection(context.Context) (app.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.conn
	c.Mailboxes = append([]app.MailAccount(nil), c.Mailboxes...)
	return c, nil
}

// SaveConnection implements app.ConnectionStore.
func (m *memConnection) SaveConnection(_ context.Context, c app.Connection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.Mailboxes = append([]app.MailAccount(nil), c.Mailboxes...)
	m.conn = c
	return nil
}
