package ui

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/carnetdesk/carnet/app"
)

func TestSettingsRetentionRevalidation(t *testing.T) {
	f := newLockedFixture(t, Options{Version: "test"})
	s := f.unlock()
	s.openSettings()
	v := s.settings
	assertText(t, "retention", v.retention.Text, "30")
	assertText(t, "revalidation", v.revalidation.Text, "7")
	for _, tc := range []struct{ retention, revalidation, want string }{
		{"0", "7", "Valeur invalide. De 1 à 365 jours : un dossier non consulté depuis est effacé du poste."},
		{"400", "7", "Valeur invalide. De 1 à 365 jours : un dossier non consulté depuis est effacé du poste."},
		{"30", "31", "Valeur invalide. De 1 à 30 jours : au-delà sans vérification en ligne, la copie d'un dossier devient illisible."},
		{"trente", "7", "Saisissez un nombre entier de jours."},
		{"90", "14", "Paramètres enregistrés."},
	} {
		v.retention.SetText(tc.retention)
		v.revalidation.SetText(tc.revalidation)
		test.Tap(v.save)
		f.wait()
		assertText(t, "message for "+tc.retention+"/"+tc.revalidation, v.saveMsg.Text, tc.want)
	}
	if st := f.svc.Settings(); st.RetentionDays != 90 || st.RevalidationDays != 14 {
		t.Errorf("settings = %+v, want retention 90 and re-validation 14", st)
	}
}

func TestSettingsTheme(t *testing.T) {
	f := newLockedFixture(t, Options{Version: "test", SignIn: func(context.Context, []byte) error { return nil }})
	s := f.unlock()
	s.openSettings()
	v := s.settings
	assertText(t, "theme", v.theme.Selected, "Système")
	v.theme.SetSelected("Sombre")
	if got := f.a.Preferences().String(prefTheme); got != themeDark {
		t.Errorf("theme preference = %q, want dark", got)
	}
	th, ok := f.a.Settings().Theme().(*variantTheme)
	if !ok || th.variant != theme.VariantDark {
		t.Fatalf("theme = %T, want the dark variant", f.a.Settings().Theme())
	}
	if th.Color(theme.ColorNameBackground, theme.VariantLight) != th.Theme.Color(theme.ColorNameBackground, theme.VariantDark) {
		t.Error("the forced variant is not used")
	}
	v.theme.SetSelected("Système")
	if _, ok := f.a.Settings().Theme().(*variantTheme); ok {
		t.Error("the system choice still forces a variant")
	}
}

func TestSettingsOperatingList(t *testing.T) {
	f, s, sy := newSyncFixture(t)
	s.openSettings()
	v := s.settings
	known := testPatients(t)[0].INS.Matricule
	key, err := app.INSKey("1234567890123")
	if err != nil {
		t.Fatal(err)
	}
	unknown := "1234567890123" + key
	csv := "INS;Date\n" + known + ";15/03/2027 08:30\n" + unknown + ";16/03/2027\n"
	v.importOperatingList(io.NopCloser(strings.NewReader(csv)), "bloc.csv")
	if !v.importing.box.Visible() || !v.importList.Disabled() {
		t.Error("no progress while importing")
	}
	f.wait()
	if sy.Calls("ImportOperatingList") != 1 {
		t.Fatalf("ImportOperatingList called %d times", sy.Calls("ImportOperatingList"))
	}
	assertText(t, "scheduled", v.importMsg.Text, "1 patient programmé.")
	assertText(t, "to identify", v.toIdentify.Text,
		"1 ligne à identifier :\nLigne 3 : INS "+formatINS(unknown)+", le 16/03/2027 — identité non qualifiée dans la liste : à qualifier dans la GAM ; le DMP n'a pas été interrogé")

	v.importOperatingList(io.NopCloser(strings.NewReader("rien d'utile")), "bloc.txt")
	f.wait()
	if v.importMsg.Text != "Aucune ligne avec un INS et une date n'a été trouvée dans ce fichier." || v.toIdentify.Visible() {
		t.Errorf("list without entries: message %q", v.importMsg.Text)
	}
}

// TestSettingsOperatingListReasons: the import's outcome in French — the
// patients added from the list's qualified identities, and each line not
// scheduled with its reason (an unknown code reads as a lookup error).
func TestSettingsOperatingListReasons(t *testing.T) {
	f, s, sy := newSyncFixture(t)
	s.openSettings()
	v := s.settings
	p := testPatients(t)[0]
	day := time.Date(2027, 3, 16, 0, 0, 0, 0, time.UTC)
	sy.ImportFn = func(context.Context, []app.Scheduled) (app.OperatingListResult, error) {
		return app.OperatingListResult{Scheduled: []app.Patient{p, p}, Added: 1, ToIdentify: []app.Scheduled{
			{Matricule: p.INS.Matricule, Date: day, Line: 4, Reason: app.ListTraitsDisagree},
			{Matricule: p.INS.Matricule, Date: day, Line: 5, Reason: app.ListNoRecord},
			{Matricule: p.INS.Matricule, Date: day, Line: 6, Reason: "bogus"},
		}}, nil
	}
	v.importOperatingList(io.NopCloser(strings.NewReader("INS;Date\n")), "bloc.csv")
	f.wait()
	assertText(t, "scheduled", v.importMsg.Text,
		"2 patients programmés. dont 1 ajouté au coffre (identité qualifiée de la liste, DMP trouvé par INS).")
	ins := formatINS(p.INS.Matricule)
	assertText(t, "to identify", v.toIdentify.Text, "3 lignes à identifier :\n"+
		"Ligne 4 : INS "+ins+", le 16/03/2027 — les traits de la liste diffèrent de l'identité du coffre (identitovigilance) : non programmé\n"+
		"Ligne 5 : INS "+ins+", le 16/03/2027 — aucun DMP pour cet INS\n"+
		"Ligne 6 : INS "+ins+", le 16/03/2027 — le DMP a répondu par une erreur ; réimporter plus tard")
}
