package demoworld

import (
	"bytes"
	"context"
	"encoding/base64"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/mailbox"
)

// TestDemoMailReadablePDFs: every PDF the demo mailbox sends (the PDF-only
// letter, the body of the report without INS) is a real document that an
// independent reader (poppler's pdftotext) opens, and shows the identity
// a person compares before attaching it.
func TestDemoMailReadablePDFs(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext (poppler-utils) not installed")
	}
	pop := dmptest.Patients(Seed, Patients)
	raws, err := Messages(pop, time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var pdfs [][]byte
	for i, raw := range raws {
		m := mailbox.ParseMessage(raw, app.MessageRef{UID: uint32(i + 1)}, mailbox.Limits{}, true)
		for _, r := range m.Reports {
			switch {
			case r.MediaType == "application/pdf":
				pdfs = append(pdfs, r.Content)
			case r.Identity.INS.Matricule == "" && r.MediaType == "text/xml":
				// The report without INS: its body is a PDF (N1).
				i := bytes.Index(r.Content, []byte(`representation="B64">`))
				if i < 0 || !bytes.Contains(r.Content, []byte(`mediaType="application/pdf"`)) {
					t.Fatalf("the report without INS has no PDF body")
				}
				pdfs = append(pdfs, decodeB64(t, r.Content[i+len(`representation="B64">`):]))
			}
		}
	}
	if len(pdfs) != 2 {
		t.Fatalf("%d PDFs in the demo mailbox, want 2", len(pdfs))
	}
	for i, pdf := range pdfs {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "pdftotext", "-", "-")
		cmd.Stdin = bytes.NewReader(pdf)
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("PDF %d: pdftotext: %v", i, err)
		}
		text := string(out)
		for _, want := range []string{"Nom de naissance", "Prénoms", "Né(e) le"} {
			if !strings.Contains(text, want) {
				t.Errorf("PDF %d does not read %q:\n%s", i, want, text)
			}
		}
	}
}

// decodeB64 decodes the base64 text up to the next '<'.
func decodeB64(t *testing.T, b []byte) []byte {
	t.Helper()
	end := bytes.IndexByte(b, '<')
	if end < 0 {
		t.Fatal("unterminated base64")
	}
	out, err := base64Decode(string(b[:end]))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func base64Decode(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
}
