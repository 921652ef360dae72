package mailbox

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/sync/mailbox/xdm"
)

// readOptions are what turning parts into reports depends on.
type readOptions struct {
	Demo      bool   // test and demo INS accepted by the CDA reader without a flag
	HeaderINS string // X-MSS-INS of the message
	XDM       xdm.Limits
}

// reportsOf turns the parts Carnet reads (with their decoded bodies) into
// reports and problems:
//   - each IHE XDM archive is read by package xdm (all archive defences);
//     a refused archive quarantines the message with the reader's reason,
//     an archive with several patients or subsets goes to a person;
//   - each CDA of an archive, or a bare CDA attachment, is read by app/cda
//     for its header (uniqueId, setId, version, RPLC, recordTarget);
//   - PDFs are kept only when the message holds no structured document
//     (a PDF-only mail, for a person to place), so that the PDF and the CDA
//     of one report are never both imported.
//
// Signed or encrypted messages yield no report: their problems send the
// whole message to a person.
func reportsOf(parts []Part, problems []app.ImportProblem, opt readOptions) ([]app.IncomingReport, []app.ImportProblem) {
	for _, p := range problems {
		if p.Kind == app.ProblemEncrypted || p.Kind == app.ProblemSigned {
			return nil, problems
		}
	}
	var reports []app.IncomingReport
	var pdfs []Part
	structured := false
	for _, p := range parts {
		if p.Body == nil {
			continue
		}
		switch classify(p) {
		case kindXDM:
			structured = true
			rs, probs := archiveReports(p, opt)
			reports = append(reports, rs...)
			problems = append(problems, probs...)
		case kindCDA:
			structured = true
			rep, prob := cdaReport(p.Body, p.FileName, opt)
			if prob != nil {
				prob.Part = p.Section()
				problems = append(problems, *prob)
				continue
			}
			reports = append(reports, rep)
		case kindPDF:
			pdfs = append(pdfs, p)
		}
	}
	if !structured {
		for _, p := range pdfs {
			reports = append(reports, app.IncomingReport{
				Meta:      app.DocumentMeta{Title: p.FileName, MediaType: "application/pdf", Source: "mssante"},
				Content:   p.Body,
				MediaType: "application/pdf",
				FileName:  p.FileName,
				Identity:  app.ReportIdentity{HeaderINS: opt.HeaderINS},
			})
		}
		switch {
		case len(pdfs) > 0:
			problems = append(problems, app.ImportProblem{Kind: app.ProblemPDFOnly, Detail: "PDF without structured document"})
		case len(reports) == 0 && !quarantines(problems):
			problems = append(problems, app.ImportProblem{Kind: app.ProblemNoAttachment, Detail: "no report attached"})
		}
	}
	return reports, problems
}

func quarantines(ps []app.ImportProblem) bool {
	for _, p := range ps {
		if p.Kind.Quarantines() {
			return true
		}
	}
	return false
}

// archiveReports reads one IHE XDM archive.
func archiveReports(p Part, opt readOptions) ([]app.IncomingReport, []app.ImportProblem) {
	a, err := xdm.Read(p.Body, opt.XDM)
	noAuto := false
	var problems []app.ImportProblem
	if err != nil {
		var xe *xdm.Error
		if !errors.As(err, &xe) || !xe.Manual() || a == nil {
			// xdm errors say where and why without patient data.
			detail := "archive refused"
			if xe != nil {
				detail = xe.Error()
			}
			return nil, []app.ImportProblem{{Kind: app.ProblemArchive, Part: p.Section(), Detail: detail}}
		}
		noAuto = true
		problems = append(problems, app.ImportProblem{Kind: app.ProblemSeveral, Part: p.Section(), Detail: xe.Error()})
	}
	if a.Unlisted > 0 {
		// Not read (the metadata vouches for nothing about them), but
		// not ignored either: the message waits for a person.
		problems = append(problems, app.ImportProblem{Kind: app.ProblemUnlisted, Part: p.Section(),
			Detail: strconv.Itoa(a.Unlisted) + " archive document(s) not listed in METADATA.XML"})
	}
	var reports []app.IncomingReport
	for _, d := range a.Documents() {
		if !isXML(d.MimeType, d.Content) {
			m := d.Meta()
			reports = append(reports, app.IncomingReport{
				Meta: m, Content: d.Content, MediaType: strings.ToLower(d.MimeType), FileName: d.Path,
				Identity: xdmIdentity(d, opt), NoAuto: noAuto,
			})
			problems = append(problems, app.ImportProblem{Kind: app.ProblemNotCDA, Part: p.Section(), Detail: "archive document is not a CDA"})
			continue
		}
		rep, prob := cdaReport(d.Content, d.Path, opt)
		if prob != nil {
			prob.Part = p.Section()
			problems = append(problems, *prob)
			continue
		}
		x := xdmIdentity(d, opt)
		rep.Identity.XDMPatient, rep.Identity.HasXDM = x.XDMPatient, true
		xm := d.Meta()
		if rep.Meta.Title == "" {
			rep.Meta.Title = xm.Title
		}
		if rep.Meta.TypeCode == "" {
			rep.Meta.TypeCode = xm.TypeCode
		}
		if rep.Meta.ClassCode == "" {
			rep.Meta.ClassCode = xm.ClassCode // a CDA header carries no class: the XDM metadata does
		}
		if rep.Meta.Author == "" {
			rep.Meta.Author = xm.Author
		}
		if rep.Meta.Organisation == "" {
			rep.Meta.Organisation = xm.Organisation
		}
		if d.UniqueID != "" && d.UniqueID != string(rep.Meta.ID) {
			// The metadata and the document disagree on what the document
			// is: a person decides.
			noAuto = true
			problems = append(problems, app.ImportProblem{Kind: app.ProblemSeveral, Part: p.Section(), Detail: "metadata uniqueId differs from the document id"})
		}
		rep.NoAuto = noAuto
		reports = append(reports, rep)
	}
	return reports, problems
}

