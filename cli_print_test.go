package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/app/vault"
	"github.com/carnetdesk/carnet/crypto"
)

const printPass = "une phrase de passe pour imprimer"

var printDay = time.Date(2026, 12, 10, 0, 0, 0, 0, time.Local)

// printVault creates a vault (light KDF, device secret in a file) with n
// patients scheduled on printDay, each with a synthesis of medication
// lines (a real CDA written by the writer) and one patient scheduled the
// day after.
func printVault(t testing.TB, n int) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	kdf := crypto.LightParams()
	v, err := vault.Open(filepath.Join(data, "vault.db"), vault.Options{KDF: &kdf, Keyring: crypto.NoKeyring{}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := v.Create(ctx, []byte(printPass), app.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w := cda.Writer{FacilityType: app.Code{Code: "SA04", System: "1.2.250.1.71.4.2.4"}, AllowTestINS: true}
	doctor := app.Practitioner{RPPS: "810000000001", Name: "Dr Anne Durand", GivenName: "Anne", FamilyName: "Durand",
		Profession: app.Code{Code: "10", System: "1.2.250.1.71.1.2.7", Display: "Médecin"}, Structure: app.Structure{ID: "1750000001", Name: "Clinique du Parc"}}
	atc := []string{"B01AF02", "A10BK01", "C09AA05", "N02BE01", "C07AB07", "B01AC04"}
	b := &app.Batch{}
	for i := 0; i <= n; i++ {
		p := importPatient(t, i)
		p.Scheduled = printDay.Add(time.Duration(8+i%8) * time.Hour)
		if i == n {
			p.Scheduled = printDay.AddDate(0, 0, 1) // another day's list
		}
		b.Patients = append(b.Patients, p)
		var lines []app.Medication
		for j := 0; j < 4+i%3; j++ {
			c := atc[(i+j)%len(atc)]
			lines = append(lines, app.Medication{Kind: app.MedicationTreatment, Name: "MEDICAMENT " + c, ATC: app.Code{Code: c, System: app.SystemATC}})
		}
		doc, err := w.WritePreAnesthesia(p, doctor, app.Reconciliation{Lines: lines}, printDay.AddDate(0, -1, -i))
		if err != nil {
			t.Fatal(err)
		}
		meta := doc.Meta
		meta.Source, meta.Cached = "dmp", true
		b.Manifests = append(b.Manifests, app.Manifest{Patient: p.ID, Documents: []app.DocumentMeta{meta}})
		b.Documents = append(b.Documents, app.DocumentContent{Patient: p.ID, ID: meta.ID, Bytes: doc.Content})
	}
	// The first patient's table was decided in part: an override with its
	// reason (rivaroxaban bridged), an accepted proposal (SGLT2 stopped at
	// D-4); the other lines were not decided.
	b.Preop = []app.PreopSet{{Patient: b.Patients[0].ID,
		Inputs: &app.PreopInputs{Surgery: printDay, Bleeding: "high", CrCl: 80, CrClSource: "saisie"},
		Put: []app.PreopDecision{
			{Line: "atc:B01AF02", Drug: "MEDICAMENT B01AF02", Action: "bridge", LastDose: printDay.AddDate(0, 0, -4), Override: true,
				Reason: "valve mecanique : relais par heparine", By: "Dr Anne Durand", At: printDay.AddDate(0, 0, -2)},
			{Line: "atc:A10BK01", Drug: "MEDICAMENT A10BK01", Action: "stop", LastDose: printDay.AddDate(0, 0, -4), By: "Dr Anne Durand", At: printDay.AddDate(0, 0, -2)},
		}}}
	if err := v.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestPrintOperatingList: `carnet print --operating-list DATE --out FILE`
// writes one PDF, a page per patient of that day, to a new 0600 file and
// nowhere else; it never replaces a file; bad arguments are refused.
func TestPrintOperatingList(t *testing.T) {
	data := printVault(t, 3)
	dir := t.TempDir()
	pass := secretFile(t, dir, "pass", printPass, 0o600)
	out := filepath.Join(dir, "liste.pdf")
	common := []string{"print", "--data", data, "--no-keyring", "--insecure-test-kdf", "--passphrase-file", pass}
	code, msg := carnet(t, append(common, "--operating-list", "2026-12-10", "--out", out)...)
	if code != 0 || !strings.Contains(msg, "3 patient(s)") {
		t.Fatalf("carnet print = %d, %q", code, msg)
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("PDF %v, mode %v", err, st.Mode())
	}
	pdf, _ := os.ReadFile(out)
	if !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Fatal("not a PDF")
	}
	if info, err := exec.Command("pdfinfo", out).Output(); err == nil && !strings.Contains(strings.Join(strings.Fields(string(info)), " "), "Pages: 3 ") {
		t.Errorf("pdfinfo: %s", info)
	}
	if text, err := exec.Command("pdftotext", out, "-").Output(); err == nil {
		for _, want := range []string{"KILLTESTA", "KILLTESTC", "intervention le 10/12/2026", "à valider cliniquement", "MEDICAMENT B01AF02",
			// the saved decisions, not the proposals
			"Relais — dernière prise le 06/12/2026", "valve mecanique : relais par heparine", "Arrêter — dernière prise le 06/12/2026",
			"décisions de Dr Anne Durand", "risque hémorragique : élevé",
			// undecided lines said so
			"NON DÉCIDÉ", "NON DÉCIDÉE(S)", "aucune décision enregistrée"} {
			if !strings.Contains(string(text), want) {
				t.Errorf("the PDF lacks %q", want)
			}
		}
		if strings.Contains(string(text), "KILLTESTD") {
			t.Error("a patient of another day is printed")
		}
	}
	// Never replaces a file; refusals.
	for _, args := range [][]string{
		{"--operating-list", "2026-12-10", "--out", out},
		{"--operating-list", "10/12/2026", "--out", filepath.Join(dir, "x.pdf")},
		{"--operating-list", "2026-12-10"},
	} {
		if code, msg := carnet(t, append(common, args...)...); code == 0 {
			t.Errorf("carnet print %v accepted: %q", args, msg)
		}
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(after, pdf) {
		t.Error("an existing file was replaced")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 { // pass and liste.pdf: nothing else left behind
		t.Errorf("files left in the output directory: %d", len(entries))
	}
}

// BenchmarkPrintOperatingList: 20 patients to one PDF, from the vault.
func BenchmarkPrintOperatingList(b *testing.B) {
	data := printVault(b, 20)
	kdf := crypto.LightParams()
	v, err := vault.Open(filepath.Join(data, "vault.db"), vault.Options{KDF: &kdf, Keyring: crypto.NoKeyring{}, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	svc := app.NewService(app.Deps{Store: v, Log: quiet(), Reader: cda.Reader{}, Sheets: cda.SheetRenderer{}})
	ctx := context.Background()
	if _, err := svc.Unlock(ctx, []byte(printPass)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pdf, n, err := operatingListPDF(ctx, svc, printDay, printDay.Add(-12*time.Hour))
		if err != nil || n != 20 || len(pdf) == 0 {
			b.Fatal(n, err)
		}
	}
	_ = fmt.Sprint
}
