package xds

import (
	"bytes"
	"fmt"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// StatusChange is an ITI-57 UpdateAvailabilityStatus: delete (TD3.3c),
// archive and unarchive (TD3.3d).
type StatusChange struct {
	INS       app.INS
	Author    app.Practitioner
	SourceOID string
	EntryUUID string
	From, To  string // Status… constants
}

// writeStatusUpdate writes the lcm:SubmitObjectsRequest of an ITI-57
// availability status change.
func writeStatusUpdate(b *bytes.Buffer, c StatusChange) error {
	if c.EntryUUID == "" || c.From == "" || c.To == "" {
		return fmt.Errorf("xds: update: incomplete status change: %w", app.ErrInvalid)
	}
	if c.SourceOID == "" {
		return fmt.Errorf("xds: update: no source OID: %w", app.ErrNotConfigured)
	}
	pid := PatientID(c.INS)
	b.WriteString(`<lcm:SubmitObjectsRequest xmlns:lcm="` + NSLcm + `" xmlns:rim="` + NSRim + `"><rim:RegistryObjectList>`)
	writeUpdateSubmissionSet(b, c.Author, c.SourceOID, pid)
	b.WriteString(`<rim:Association id="urn:uuid:` + newUUID() + `" associationType="` + AssocUpdateAvailabilityStatus +
		`" sourceObject="` + symbolicSubmissionID + `" targetObject="` + attrEsc(c.EntryUUID) + `">`)
	writeSlot(b, "OriginalStatus", c.From)
	writeSlot(b, "NewStatus", c.To)
	b.WriteString(`</rim:Association></rim:RegistryObjectList></lcm:SubmitObjectsRequest>`)
	return nil
}

// writeUpdateSubmissionSet writes the submission set of an ITI-57 update.
func writeUpdateSubmissionSet(b *bytes.Buffer, author app.Practitioner, sourceOID, pid string) {
	b.WriteString(`<rim:RegistryPackage id="` + symbolicSubmissionID + `" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage">`)
	writeSlot(b, "submissionTime", hl7Time(nowFunc()))
	writeName(b, "Carnet")
	writeAuthor(b, SchemeSSAuthor, symbolicSubmissionID, "urn:uuid:"+newUUID(), author)
	writeCoded(b, SchemeSSContentType, symbolicSubmissionID, DefaultContentType, OIDContentType, "Hospitalisation de jour")
	b.WriteString(`<rim:Classification id="urn:uuid:` + newUUID() + `" classifiedObject="` + symbolicSubmissionID + `" classificationNode="` + NodeSubmissionSet + `"/>`)
	writeExtID(b, IdentifierSSUniqueID, symbolicSubmissionID, uuidOID(), "XDSSubmissionSet.uniqueId")
	writeExtID(b, IdentifierSSSourceID, symbolicSubmissionID, sourceOID, "XDSSubmissionSet.sourceId")
	writeExtID(b, IdentifierSSPatientID, symbolicSubmissionID, pid, "XDSSubmissionSet.patientId")
	b.WriteString(`</rim:RegistryPackage>`)
}

// nowFunc is the clock of the submission times (a variable for tests).
var nowFunc = time.Now
