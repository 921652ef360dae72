package ui

import (
	"image/color"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// recordHeader is the top of the record: the local identity and its
// status, the access mode, the red bris de glace banner with the
// justification (shown for the whole access), and the offline notice.
type recordHeader struct {
	name     *widget.Label
	identity *widget.Label // née …, birth date, sex, INS (QUAL only)
	status   *widget.Label // the identity status badge
	meaning  *widget.Label // what the status means
	mode     *widget.Label
	refresh  *widget.Button
	back     *widget.Button
	pin      *widget.Button // pin to the watch list, or unpin: an explicit action

	emergency     *fyne.Container // the red banner
	banner        *colorBox       // its background
	justification *widget.Label
	offline       *widget.Label
	signIn        *widget.Button // offline without a session: sign in
	breakGlass    *widget.Button // identity not qualified: bris de glace, justified
	msg           *widget.Label  // a failed refresh

	box *fyne.Container
}

func newRecordHeader(onRefresh, onBack, onSignIn func()) *recordHeader {
	h := &recordHeader{
		name:     heading(""),
		identity: widget.NewLabel(""),
		status:   widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Monospace: true}),
		meaning:  widget.NewLabel(""),
		mode:     widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		offline:  newMessage(widget.WarningImportance),
		msg:      newMessage(widget.DangerImportance),
	}
	h.name.Truncation = fyne.TextTruncateEllipsis
	h.refresh = widget.NewButtonWithIcon(tr("record.refresh"), theme.ViewRefreshIcon(), onRefresh)
	h.back = widget.NewButtonWithIcon(tr("record.back"), theme.NavigateBackIcon(), onBack)
	h.pin = widget.NewButtonWithIcon(tr("vigilance.pin"), theme.VisibilityIcon(), nil)
	h.pin.Hide()
	h.signIn = widget.NewButtonWithIcon(tr("signin.button"), theme.AccountIcon(), onSignIn)
	h.signIn.Hide()
	h.breakGlass = widget.NewButtonWithIcon(tr("access.emergency.button"), theme.WarningIcon(), nil)
	h.breakGlass.Importance = widget.DangerImportance
	h.breakGlass.Hide()

	h.justification = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	h.justification.Wrapping = fyne.TextWrapWord
	// The banner's colours are read from the theme when drawn, never kept:
	// a change of theme in the settings repaints it at once.
	h.banner = newColorBox(emergencyColor)
	// The banner's text comes under a theme override, added the first time
	// the banner is shown (showEmergency): Fyne empties its whole
	// text-measure cache whenever an override is built or refreshed, and
	// every window-wide layout refreshes it — for every record, it made each
	// screen measure all its texts again (BenchmarkPreopView).
	h.emergency = container.NewStack(h.banner)
	h.emergency.Hide()

	top := container.NewBorder(nil, nil, h.back, container.NewHBox(h.mode, h.pin, h.refresh), h.name)
	status := container.NewHBox(h.status, h.meaning)
	h.box = container.NewVBox(top, container.NewBorder(nil, nil, nil, status, h.identity), h.emergency,
		container.NewBorder(nil, nil, nil, container.NewHBox(h.signIn, h.breakGlass), h.offline), h.msg, widget.NewSeparator())
	return h
}

// show fills the header for patient p, the access acc and the record rec;
// signedIn says whether a practitioner is signed in, canSignIn whether a
// credential is configured.
func (h *recordHeader) show(p app.Patient, acc app.Access, rec app.PatientRecord, signedIn, canSignIn bool) {
	h.name.SetText(p.DisplayName())
	h.identity.SetText(identityLine(p))
	h.status.Importance = statusImportance(p.Status)
	h.status.SetText(string(p.Status))
	h.meaning.SetText(statusMeaning(p.Status))
	h.mode.Importance = widget.MediumImportance
	if acc.Mode == app.AccessEmergency {
		h.mode.Importance = widget.DangerImportance
	}
	h.mode.SetText(modeLabel(acc.Mode))
	if !signedIn {
		h.mode.SetText(tr("mode.local"))
	}
	if acc.Mode == app.AccessEmergency {
		h.justification.SetText(tr("record.emergency.banner", map[string]any{"Justification": acc.Justification}))
		h.showEmergency()
	} else {
		h.justification.SetText("")
		h.emergency.Hide()
	}
	offline := ""
	if rec.Offline {
		offline = tr("record.offline.never")
		if !rec.CheckedAt.IsZero() {
			offline = tr("record.offline.checked", map[string]any{
				"Date": formatDate(rec.CheckedAt), "Time": rec.CheckedAt.In(displayZone).Format("15:04")})
		}
		if !signedIn {
			offline += " " + tr("record.offline.signin")
		}
	}
	if rec.Refreshing {
		offline = tr("record.cached.checked", map[string]any{
			"Date": formatDate(rec.CheckedAt), "Time": rec.CheckedAt.In(displayZone).Format("15:04")})
		if rec.CheckedAt.IsZero() {
			offline = tr("record.cached.never")
		}
	}
	if rec.NotQualified {
		// Why the DMP was not asked, and what to do.
		offline = tr("vigilance.notqualified", map[string]any{"Status": string(p.Status), "Meaning": statusMeaning(p.Status)})
	}
	h.setPinned(p.Pinned)
	if rec.NotQualified && signedIn && h.breakGlass.OnTapped != nil {
		h.breakGlass.Show()
	} else {
		h.breakGlass.Hide()
	}
	if rec.Offline && !signedIn && canSignIn {
		h.signIn.Show()
	} else {
		h.signIn.Hide()
	}
	setMessage(h.offline, offline)
	setMessage(h.msg, "")
	h.box.Show()
}

