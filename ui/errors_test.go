package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/assets"
)

func TestMessage(t *testing.T) {
	if err := applyLanguage(languageFrench); err != nil {
		t.Fatal(err)
	}
	seen := map[string]error{}
	for kind := range errorKeys {
		err := fmt.Errorf("vault: something: %w", kind)
		got := message(err)
		if got == "" || strings.HasPrefix(got, "error.") || strings.Contains(got, kind.Error()) {
			t.Errorf("message(%v) = %q", err, got)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%v and %v share the message %q", kind, other, got)
		}
		seen[got] = kind
	}
	for _, kind := range app.Kinds() {
		if _, ok := errorKeys[kind]; !ok {
			t.Errorf("error kind %q has no message", kind)
		}
	}
	for _, reason := range []app.DenialReason{app.DeniedBlocked, app.DeniedNoAuthorization, app.DeniedClosed,
		app.DeniedNoRecord, app.DeniedProfession, app.DeniedJustification, app.DeniedNotRegulator,
		app.DeniedNotAuthor, app.DeniedNotQualified, app.DeniedOther} {
		err := fmt.Errorf("dmp: open: %w", &app.AccessError{Reason: reason})
		got := message(err)
		if got == "" || strings.HasPrefix(got, "error.") {
			t.Errorf("denial %q has no message: %q", reason, got)
		}
		if other, dup := seen[got]; dup && other != app.ErrAccessDenied {
			t.Errorf("denial %q shares the message of %v", reason, other)
		}
		seen[got] = app.ErrAccessDenied
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&app.WaitError{Kind: app.ErrThrottled, Wait: 30 * time.Second}, "Le service du DMP demande de patienter : réessayez dans 30 s."},
		{fmt.Errorf("dmp: find: %w", &app.AccessError{Reason: app.DeniedBlocked}), "Le patient vous a bloqué l'accès à son DMP : l'accès est refusé, même avec son autorisation."},
		{fmt.Errorf("unlock: %w", app.ErrWrongPassphrase), "Phrase de passe incorrecte."},
		{&app.WaitError{Kind: app.ErrTooManyAttempts, Wait: 4200 * time.Millisecond}, "Trop de tentatives : réessayez dans 5 s."},
		{errors.New("bbolt: page 7 out of range"), "Erreur interne (détails dans le journal)."},
	} {
		if got := message(tc.err); got != tc.want {
			t.Errorf("message(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestTranslations checks that fr.json and en.json have the same keys and
// hold every key the code uses.
func TestTranslations(t *testing.T) {
	keys := map[string]map[string]bool{}
	for _, l := range []string{languageFrench, languageEnglish} {
		data, err := assets.Translations.ReadFile(assets.TranslationsDir + "/" + l + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s.json: %v", l, err)
		}
		keys[l] = map[string]bool{}
		for k := range m {
			keys[l][k] = true
		}
	}
	for k := range keys[languageFrench] {
		if !keys[languageEnglish][k] {
			t.Errorf("en.json lacks %q", k)
		}
	}
	for k := range keys[languageEnglish] {
		if !keys[languageFrench][k] {
			t.Errorf("fr.json lacks %q", k)
		}
	}

	used := map[string]bool{}
	for _, key := range errorKeys {
		used[key] = true
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	call := regexp.MustCompile(`\btrN?\("([^"]+)"`)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			used[m[1]] = true
		}
	}
	if len(used) < 50 {
		t.Fatalf("found only %d keys in the code", len(used))
	}
	for k := range used {
		if !keys[languageFrench][k] {
			t.Errorf("key %q used in the code but missing from the translations", k)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{formatBirthDate("1979-03-12"), "12/03/1979"},
		{formatBirthDate("1979"), "1979"},
		{formatINS("279035121518989"), "2 79 03 51 215 189 89"},
		{formatINS("12"), "12"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
