package ui

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/test"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/cda"
	"github.com/carnetdesk/carnet/app/meds"
	"github.com/carnetdesk/carnet/app/terms"
)

var updatePreopGolden = flag.Bool("update-preop", false, "rewrite testdata/preop_sheet.png")

// goldenSheet is a fixed sheet: the medication fixtures of the tests, a
// surgery on a fixed date, an override.
func goldenSheet() app.PreopSheet {
	_, cds := medsDocuments()
	var lines []app.Medication
	for id, cd := range cds {
		for _, m := range cd.Medications {
			m.Source = app.MedicationSource{Document: id, Title: cd.Title, TypeCode: "60591-5", Date: testNow.AddDate(0, -1, 0), Author: "Dr Jean Lebrun"}
			lines = append(lines, m)
		}
	}
	list := meds.Consolidate(lines, nil, testNow)
	in := terms.DecisionInput{Surgery: time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC), Bleeding: terms.BleedingHigh, CrCl: 72}
	rows := meds.Rows(list, in)
	for i := range rows {
		if rows[i].Entry.ATC.Code == "B01AF02" {
			_ = rows[i].Override(terms.ActionStop, time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC), "reprise tardive souhaitée")
		} else {
			rows[i].Accept()
		}
	}
	reading := app.MedicationReading{
		Allergies: []app.Allergy{{Text: "Pénicillines (urticaire)"}},
		Devices:   []app.Device{{Name: "Stimulateur cardiaque double chambre"}},
		Problems:  []app.Problem{{Text: "Fibrillation atriale"}},
	}
	p := app.Patient{BirthName: "Martin", BirthGivenNames: "Claire Anne", BirthDate: "1950-04-12", Sex: app.SexFemale, INS: app.INS{Matricule: "250047512345678"}}
	return meds.Sheet(p, reading, list, rows, in, "Dr Hugo Blanc")
}

// TestPreopPDFGolden renders the one-page PDF through the viewer's PDF path
// (pdftoppm) and compares the page with the golden image.
func TestPreopPDFGolden(t *testing.T) {
	r := pdfRendererFor()
	if r == nil {
		t.Skip("poppler-utils not installed: the PDF cannot be rendered")
	}
	pdf, err := cda.WritePreopPDF([]app.PreopSheet{goldenSheet()}, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, err := r.PageCount(ctx, pdf); err != nil || n != 1 {
		t.Fatalf("%d pages (%v), want one page per patient", n, err)
	}
	page, err := r.RenderPage(ctx, pdf, 1)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "preop_sheet.png")
	if *updatePreopGolden {
		if err := os.WriteFile(golden, page, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-preop to create it)", err)
	}
	if d := pixelDiff(t, page, want); d > 0.002 {
		t.Errorf("the rendered page differs from %s on %.2f%% of its pixels", golden, d*100)
	}
}

// pixelDiff returns the share of pixels that differ noticeably.
func pixelDiff(t *testing.T, a, b []byte) float64 {
	t.Helper()
	ia, err := png.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	ib, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if ia.Bounds() != ib.Bounds() {
		t.Fatalf("size %v, golden %v", ia.Bounds(), ib.Bounds())
	}
	bounds := ia.Bounds()
	diff := 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			if far(ia, ib, x, y) {
				diff++
			}
		}
	}
	return float64(diff) / float64(bounds.Dx()*bounds.Dy())
}

func far(a, b image.Image, x, y int) bool {
	r1, g1, b1, _ := a.At(x, y).RGBA()
	r2, g2, b2, _ := b.At(x, y).RGBA()
	d := func(p, q uint32) uint32 {
		if p > q {
			return p - q
		}
		return q - p
	}
	return d(r1, r2)+d(g1, g2)+d(b1, b2) > 3*0x2000
}

// TestMedsPrintButton: the print button renders the PDF in memory and asks
// where to save it (nothing written until the user chooses).
func TestMedsPrintButton(t *testing.T) {
	f, v, _ := openMeds(t)
	f.svc.SetSheetRenderer(cda.SheetRenderer{})
	v.start()
	f.wait()
	test.Tap(v.print)
	f.wait()
	if !bytes.HasPrefix(v.lastPDF, []byte("%PDF")) {
		t.Fatalf("no PDF rendered (message %q)", v.recMsg.Text)
	}
	if _, ok := v.dialog.(*dialog.FileDialog); !ok {
		t.Fatalf("dialog %T, want the file save dialog", v.dialog)
	}
}
