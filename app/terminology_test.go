package app_test

import (
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

type fakeTerms map[string]string

func (f fakeTerms) DocumentType(code string) (string, bool)  { l, ok := f[code]; return l, ok }
func (f fakeTerms) DocumentClass(code string) (string, bool) { l, ok := f["class:"+code]; return l, ok }

func TestDocumentTypeLabel(t *testing.T) {
	svc := app.NewService(app.Deps{Store: apptest.NewStore()})
	if got := svc.DocumentTypeLabel("11490-0"); got != "11490-0" {
		t.Errorf("without terminology: %q", got)
	}
	svc.SetTerminology(fakeTerms{"11490-0": "Lettre de liaison"})
	if got := svc.DocumentTypeLabel("11490-0"); got != "Lettre de liaison" {
		t.Errorf("label = %q", got)
	}
	if got := svc.DocumentTypeLabel("X"); got != "X" {
		t.Errorf("unknown code = %q", got)
	}
}

func TestDocumentClassLabel(t *testing.T) {
	svc := app.NewService(app.Deps{Store: apptest.NewStore()})
	if got := svc.DocumentClassLabel("10"); got != "10" {
		t.Errorf("without terminology: %q", got)
	}
	svc.SetTerminology(fakeTerms{"class:10": "Compte rendu", "10": "not a class"})
	for code, want := range map[string]string{"10": "Compte rendu", "77": "77", "": ""} {
		if got := svc.DocumentClassLabel(code); got != want {
			t.Errorf("DocumentClassLabel(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestCleanClassCode(t *testing.T) {
	for in, want := range map[string]string{
		"10":                     "10",
		" 11\n":                  "11",
		"":                       "",
		"1 0":                    "",
		"10\x00":                 "",
		"Compte\u00a0rendu":      "",
		"<script>":               "<script>",
		string(make([]byte, 65)): "",
	} {
		if got := app.CleanClassCode(in); got != want {
			t.Errorf("CleanClassCode(%q) = %q, want %q", in, got, want)
		}
	}
}
