package ui

import (
	"fmt"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"

	"github.com/carnetdesk/carnet/assets"
)

// The languages of the user interface, as stored in the preferences under
// prefLanguage. French is the default.
const (
	prefLanguage    = "language"
	languageFrench  = "fr"
	languageEnglish = "en"
)

// languagePreference returns the language chosen in a's preferences.
func languagePreference(a fyne.App) string {
	switch l := a.Preferences().StringWithFallback(prefLanguage, languageFrench); l {
	case languageEnglish:
		return l
	default:
		return languageFrench
	}
}

var (
	langMu      sync.Mutex
	langApplied string
)

// applyLanguage makes code ("fr" or "en") the language of every string,
// Carnet's and Fyne's own (dialog buttons, file picker), whatever the
// system's locale.
//
// Fyne's lang package picks the translation closest to the system's locale
// and offers no way to force another. So the chosen file is registered under
// every tag that choice can land on: the system locale, its language, and
// "en" (Fyne's fallback when the locale is unknown or "C"). Registering again
// replaces the messages, so the language can change while Carnet runs;
// widgets already built keep their text until rebuilt (see UI.rebuild).
func applyLanguage(code string) error {
	langMu.Lock()
	defer langMu.Unlock()
	if code == langApplied {
		return nil
	}
	data, err := assets.Translations.ReadFile(assets.TranslationsDir + "/" + code + ".json")
	if err != nil {
		return fmt.Errorf("ui: translations %q: %w", code, err)
	}
	sys := lang.SystemLocale()
	tags := []fyne.Locale{"en", "fr", sys}
	if base := sys.LanguageString(); base != "" {
		tags = append(tags, fyne.Locale(base))
	}
	for _, tag := range tags {
		// An unparsable system locale fails here: harmless, "en" covers it.
		_ = lang.AddTranslationsForLocale(data, tag)
	}
	langApplied = code
	return nil
}

// tr returns the translation of key in the current language. data, when
// given, fills the {{.Field}} placeholders.
func tr(key string, data ...any) string {
	return lang.X(key, key, data...)
}

// trN is tr for a message with plural forms, chosen by n.
func trN(key string, n int, data ...any) string {
	return lang.XN(key, key, n, data...)
}
