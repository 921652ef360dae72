package app

import "strings"

// The protocols of the central record service (Connection.Protocol).
const (
	ProtocolXDS  = "xds"  // the DMP in service: SOAP, XDS.b, VIHF (the default when empty)
	ProtocolFHIR = "fhir" // the PDSm FHIR API (a draft, not in service)
)

// The authentication modes of the XDS protocol (Connection.AuthMode), as
// the VIHF names them.
const (
	AuthDirect   = "directe"   // the CPS card holds the TLS session and signs the VIHF
	AuthIndirect = "indirecte" // an organisation certificate (the default when empty)
)

// The fields of the protocol settings Validate may refuse.
const (
	FieldProtocol ConnectionField = "protocol"  // neither xds nor fhir
	FieldAuthMode ConnectionField = "auth-mode" // neither directe nor indirecte
	FieldVIHF     ConnectionField = "vihf"      // a VIHF signing file outside the indirect mode
)

// DMPProtocol returns the protocol spoken to the central service:
// ProtocolXDS when none is set.
func (c Connection) DMPProtocol() string {
	if c.Protocol == "" {
		return ProtocolXDS
	}
	return c.Protocol
}

// DMPAuthMode returns the authentication mode of the XDS protocol, in
// lower case: AuthIndirect when none is set.
func (c Connection) DMPAuthMode() string {
	if c.AuthMode == "" {
		return AuthIndirect
	}
	return strings.ToLower(c.AuthMode)
}

// validateDMP checks the protocol settings: a known protocol and
// authentication mode, and a second VIHF signing file only in the indirect
// mode (in the direct mode the card that holds the session signs).
func (c Connection) validateDMP() error {
	switch c.Protocol {
	case "", ProtocolXDS, ProtocolFHIR:
	default:
		return refuse(FieldProtocol, "connection: protocol %q: want %s or %s", c.Protocol, ProtocolXDS, ProtocolFHIR)
	}
	switch c.DMPAuthMode() {
	case AuthDirect, AuthIndirect:
	default:
		return refuse(FieldAuthMode, "connection: authentication mode %q: want %s or %s", c.AuthMode, AuthDirect, AuthIndirect)
	}
	if strings.TrimSpace(c.VIHFFile) != "" && c.DMPProtocol() == ProtocolXDS && c.DMPAuthMode() != AuthIndirect {
		return refuse(FieldVIHF, "connection: a VIHF signing file is for the %s mode (in the %s mode the card signs)", AuthIndirect, AuthDirect)
	}
	return nil
}
