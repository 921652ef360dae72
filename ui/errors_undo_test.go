package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
)

// TestUndoRefusalMessages: an undo refused because the document went on
// says why, in French and in English, and not the generic conflict.
func TestUndoRefusalMessages(t *testing.T) {
	defer applyLanguage(languageFrench)
	for _, lang := range []string{languageFrench, languageEnglish} {
		if err := applyLanguage(lang); err != nil {
			t.Fatal(err)
		}
		conflict := message(app.ErrConflict)
		seen := map[string]bool{}
		for _, r := range []app.UndoRefusal{app.UndoPushed, app.UndoReplaced} {
			got := message(fmt.Errorf("undo attach: %w", &app.UndoError{Reason: r}))
			if got == "" || strings.HasPrefix(got, "error.") || got == conflict || seen[got] {
				t.Errorf("%s: UndoError %q: message %q", lang, r, got)
			}
			seen[got] = true
		}
	}
}
