package signin

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto/credential"
	"github.com/carnetdesk/carnet/internal/buildinfo"
	"github.com/carnetdesk/carnet/internal/config"
	"github.com/carnetdesk/carnet/sync/dmp/xds"
)

// newXDSSession builds the XDS.b/SOAP client: mutual TLS with the
// credential, the VIHF signed by the same credential (card or organisation
// certificate).
func newXDSSession(cfg config.Config, cred *credential.Credential, roots *x509.CertPool) (app.Session, error) {
	tc := cred.TLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	mode := xds.AuthIndirect
	if strings.EqualFold(cfg.DMP.AuthMode, "directe") {
		mode = xds.AuthDirect
	}
	sector := cfg.Structure.FacilityType
	if sector == "" {
		sector = xds.DefaultSector
	}
	client, err := xds.New(xds.Config{
		BaseURL:   cfg.DMP.URL,
		HTTP:      &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}},
		Signer:    &xds.VIHFSigner{Signer: cred.Signer(), Cert: cred.Leaf()},
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
