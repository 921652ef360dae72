package signin

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/internal/buildinfo"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/sync/dmp/xds"
)

// newXDSSession builds the XDS.b/SOAP client: mutual TLS with the
// credential, the VIHF signed by the same credential (card or organisation
// certificate) or, in indirect mode, by a second one (vihfSigner).
func newXDSSession(cfg config.Config, cred *credential.Credential, pin []byte, roots *x509.CertPool) (app.Session, error) {
	tc := cred.TLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	mode := xds.AuthIndirect
	if strings.EqualFold(cfg.DMP.AuthMode, "directe") {
		mode = xds.AuthDirect
	}
	signer, err := vihfSigner(cfg, cred, mode, pin)
	if err != nil {
		return app.Session{}, err
	}
	sector := cfg.Structure.FacilityType
	if sector == "" {
		sector = xds.DefaultSector
	}
	client, err := xds.New(xds.Config{
		BaseURL: cfg.DMP.URL,
		// A black-holed network is ErrOffline after the header timeout,
		// not a hang; the client's Probe then tells when it answers again.
		HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true,
			TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: xds.DefaultTimeout}},
		Signer:    signer,
		AuthMode:  mode,
		Sector:    sector,
		SourceOID: cfg.DMP.SourceOID,
		Software:  xds.Software{Name: "Carnet", Version: buildinfo.Version, Homologation: cfg.DMP.Homologation},
	})
	if err != nil {
		return app.Session{}, fmt.Errorf("sign in: %w", err)
	}
	return app.Session{Practitioner: Practitioner(cred.Identity()), Records: client}, nil
}

// vihfSigner is what signs the VIHF: the credential itself, or the second
// PKCS#12 file of dmp.vihf_pkcs12_file (indirect mode only: in direct mode
// the card that holds the TLS session signs), opened with the same PIN.
func vihfSigner(cfg config.Config, cred *credential.Credential, mode xds.AuthMode, pin []byte) (*xds.VIHFSigner, error) {
	if cfg.DMP.VIHFPKCS12File == "" {
		return &xds.VIHFSigner{Signer: cred.Signer(), Cert: cred.Leaf()}, nil
	}
	if mode != xds.AuthIndirect {
		return nil, fmt.Errorf("sign in: dmp.vihf_pkcs12_file is for auth_mode = \"indirecte\" (in direct mode the card signs): %w", app.ErrInvalid)
	}
	seal, err := credential.OpenPKCS12(cfg.DMP.VIHFPKCS12File, pin)
	if err != nil {
		if errors.Is(err, credential.ErrFileMode) {
			return nil, fmt.Errorf("sign in: VIHF signing certificate: %w: %w", app.ErrInsecureFile, err)
		}
		if pe := pinError(err, pin); pe != nil {
			return nil, fmt.Errorf("sign in: VIHF signing certificate: %w", pe)
		}
		return nil, fmt.Errorf("sign in: VIHF signing certificate: %w: %w", app.ErrCredential, err)
	}
	return &xds.VIHFSigner{Signer: seal.Signer(), Cert: seal.Leaf()}, nil
}
