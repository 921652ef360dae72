// Package config is Carnet's configuration file, config.toml: where the
// central record service, the practitioner's credential and the secure
// mailboxes are. It loads and validates the file (unknown keys refused),
// maps it to the application's app.Connection and back, and keeps the
// connection in it (File, an app.ConnectionStore written atomically with
// mode 0600) or in memory (Memory, demo mode). No secret lives in it.
package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
//	protocol     = "xds"   # "xds" (the default when absent): the DMP's production SOAP interface
//	                       # (XDS.b + VIHF); "fhir": the PDSm FHIR API (a draft, not in service)
//	url          = "https://lps.dev9.dmp.gouv.fr/si-dmp-server/v2/services"  # xds: services base; fhir: FHIR base
//	ca_file      = "/etc/carnet/igc-sante.pem"  # authorities trusted for it (PEM)
//	source_oid   = "1.2.250.1.999.1"            # xds: the LPS OID (submission sets, TD0.2)
//	homologation = "CAR-2026-tmp1"              # xds: the CNAM homologation id (VIHF LPS_ID_HOMOLOGATION_DMP)
//	auth_mode    = "indirecte"                  # xds: "directe" (CPS card) or "indirecte" (organisation certificate)
//	# vihf_pkcs12_file = "/etc/carnet/cachet.p12"  # xds, indirecte: a second .p12 signs the VIHF (same PIN)
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
		// (sync/dmp); empty means "xds" (see Config.Protocol).
		Protocol     string `toml:"protocol,omitempty"`
		SourceOID    string `toml:"source_oid,omitempty"`
		Homologation string `toml:"homologation,omitempty"`
		AuthMode     string `toml:"auth_mode,omitempty"`
		// VIHFPKCS12File (xds, indirect mode): a second PKCS#12 file, the
		// organisation's seal, that signs the VIHF while [credential]
		// holds the TLS session; opened with the same PIN. Empty: the
		// [credential] signs both.
		VIHFPKCS12File string `toml:"vihf_pkcs12_file,omitempty"`
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
	// Mailboxes are the MSSanté secure mailboxes `carnet import` and the
	// desktop read ([[mailbox]] tables, see Mailbox).
	Mailboxes []Mailbox `toml:"mailbox,omitempty"`
}

// Configured reports whether the central service and a credential are set:
// without them Carnet works on its vault alone.
func (c Config) Configured() bool {
	return c.DMP.URL != "" && (c.Credential.PKCS12File != "" || c.Credential.PKCS11Module != "")
}

// The [dmp] protocols.
const (
	ProtocolXDS  = app.ProtocolXDS  // the DMP's production SOAP interface (sync/dmp/xds)
	ProtocolFHIR = app.ProtocolFHIR // the PDSm FHIR API (sync/dmp)
)

// Protocol is the configured [dmp] protocol: ProtocolXDS when absent (the
// DMP in service speaks only XDS.b/SOAP; the FHIR API is a draft).
func (c Config) Protocol() string {
	if c.DMP.Protocol == "" {
		return ProtocolXDS
	}
	return c.DMP.Protocol
}

// DefaultPath is config.toml in the user config directory ("" when the
// system has none).
func DefaultPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "carnet", "config.toml")
}

