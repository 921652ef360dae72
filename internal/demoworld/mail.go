package demoworld

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/go-pdf/fpdf"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/sync/mailbox/mailtest"
	"github.com/carnetdesk/carnet/sync/mailbox/xdm"
)

// BAL is the demo practitioner's secure mailbox address.
const BAL = "demo@clinique-carnet.mssante.fr"

// Mailbox is the demo's secure mailbox as the connection lists it, and
// its password (sealed in the vault at the first unlock).
type Mailbox struct {
	Account  app.MailAccount
	Password []byte
}

// StartMailbox starts the demo's secure mailbox: go-imap's in-memory
// server on a loopback port with implicit TLS (a throwaway CA made here and
// written to dir/mailbox-ca.pem), seeded by Messages for the demo
// population. It returns the account and its password, and a function
// that stops the server.
func StartMailbox(patients []app.Patient, dir string, log *slog.Logger) (Mailbox, func(), error) {
	certPEM, keyPEM, caPEM, _, err := mailtest.TestCA("Carnet demo mailbox CA")
	if err != nil {
		return Mailbox{}, nil, fmt.Errorf("demo mailbox: %w", err)
	}
	caFile := filepath.Join(dir, "mailbox-ca.pem")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Mailbox{}, nil, fmt.Errorf("demo mailbox: %w", err)
	}
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		return Mailbox{}, nil, fmt.Errorf("demo mailbox: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return Mailbox{}, nil, fmt.Errorf("demo mailbox: %w", err)
	}
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return Mailbox{}, nil, fmt.Errorf("demo mailbox: %w", err)
	}
	password := hex.EncodeToString(pw)
	mem := imapmemserver.New()
	u := imapmemserver.NewUser(BAL, password)
	if err := u.Create("INBOX", nil); err != nil {
		return Mailbox{}, nil, fmt.Errorf("demo mailbox: %w", err)
	}
	msgs, err := Messages(patients, time.Now())
	if err != nil {
		return Mailbox{}, nil, err
	}
	for _, raw := range msgs {
		if _, err := u.Append("INBOX", bytes.NewReader(raw), &imap.AppendOptions{Time: time.Now()}); err != nil {
			return Mailbox{}, nil, fmt.Errorf("demo mailbox: seed: %w", err)
		}
	}
	mem.AddUser(u)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:      imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		TLSConfig: tlsCfg,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Mailbox{}, nil, fmt.Errorf("demo mailbox: %w", err)
	}
	go func() {
		if err := srv.Serve(tls.NewListener(ln, tlsCfg)); err != nil && !errors.Is(err, net.ErrClosed) {
			log.Warn("demo mailbox stopped", "err", err)
		}
	}()
	acct := app.MailAccount{
		Address: BAL, Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Security: app.MailImplicitTLS,
		CAFile: caFile, Auth: app.MailAuthPlain,
	}
	log.Info("demo mailbox ready", "messages", len(msgs))
	return Mailbox{Account: acct, Password: []byte(password)}, func() { srv.Close() }, nil
}

// SealPassword seals the demo mailbox's password in the vault at the
// first unlock (the demo vault starts locked), as a clinic's IT does once
// in the settings screen, then wakes the sync loop, which imports it.
func SealPassword(svc *app.Service, mb Mailbox, wake func(), log *slog.Logger) {
	var once sync.Once
	svc.OnUnlock(func(app.UnlockReport) {
		once.Do(func() { go sealOnce(svc, mb, wake, log) })
	})
}

// sealOnce seals the password unless the same one is already sealed (a
// demo vault kept in --data from an earlier run holds the password of that
// run's mailbox, which changes at every start), then wakes the sync loop.
func sealOnce(svc *app.Service, mb Mailbox, wake func(), log *slog.Logger) {
	ctx := context.Background()
	old, err := svc.MailPassword(ctx, mb.Account.Address)
	if err == nil || errors.Is(err, app.ErrNotFound) {
		if !bytes.Equal(old, mb.Password) {
			if err := svc.SetMailPassword(ctx, mb.Account.Address, mb.Password); err != nil {
				log.Warn("demo mailbox: seal password", "err", err)
			}
		}
	}
	app.Wipe(old)
	wake()
}

