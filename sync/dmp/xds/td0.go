package xds

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/carnetdesk/carnet/app"
)

// TD0.2 and TD0.3 (reference §5, §6). Neither has a public schema; the
// response paths are working hypotheses (open questions §14.6, §14.7).
const (
	ActionTD02             = "urn:hl7-org:v3:PRPA_IN201307UV02"
	ActionSetAuthorization = "urn:si-dmp-habilitations:HabilitationsEndPoint:setAuthorization"
	NSHabilitations        = "urn:si-dmp-habilitations"
	// OIDDMPDevice is the DMP's device id in TD0.2 messages.
	OIDDMPDevice = "1.2.250.1.213.4.1.1.1"
	// AuthorizationValid is the attentionLine AUTORISATION value of an
	// authorised professional; AuthorizationForbidden, a blocked one.
	AuthorizationValid     = "VALIDE"
	AuthorizationForbidden = "INTERDIT"
	// StatusClosed is the patient statusCode of a closed record (open
	// question §14.6: the DMP's status values are not public).
	StatusClosed = "FERME"
)

// writeTD02 writes the PRPA_IN201307UV02 body.
func writeTD02(b *bytes.Buffer, sourceOID, software string, ins app.INS, now string) {
	id := newUUID()
	b.WriteString(`<PRPA_IN201307UV02 xmlns="urn:hl7-org:v3" ITSVersion="XML_1.0">`)
	b.WriteString(`<id root="` + attrEsc(sourceOID) + `" extension="` + id + `"/><creationTime value="` + now + `"/>`)
	b.WriteString(`<interactionId root="2.16.840.1.113883.1.6" extension="PRPA_IN201307UV02"/><processingCode code="D"/><processingModeCode code="T"/><acceptAckCode code="AL"/>`)
	b.WriteString(`<receiver typeCode="RCV"><device classCode="DEV" determinerCode="INSTANCE"><id root="` + OIDDMPDevice + `"/><softwareName>DMP</softwareName></device></receiver>`)
	b.WriteString(`<sender typeCode="SND"><device classCode="DEV" determinerCode="INSTANCE"><id root="` + attrEsc(sourceOID) + `"/><softwareName>`)
	escape(b, software)
	b.WriteString(`</softwareName></device></sender>`)
	b.WriteString(`<controlActProcess classCode="CACT" moodCode="EVN"><reasonCode code="TEST_EXST" codeSystem="1.2.250.1.213.1.1.4.11" displayName="Test d'existence de dossier"/>`)
	b.WriteString(`<queryByParameter><queryId root="` + attrEsc(sourceOID) + `.2" extension="` + id + `"/><statusCode code="new"/><parameterList><patientIdentifier>`)
	b.WriteString(`<value root="` + attrEsc(ins.OID) + `" extension="` + attrEsc(ins.Matricule) + `"/><semanticsText>Patient.id</semanticsText></patientIdentifier></parameterList></queryByParameter></controlActProcess>`)
	b.WriteString(`</PRPA_IN201307UV02>`)
}

// readTD02 reads a PRPA_IN201308UV02 answer.
func readTD02(n *node) (app.RecordStatus, error) {
	if !n.is(NSHL7, "PRPA_IN201308UV02") {
		return app.RecordStatus{}, fmt.Errorf("xds: TD0.2: unexpected answer %s: %w", n.Name.Local, app.ErrServer)
	}
	if ack := n.child(NSHL7, "acknowledgement"); ack != nil && ack.attr("typeCode") != "AA" {
		return app.RecordStatus{}, fmt.Errorf("xds: TD0.2: acknowledgement %s: %w", ack.attr("typeCode"), app.ErrServer)
	}
	cp := n.child(NSHL7, "controlActProcess")
	code := cp.child(NSHL7, "queryAck").child(NSHL7, "queryResponseCode").attr("code")
	st := app.RecordStatus{Authorization: app.AuthorizationNone}
	switch code {
	case "NF":
		return st, nil
	case "OK":
		st.Exists = true
	default:
		return app.RecordStatus{}, fmt.Errorf("xds: TD0.2: query response %q: %w", code, app.ErrServer)
	}
	if p := cp.child(NSHL7, "subject").child(NSHL7, "registrationEvent").child(NSHL7, "subject1").child(NSHL7, "patient"); p != nil {
		st.Closed = strings.EqualFold(p.child(NSHL7, "statusCode").attr("code"), StatusClosed)
	}
	for _, al := range n.all(NSHL7, "attentionLine") {
		kw := al.child(NSHL7, "keyWordText").attr("code")
		v := al.child(NSHL7, "value")
		switch kw {
		case "AUTORISATION":
			switch v.attr("code") {
			case AuthorizationValid:
				st.Authorization = app.AuthorizationGranted
			case AuthorizationForbidden:
				st.Authorization = app.AuthorizationBlocked
			}
		case "STATUT_MT":
			st.TreatingDoctor = v.attr("value") == "true"
		}
	}
	return st, nil
}

// FindPatient implements app.RecordService (TD0.2).
func (c *Client) FindPatient(ctx context.Context, acc app.Access, ins app.INS) (app.RecordStatus, error) {
	now := c.cfg.Now()
	env, err := c.exchange(ctx, request{service: ServicePatients, action: ActionTD02, acc: acc, ins: &ins,
		body: func(b *bytes.Buffer) ([]Attachment, error) {
			writeTD02(b, c.cfg.SourceOID, c.cfg.Software.Name, ins, hl7Time(now))
			return nil, nil
		}}, "")
	if err != nil {
		return app.RecordStatus{}, fmt.Errorf("xds: find patient: %w", err)
	}
	st, err := readTD02(env.Body)
	if err != nil {
		return app.RecordStatus{}, err
	}
	st.ServerTime = now
	return st, nil
}

// GrantAuthorization implements app.RecordService (TD0.3 setAuthorization
// AJOUT; the patient is the VIHF's resource-id).
func (c *Client) GrantAuthorization(ctx context.Context, acc app.Access, ins app.INS) error {
	env, err := c.exchange(ctx, request{service: ServiceHabilitations, action: ActionSetAuthorization, acc: acc, ins: &ins,
		body: func(b *bytes.Buffer) ([]Attachment, error) {
			b.WriteString(`<setAuthorization xmlns="` + NSHabilitations + `"><action>AJOUT</action></setAuthorization>`)
			return nil, nil
		}}, "")
	if err != nil {
		return fmt.Errorf("xds: grant authorization: %w", err)
	}
	if st := env.Body.child(NSHabilitations, "status").text(); st != "" && !strings.EqualFold(st, "OK") {
		return fmt.Errorf("xds: grant authorization: status %q: %w", st, app.ErrServer)
	}
	return nil
}
