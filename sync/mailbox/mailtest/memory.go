package mailtest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// memory is the in-memory IMAP server (go-imap v2's imapserver and
// imapmemserver) a Server runs on when Dovecot is absent in a plain `go
// test` (see StartDovecot): the same users, password, test CA, implicit
// TLS and STARTTLS ports, IMAP4rev2 (IDLE, MOVE, UIDPLUS). CI sets
// CARNET_REQUIRE_DOVECOT=1 and never uses it: Dovecot is the independent
// peer; this fallback only lets a newcomer run the import's tests.
type memory struct {
	mem   *imapmemserver.Server
	srv   *imapserver.Server
	lns   []net.Listener
	mu    sync.Mutex
	users map[string]*imapmemserver.User
}

// Memory reports whether s is the in-memory fallback (no doveadm, no log,
// no variants).
func (s *Server) Memory() bool { return s.mem != nil }

// LaunchMemory starts the in-memory fallback server. The caller stops it
// with Stop.
func LaunchMemory() (*Server, error) {
	dir, err := os.MkdirTemp("", "carnet-imapmem-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), RunAs: "-"}
	fail := func(err error) (*Server, error) {
		s.Stop()
		return nil, err
	}
	certPEM, keyPEM, caPEM, roots, err := TestCA("Carnet test CA")
	if err != nil {
		return fail(err)
	}
	_, _, _, other, err := TestCA("Not IGC-Santé")
	if err != nil {
		return fail(err)
	}
	s.Roots, s.OtherRoots = roots, other
	if err := os.WriteFile(s.CAFile, caPEM, 0o600); err != nil {
		return fail(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fail(err)
	}
	m := &memory{mem: imapmemserver.New(), users: map[string]*imapmemserver.User{}}
	s.mem = m
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	m.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return m.mem.NewSession(), nil, nil
		},
		Caps:      imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		TLSConfig: tlsCfg,
	})
	implicit, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		implicit.Close()
		return fail(err)
	}
	m.lns = []net.Listener{implicit, plain}
	s.IMAPS, s.IMAP = implicit.Addr().(*net.TCPAddr).Port, plain.Addr().(*net.TCPAddr).Port
	go m.srv.Serve(tls.NewListener(implicit, tlsCfg)) // ends with Stop
	go m.srv.Serve(plain)                             // STARTTLS (offered with TLSConfig)
	return s, nil
}

// user returns the memory user of name, created with INBOX and Password
// at first use.
func (m *memory) user(name string) (*imapmemserver.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u, ok := m.users[name]; ok {
		return u, nil
	}
	u := imapmemserver.NewUser(name, Password)
	if err := u.Create("INBOX", nil); err != nil {
		return nil, err
	}
	m.mem.AddUser(u)
	m.users[name] = u
	return u, nil
}

func (m *memory) stop() {
	_ = m.srv.Close()
	for _, ln := range m.lns {
		_ = ln.Close()
	}
}

func (m *memory) deliver(user, folder string, raw []byte) error {
	u, err := m.user(user)
	if err != nil {
		return err
	}
	if _, err := u.Append(folder, bytes.NewReader(raw), &imap.AppendOptions{Time: time.Now()}); err != nil {
		if cerr := u.Create(folder, nil); cerr != nil {
			return fmt.Errorf("mailtest: append: %v", err)
		}
		_, err = u.Append(folder, bytes.NewReader(raw), &imap.AppendOptions{Time: time.Now()})
		return err
	}
	return nil
}

// flags reads the flags of every message of a user's folder over IMAP,
// as "doveadm fetch" shows them (space-separated).
func (s *Server) memFlags(user, folder string) (map[uint32]string, error) {
	if _, err := s.mem.user(user); err != nil {
		return nil, err
	}
	c, err := imapclient.DialTLS(s.Addr(), &imapclient.Options{TLSConfig: &tls.Config{ServerName: "localhost", RootCAs: s.Roots}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Login(user, Password).Wait(); err != nil {
		return nil, err
	}
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, err
	}
	res := map[uint32]string{}
	if sel.NumMessages == 0 {
		return res, nil
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		fl := make([]string, len(m.Flags))
		for i, f := range m.Flags {
			fl[i] = string(f)
		}
		res[uint32(m.UID)] = strings.Join(fl, " ")
	}
	_ = c.Logout().Wait()
	return res, nil
}

// errMemory is what the Dovecot-only operations return on the fallback.
var errMemory = errors.New("mailtest: the in-memory server has no doveadm")