// Load reads path; a missing file is an empty configuration (Carnet
// then works offline on its vault). Unknown keys are refused, so that a typo
// is not silently ignored.
func Load(path string) (Config, error) {
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
	if err := c.Connection().Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// FacilityType returns the configured TRE_R02 facility type of the
// documents written in Carnet (default SA04, établissement privé non PSPH).
func (c Config) FacilityType() app.Code { return FacilityCode(c.Structure.FacilityType) }

// FacilityCode is the TRE_R02 code of a facility type, SA04 when empty.
func FacilityCode(code string) app.Code {
	if code == "" {
		code = "SA04"
	}
	return app.Code{Code: code, System: "1.2.250.1.71.4.2.4"}
}

// SyncInterval returns the background sync period (default 5 minutes, at
// least 30 seconds).
func (c Config) SyncInterval() (time.Duration, error) {
	if c.Sync.Interval == "" {
		return 5 * time.Minute, nil
	}
	d, err := time.ParseDuration(c.Sync.Interval)
	if err != nil || d < 30*time.Second {
		return 0, fmt.Errorf("config: sync interval %q: at least 30s", c.Sync.Interval)
	}
	return d, nil
}

// Connection is the configuration as the application sees it.
func (c Config) Connection() app.Connection {
	conn := app.Connection{ServiceURL: c.DMP.URL, ServiceCA: c.DMP.CAFile, FacilityType: c.Structure.FacilityType,
		Protocol: c.DMP.Protocol, AuthMode: c.DMP.AuthMode, VIHFFile: c.DMP.VIHFPKCS12File}
	switch {
	case c.Credential.PKCS11Module != "":
		conn.Credential = app.CredentialConfig{Kind: app.CredentialCard, Module: c.Credential.PKCS11Module, Slot: c.Credential.PKCS11Slot}
	case c.Credential.PKCS12File != "":
		conn.Credential = app.CredentialConfig{Kind: app.CredentialFile, File: c.Credential.PKCS12File}
	}
	for _, m := range c.Mailboxes {
		conn.Mailboxes = append(conn.Mailboxes, m.Account())
	}
	return conn
}

// SetConnection replaces the sections of c that the connection holds
// ([dmp] but its source_oid and homologation, [credential], [structure],
// [[mailbox]]); [sync] stays.
func (c *Config) SetConnection(conn app.Connection) {
	c.DMP.URL, c.DMP.CAFile = conn.ServiceURL, conn.ServiceCA
	c.DMP.Protocol, c.DMP.AuthMode, c.DMP.VIHFPKCS12File = conn.Protocol, conn.AuthMode, conn.VIHFFile
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
		c.Mailboxes = append(c.Mailboxes, MailboxOf(m))
	}
}

// File keeps the connection in a config.toml file (the desktop
// application's app.ConnectionStore). Saving rewrites the whole file
// atomically with mode 0600, keeping the sections the connection does not
// hold.
type File struct {
	Path string // the file; "" refuses saving (not editable)
	mu   sync.Mutex
}

// Connection implements app.ConnectionStore.
func (f *File) Connection(context.Context) (app.Connection, error) {
	c, err := f.load()
	if err != nil {
		return app.Connection{}, err
	}
	return c.Connection(), nil
}

// load reads the file.
func (f *File) load() (Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Load(f.Path)
}

// SaveConnection implements app.ConnectionStore.
func (f *File) SaveConnection(_ context.Context, conn app.Connection) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Path == "" {
		return fmt.Errorf("save configuration: no configuration file: %w", app.ErrInvalid)
	}
	c, err := Load(f.Path)
	if err != nil {
		return err
	}
	c.SetConnection(conn)
	var buf bytes.Buffer
	buf.WriteString("# Carnet configuration: the central record service, the practitioner's\n" +
		"# credential, the structure and the secure mailboxes. No secret lives here.\n" +
		"# Written by Carnet's settings screen; the clinic's IT may deploy it.\n\n")
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	return WriteFileAtomic(f.Path, buf.Bytes())
}