// onPin sets what the pin button does (shown only when set).
func (h *recordHeader) onPin(f func()) { h.pin.OnTapped = f }

// setPinned shows whether the patient is pinned to the watch list.
func (h *recordHeader) setPinned(pinned bool) {
	if h.pin.OnTapped == nil {
		h.pin.Hide()
		return
	}
	if pinned {
		h.pin.SetText(tr("vigilance.unpin"))
		h.pin.SetIcon(theme.VisibilityOffIcon())
	} else {
		h.pin.SetText(tr("vigilance.pin"))
		h.pin.SetIcon(theme.VisibilityIcon())
	}
	h.pin.Show()
}

// onBreakGlass sets what the bris de glace button of a non-qualified
// identity does (the justification dialog of the access screen).
func (h *recordHeader) onBreakGlass(f func()) { h.breakGlass.OnTapped = f }

// setMessage shows why a refresh failed.
func (h *recordHeader) setMessage(text string) { setMessage(h.msg, text) }

// showEmergency shows the red banner, its text under onErrorTheme.
func (h *recordHeader) showEmergency() {
	if len(h.emergency.Objects) == 1 {
		icon := widget.NewIcon(theme.NewThemedResource(theme.WarningIcon()))
		h.emergency.Add(container.NewThemeOverride(
			container.NewPadded(container.NewBorder(nil, nil, icon, nil, h.justification)), onErrorTheme{}))
	}
	h.emergency.Show()
}

// clear empties every text of the header.
func (h *recordHeader) clear() {
	for _, l := range []*widget.Label{h.name, h.identity, h.status, h.meaning, h.mode, h.justification, h.offline, h.msg} {
		l.SetText("")
	}
	h.emergency.Hide()
	h.breakGlass.Hide()
	h.pin.Hide()
}

// identityLine returns the full identity a person checks before reading a
// record: "née MARTIN · prénoms de naissance Élodie Marie · 12/03/1979 ·
// Femme · INS 2 79 …" — the birth name always, the birth given names, the
// birth date, the sex, and the INS of a QUAL identity only (the status is
// shown beside it).
func identityLine(p app.Patient) string {
	var parts []string
	if p.BirthName != "" {
		key := "record.born.unknown"
		switch p.Sex {
		case app.SexFemale:
			key = "record.born.female"
		case app.SexMale:
			key = "record.born.male"
		}
		parts = append(parts, tr(key, map[string]any{"Name": p.BirthName}))
	}
	if g := strings.TrimSpace(p.BirthGivenNames); g != "" {
		parts = append(parts, tr("vigilance.given", map[string]any{"Names": g}))
	}
	if p.BirthDate != "" {
		parts = append(parts, formatBirthDate(p.BirthDate))
	}
	parts = append(parts, sexLabel(p.Sex))
	if p.Status == app.IdentityQualified && p.INS.Matricule != "" {
		parts = append(parts, "INS "+formatINS(p.INS.Matricule))
	}
	return strings.Join(parts, " · ")
}

func sameName(a, b string) bool { return app.Fold(a) == app.Fold(b) }

// statusMeaning says in words what an identity status means.
func statusMeaning(s app.IdentityStatus) string {
	switch s {
	case app.IdentityQualified:
		return tr("identity.qual")
	case app.IdentityValidated:
		return tr("identity.vali")
	case app.IdentityRecovered:
		return tr("identity.recup")
	}
	return tr("identity.prov")
}

// onErrorTheme is a theme with the foreground in the contrast colour of the
// error colour: the text and icon of the red bris de glace banner. It
// reads the application's theme at every call, never a copy taken when the
// banner was built, so that it follows a change of theme. (Inside a theme
// override theme.Current() may be the override itself: the application's
// settings are asked instead.)
type onErrorTheme struct{}

// base returns the application's theme.
func (onErrorTheme) base() fyne.Theme {
	if a := fyne.CurrentApp(); a != nil && a.Settings().Theme() != nil {
		return a.Settings().Theme()
	}
	return theme.DefaultTheme()
}

// Color implements fyne.Theme.
func (t onErrorTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if n == theme.ColorNameForeground {
		n = theme.ColorNameForegroundOnError
	}
	return t.base().Color(n, v)
}

// Font implements fyne.Theme.
func (t onErrorTheme) Font(s fyne.TextStyle) fyne.Resource { return t.base().Font(s) }

// Icon implements fyne.Theme.
func (t onErrorTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return t.base().Icon(n) }

// Size implements fyne.Theme.
func (t onErrorTheme) Size(n fyne.ThemeSizeName) float32 { return t.base().Size(n) }
