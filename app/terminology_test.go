package app_test

import (
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/apptest"
)

type fakeTerms map[string]string

func (f fakeTerms) DocumentType(code string) (string, bool) { l, ok := f[code]; return l, ok }

func TestDocumentTypeLabel(t *testing.T) {
	svc := app.NewService(apptest.NewStore(), nil, nil)
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