// WriteFileAtomic writes data to path through a temporary file of mode
// 0600 in the same directory (created 0700), synced then renamed: a crash
// leaves the old file or the new one, never half of one. A path that is a
// symbolic link (a file the clinic's IT deploys elsewhere) is written
// through the link, not replaced by a regular file; a read-only file (no
// owner write permission) or anything but a regular file is refused
// rather than replaced.
func WriteFileAtomic(path string, data []byte) error {
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

// Memory keeps the connection in memory (demo mode: the sandbox's
// address changes at every start, nothing is written).
type Memory struct {
	mu   sync.Mutex
	conn app.Connection
}

// NewMemory returns a Memory that holds conn.
func NewMemory(conn app.Connection) *Memory { return &Memory{conn: conn} }

// Connection implements app.ConnectionStore.
func (m *Memory) Connection(context.Context) (app.Connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.conn
	c.Mailboxes = append([]app.MailAccount(nil), c.Mailboxes...)
	return c, nil
}

// SaveConnection implements app.ConnectionStore.
func (m *Memory) SaveConnection(_ context.Context, c app.Connection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.Mailboxes = append([]app.MailAccount(nil), c.Mailboxes...)
	m.conn = c
	return nil
}

// Mailbox is one [[mailbox]] table of config.toml: an MSSanté secure
// mailbox (BAL) that `carnet import` and the desktop application read. No
// secret lives here: the password (or access token) is sealed in the vault
// by the settings screen, or comes from a 0600 file (--password-file) or
// the terminal; the client certificate from the [credential] table.
//
//	[[mailbox]]
//	host     = "imap.operateur.mssante.fr"
//	port     = 993                       # 993 (implicit) or 143 (starttls) when omitted
//	security = "implicit"                # implicit | starttls (no plaintext)
//	ca_file  = "/etc/carnet/igc-sante.pem"  # authorities trusted for the servers (PEM); system roots when omitted
//	username = "dr.martin@clinique.mssante.fr"  # the BAL address
//	auth     = "plain"                   # plain | login | external | oauthbearer; chosen from the server when omitted
//	mailbox  = "INBOX"                   # the folder imported
//	mark     = "keyword"                 # keyword ($CarnetImported) | move (to folder)
//	folder   = "Carnet/Importés"         # MOVE target (mark = "move")
//	# read receipts (RFC 8098), off by default, sent through SMTP submission:
//	read_receipts = true
//	smtp_host     = "smtp.operateur.mssante.fr"
//	smtp_port     = 587                  # 587 (starttls) or 465 (implicit) when omitted
//	smtp_security = "starttls"           # starttls (default) | implicit
type Mailbox struct {
	Host         string `toml:"host"`
	Port         int    `toml:"port,omitempty"`
	Security     string `toml:"security"`
	CAFile       string `toml:"ca_file,omitempty"`
	Username     string `toml:"username"`
	Auth         string `toml:"auth,omitempty"`
	Mailbox      string `toml:"mailbox,omitempty"`
	Mark         string `toml:"mark,omitempty"`
	Folder       string `toml:"folder,omitempty"`
	ReadReceipts bool   `toml:"read_receipts,omitempty"`
	SMTPHost     string `toml:"smtp_host,omitempty"`
	SMTPPort     int    `toml:"smtp_port,omitempty"`
	SMTPSecurity string `toml:"smtp_security,omitempty"`
}

// Account is the table as the application sees it.
func (m Mailbox) Account() app.MailAccount {
	return app.MailAccount{
		Address: m.Username, Host: m.Host, Port: m.Port, Security: app.MailSecurity(m.Security), CAFile: m.CAFile,
		Auth: app.MailAuth(strings.ToLower(m.Auth)), Folder: m.Mailbox, Mark: m.Mark, MoveTo: m.Folder,
		SMTPHost: m.SMTPHost, SMTPPort: m.SMTPPort, SMTPSecurity: app.MailSecurity(m.SMTPSecurity), ReadReceipts: m.ReadReceipts,
	}
}

// MailboxOf is the [[mailbox]] table of an account.
func MailboxOf(a app.MailAccount) Mailbox {
	return Mailbox{
		Host: a.Host, Port: a.Port, Security: string(a.Security), CAFile: a.CAFile, Username: a.Address,
		Auth: string(a.Auth), Mailbox: a.Folder, Mark: a.Mark, Folder: a.MoveTo,
		ReadReceipts: a.ReadReceipts, SMTPHost: a.SMTPHost, SMTPPort: a.SMTPPort, SMTPSecurity: string(a.SMTPSecurity),
	}
}

// Of is the configuration of a connection (the [sync] table empty).
func Of(conn app.Connection) Config {
	var c Config
	c.SetConnection(conn)
	return c
}
