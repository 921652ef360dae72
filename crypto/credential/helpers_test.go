package credential_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/crypto/credential/credtest"
)

// drDupont is the test practitioner: an anaesthetist of a clinic, with an
// accented compound name.
var drDupont = credential.Identity{
	RPPS:       "810001234567",
	Name:       "Hélène DUPONT-FERRAND",
	GivenName:  "Hélène",
	Surname:    "DUPONT-FERRAND",
	Profession: credential.Code{Code: "10", System: credential.SystemProfession, Display: "Médecin"},
	Specialty:  credential.Code{Code: "SM02", System: credential.SystemSpecialty},
	Structure:  credential.Structure{ID: "10B0123456", Name: "Clinique Saint-Joseph"},
	Roles:      []string{"regulation"},
}

func newCA(t testing.TB) *credtest.CA {
	t.Helper()
	ca, err := credtest.NewCA("")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t testing.TB, ca *credtest.CA, id credential.Identity, o credtest.Options) *credtest.Issued {
	t.Helper()
	is, err := ca.IssuePractitionerWith(id, o)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// mtls performs a real HTTPS request with client-certificate authentication
// against a server that requires and verifies a certificate from ca, at the
// given TLS version, and returns what the server saw: the client's subject
// serialNumber and the negotiated version.
func mtls(t *testing.T, ca *credtest.CA, cred *credential.Credential, version uint16) (string, uint16) {
	t.Helper()
	serial, v, err := doMTLS(t, ca, cred, version)
	if err != nil {
		t.Fatalf("mTLS (TLS %x): %v", version, err)
	}
	return serial, v
}

// mtlsFails reports whether the mTLS request of cred fails.
func mtlsFails(t *testing.T, ca *credtest.CA, cred *credential.Credential) bool {
	t.Helper()
	_, _, err := doMTLS(t, ca, cred, tls.VersionTLS13)
	return err != nil
}

func doMTLS(t *testing.T, ca *credtest.CA, cred *credential.Credential, version uint16) (string, uint16, error) {
	t.Helper()
	srvCert, err := ca.IssueServer()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "%s %d", r.TLS.PeerCertificates[0].Subject.SerialNumber, r.TLS.Version)
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{srvCert.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
		MinVersion:   version,
		MaxVersion:   version,
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes of negative tests
	srv.StartTLS()
	defer srv.Close()

	cfg := cred.TLSConfig(&tls.Config{RootCAs: ca.Pool(), MinVersion: version, MaxVersion: version})
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("%s: %s", resp.Status, body)
	}
	var serial string
	var v uint16
	if _, err := fmt.Sscanf(string(body), "%s %d", &serial, &v); err != nil {
		return "", 0, fmt.Errorf("body %q: %v", body, err)
	}
	return serial, v, nil
}