// demoAuthor is the hospital doctor who sends the demo reports.
func demoAuthor() cda.Practitioner {
	return cda.Practitioner{
		RPPS: "01234567897", Prefix: "MME", Suffix: "DR", Given: "Claire", Family: "VERNIER",
		Profession: app.Code{Code: "G15_10/SM26", System: cda.OIDProfession, Display: "Médecin - Qualifié en Médecine Générale (SM)"},
		Structure: cda.Structure{
			FINESS: "750803447", Name: "Centre hospitalier de démonstration",
			FacilityType: app.Code{Code: "SA01", System: cda.OIDFacilityType, Display: "Etablissement public de santé"},
		},
	}
}

// Messages builds the seed of the demo mailbox from the population:
// three structured reports (CDA written by cda.WriteNote in an IHE XDM
// archive) for qualified patients, filed automatically; a PDF-only mail
// and a report without INS whose patient has a namesake, both for a
// person; a report forwarded by a secretary (message/rfc822), filed; and a
// hostile archive (zip-slip), quarantined.
func Messages(patients []app.Patient, now time.Time) ([][]byte, error) {
	var qual []app.Patient
	for _, p := range patients {
		if p.Status == app.IdentityQualified && p.INS.Matricule != "" {
			if _, err := app.ParseINS(p.INS.Matricule, p.INS.OID); err == nil {
				qual = append(qual, p)
			}
		}
	}
	if len(qual) < 6 {
		return nil, fmt.Errorf("demo mailbox: %d qualified patients, need 6: %w", len(qual), app.ErrInvalid)
	}
	created := now.Add(-26 * time.Hour).Truncate(time.Minute)
	note := func(p app.Patient, title string, n int, text ...string) ([]byte, app.DocumentID, error) {
		id := app.DocumentID(fmt.Sprintf("1.2.250.1.213.1.1.9.%d.%d", created.Unix(), n))
		b, err := cda.WriteNote(cda.Note{
			Patient: p, Author: demoAuthor(), Title: title, Start: created.Add(-time.Hour),
			Sections: []cda.NoteSection{{Title: "Conclusion", Text: cda.Paragraphs(text...)}},
		}, cda.WriteOptions{Created: created, ID: id, AllowTestINS: true})
		return b, id, err
	}
	xdmOf := func(p app.Patient, doc []byte, id app.DocumentID) ([]byte, error) {
		return xdm.Build([]xdm.BuildDoc{{Content: doc, UniqueID: string(id), Patient: p.INS, Class: app.ClassReport}},
			xdm.BuildOptions{Submitted: created, Sender: "Centre hospitalier de démonstration"})
	}
	hdr := func(n int, subject string) mailtest.Header {
		return mailtest.Header{From: "Secrétariat CH démo <secretariat@ch-demo.mssante.fr>", To: BAL,
			Subject: subject, MessageID: fmt.Sprintf("demo-%d@ch-demo.mssante.fr", n), Date: created.Add(time.Duration(n) * time.Minute)}
	}
	var out [][]byte
	texts := [][]string{
		{"Bilan biologique sans particularité.", "Contrôle dans six mois."},
		{"Consultation de suivi : tension artérielle équilibrée.", "Traitement inchangé."},
		{"Compte rendu d'hospitalisation de jour : geste réalisé sans complication."},
	}
	for i := 0; i < 3; i++ {
		p := qual[i]
		doc, id, err := note(p, "Compte rendu", i+1, texts[i]...)
		if err != nil {
			return nil, fmt.Errorf("demo mailbox: note: %w", err)
		}
		z, err := xdmOf(p, doc, id)
		if err != nil {
			return nil, err
		}
		out = append(out, mailtest.XDMMail(hdr(i+1, "XDM/1.0/DDM+Compte rendu "+p.BirthName), z, nil))
	}
	// PDF-only: a legacy sender without structured document. A real,
	// readable letter: the person who files it reads the identity there.
	lp := qual[3]
	pdf, err := demoPDF("Courrier de sortie", demoIdentity(lp),
		"Le patient est sorti ce jour après une hospitalisation de trois jours.",
		"Traitement de sortie : paracétamol 1 g trois fois par jour si douleur.",
		"Revoir le médecin traitant dans quinze jours.")
	if err != nil {
		return nil, err
	}
	out = append(out, mailtest.Message(hdr(4, "Courrier de sortie "+lp.BirthName),
		mailtest.Multipart("mixed", mailtest.Text("Bonjour,\nveuillez trouver le courrier de sortie de "+lp.DisplayName()+" en pièce jointe."),
			mailtest.Attachment("application/pdf", "courrier.pdf", pdf))))
	// Ambiguous: no INS, and a namesake in the directory. Its body is a
	// readable PDF too.
	amb := qual[4]
	twin := amb
	twin.INS = app.INS{}
	ambPDF, err := demoPDF("Compte rendu de biologie", demoIdentity(twin), "Hémogramme normal.", "Ionogramme sanguin normal.")
	if err != nil {
		return nil, err
	}
	doc := mailtest.CDA{ID: fmt.Sprintf("1.2.250.1.213.1.1.9.%d.5", created.Unix()), Patient: twin, NoINS: true,
		Payload: ambPDF, MediaType: "application/pdf"}
	z, err := xdm.Build([]xdm.BuildDoc{{Content: doc.XML(), UniqueID: doc.ID, Patient: app.INS{}}}, xdm.BuildOptions{Submitted: created})
	if err != nil {
		return nil, err
	}
	out = append(out, mailtest.XDMMail(hdr(5, "XDM/1.0/DDM+CR biologie "+amb.BirthName), z, nil))
	// Forwarded by a secretary from another box.
	fp := qual[5]
	fdoc, fid, err := note(fp, "Compte rendu opératoire", 6, "Intervention réalisée, suites simples.")
	if err != nil {
		return nil, fmt.Errorf("demo mailbox: note: %w", err)
	}
	fz, err := xdmOf(fp, fdoc, fid)
	if err != nil {
		return nil, err
	}
	inner := mailtest.XDMMail(hdr(60, "XDM/1.0/DDM+CRO "+fp.BirthName), fz, nil)
	out = append(out, mailtest.Message(hdr(6, "TR: XDM/1.0/DDM+CRO "+fp.BirthName),
		mailtest.Multipart("mixed", mailtest.Text("Transféré pour intégration."), mailtest.Forwarded(inner))))
	// Hostile: an archive entry that climbs out of the archive.
	var slip bytes.Buffer
	zw := zip.NewWriter(&slip)
	for _, name := range []string{"IHE_XDM/SUBSET01/METADATA.XML", "../../../../home/demo/.bashrc"} {
		w, err := zw.Create(name)
		if err != nil {
			return nil, err
		}
		_, _ = w.Write([]byte("echo pwned\n"))
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	out = append(out, mailtest.XDMMail(hdr(7, "XDM/1.0/DDM+Résultats"), slip.Bytes(), nil))
	return out, nil
}

// demoIdentity is the identity block a letter prints: the traits a person
// compares before attaching it.
func demoIdentity(p app.Patient) []string {
	sex := "Sexe : indéterminé"
	switch p.Sex {
	case app.SexFemale:
		sex = "Sexe : féminin"
	case app.SexMale:
		sex = "Sexe : masculin"
	}
	born := p.BirthDate
	if len(born) == 10 {
		born = born[8:10] + "/" + born[5:7] + "/" + born[0:4]
	}
	lines := []string{
		"Nom de naissance : " + p.BirthName,
		"Prénoms : " + p.BirthGivenNames,
		"Né(e) le : " + born,
		sex,
	}
	if p.INS.Matricule != "" {
		lines = append(lines, "INS : "+p.INS.Matricule)
	}
	return lines
}

// demoPDF writes a one-page letter (A4, Helvetica, Windows-1252 text) with
// a title, the patient's identity block and paragraphs: what the demo
// mailbox's legacy senders attach, readable in any PDF viewer.
func demoPDF(title string, identity []string, paragraphs ...string) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(title, true)
	pdf.SetCreator("Carnet (démonstration)", true)
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 11)
	pdf.CellFormat(0, 6, tr("Centre hospitalier de démonstration"), "", 1, "L", false, 0, "")
	pdf.Ln(6)
	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 10, tr(title), "", 1, "L", false, 0, "")
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "", 11)
	for _, l := range identity {
		pdf.CellFormat(0, 6, tr(l), "", 1, "L", false, 0, "")
	}
	pdf.Ln(6)
	for _, p := range paragraphs {
		pdf.MultiCell(0, 6, tr(p), "", "L", false)
		pdf.Ln(2)
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		return nil, fmt.Errorf("demo mailbox: pdf: %w", err)
	}
	return b.Bytes(), nil
}