// xdmIdentity returns the identity an XDM document entry carries: the
// patientId only (the sourcePatientInfo is the sender's, not ours).
func xdmIdentity(d xdm.Document, opt readOptions) app.ReportIdentity {
	return app.ReportIdentity{
		XDMPatient: app.INS{Matricule: strings.TrimSpace(d.PatientID.Extension), OID: strings.TrimSpace(d.PatientID.Root)},
		HasXDM:     true,
		HeaderINS:  opt.HeaderINS,
	}
}

// cdaReport reads a CDA's header into a report.
func cdaReport(b []byte, name string, opt readOptions) (app.IncomingReport, *app.ImportProblem) {
	// The header is all that filing needs; the body is read (and checked)
	// when the document is opened.
	doc, err := cda.ParseBytes(b, cda.Options{Production: !opt.Demo, HeaderOnly: true})
	if err != nil {
		detail := "document refused by the CDA reader"
		var pe *cda.ParseError
		if errors.As(err, &pe) {
			detail = "cda: " + string(pe.Kind)
		}
		return app.IncomingReport{}, &app.ImportProblem{Kind: app.ProblemCDA, Detail: detail}
	}
	pt := doc.Patient
	return app.IncomingReport{
		Meta:      doc.Meta(),
		Content:   b,
		MediaType: "text/xml",
		FileName:  name,
		Replaces:  doc.Replaces,
		SetID:     doc.SetID,
		Version:   doc.Version,
		Identity: app.ReportIdentity{
			INS:        pt.INS,
			BirthName:  pt.BirthName,
			GivenNames: pt.GivenNames,
			UsedName:   pt.UsedName,
			BirthDate:  pt.BirthDate,
			Sex:        pt.Sex,
			BirthPlace: pt.BirthPlace,
			HeaderINS:  opt.HeaderINS,
			Repeated:   pt.Repeated,
		},
	}, nil
}

// isXML reports whether an archive document is XML (a CDA candidate).
func isXML(mimeType string, content []byte) bool {
	mt := strings.ToLower(strings.TrimSpace(mimeType))
	if mt == "text/xml" || mt == "application/xml" || strings.HasSuffix(mt, "+xml") {
		return true
	}
	c := bytes.TrimLeft(bytes.TrimPrefix(content, []byte("\xef\xbb\xbf")), " \t\r\n")
	return bytes.HasPrefix(c, []byte("<?xml")) || bytes.HasPrefix(c, []byte("<ClinicalDocument"))
}

// ParseMessage builds a Message from a whole raw message, without IMAP: the
// MIME walk, the reports and the problems. ref identifies it on its server.
// The IMAP path reads the same way from the parts it fetched; demo mode and
// re-processing a sealed message use this.
func ParseMessage(raw []byte, ref app.MessageRef, lim Limits, demo bool) app.Message {
	m := app.Message{Ref: ref, Raw: raw, Size: int64(len(raw))}
	parts, problems, release, err := walkImport(raw, lim)
	defer release() // the archives' bodies: their documents are copies
	if err != nil {
		m.Problems = []app.ImportProblem{{Kind: app.ProblemMIME, Detail: "not a mail message"}}
		return m
	}
	h := headerOf(raw, lim)
	m.From, m.Subject, m.Date = h.from, h.subject, h.date
	if m.Ref.MessageID == "" {
		m.Ref.MessageID = h.messageID
	}
	m.NotifyTo, m.ReturnPath, m.HeaderINS = h.notifyTo, h.returnPath, h.headerINS
	if quarantines(problems) {
		m.Problems = problems
		return m
	}
	m.Reports, m.Problems = reportsOf(parts, problems, readOptions{Demo: demo, HeaderINS: h.headerINS})
	return m
}
