package ui

import (
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// minJustification is the shortest bris de glace justification accepted,
// in characters once trimmed (the service itself refuses fewer than 10
// bytes).
const minJustification = 15

// accessView is the screen shown instead of the record when the central
// service refuses access. Each reason has its own screen: without the
// patient's authorisation, the consent dialog (explicit checkbox, then
// GrantAuthorization), the bris de glace with its mandatory justification,
// and the centre de régulation for regulation doctors only; a blocked,
// closed or missing record, or a profession not allowed, is a distinct
// screen offering nothing but the way back (a blocked professional may not
// break the glass either: it is the patient's choice).
type accessView struct {
	r      *recordView
	reason app.DenialReason
	err    error

	title      *widget.Label
	explain    *widget.Label
	consent    *widget.Button // no authorisation only
	emergency  *widget.Button // no authorisation only
	regulation *widget.Button // no authorisation, regulation role only
	back       *widget.Button
	msg        *widget.Label

	// The consent dialog.
	consentCheck   *widget.Check
	consentConfirm *widget.Button
	// The bris de glace dialog.
	justification    *entry
	justCount        *widget.Label
	emergencyConfirm *widget.Button
}

func newAccessView(r *recordView, reason app.DenialReason, err error) *accessView {
	return &accessView{r: r, reason: reason, err: err}
}

// accessTexts are the title and explanation keys of each screen.
var accessTexts = map[app.DenialReason][2]string{
	app.DeniedNoAuthorization: {"access.no_authorization.title", "access.no_authorization.explain"},
	app.DeniedBlocked:         {"access.blocked.title", "access.blocked.explain"},
	app.DeniedClosed:          {"access.closed.title", "access.closed.explain"},
	app.DeniedNoRecord:        {"access.no_record.title", "access.no_record.explain"},
	app.DeniedProfession:      {"access.profession.title", "access.profession.explain"},
}

// buildUI returns the screen.
func (v *accessView) buildUI() fyne.CanvasObject {
	icon := theme.ErrorIcon()
	if v.reason == app.DeniedNoAuthorization {
		icon = theme.InfoIcon()
	}
	if keys, ok := accessTexts[v.reason]; ok {
		v.title, v.explain = heading(tr(keys[0])), paragraph(tr(keys[1]))
	} else {
		v.title, v.explain = heading(tr("access.other.title")), paragraph(message(v.err))
	}
	v.title.Wrapping = fyne.TextWrapWord
	patient := widget.NewLabelWithStyle(v.r.patient.DisplayName()+" · "+formatBirthDate(v.r.patient.BirthDate),
		fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.msg = newMessage(widget.DangerImportance)
	v.back = widget.NewButtonWithIcon(tr("record.back"), theme.NavigateBackIcon(), v.r.onBack)
	items := []fyne.CanvasObject{
		container.NewBorder(nil, nil, widget.NewIcon(icon), nil, v.title), patient, v.explain,
	}
	if v.reason == app.DeniedNoAuthorization {
		v.consent = widget.NewButtonWithIcon(tr("access.consent.button"), theme.ConfirmIcon(), v.openConsent)
		v.consent.Importance = widget.HighImportance
		v.emergency = widget.NewButtonWithIcon(tr("access.emergency.button"), theme.WarningIcon(), v.openEmergency)
		v.emergency.Importance = widget.DangerImportance
		items = append(items, v.consent, paragraph(tr("access.emergency.explain")), v.emergency)
		if p, ok := v.r.u.svc.Practitioner(); ok && p.HasRole(app.RoleRegulation) {
			v.regulation = widget.NewButtonWithIcon(tr("access.regulation.button"), theme.MediaRecordIcon(), v.openRegulation)
			items = append(items, v.regulation)
		}
	}
	items = append(items, v.msg, container.NewHBox(v.back))
	return centered(container.NewVBox(items...))
}

// setBusy disables the actions while an opening runs.
func (v *accessView) setBusy(busy bool) {
	for _, b := range []*widget.Button{v.consent, v.emergency, v.regulation} {
		if b == nil {
			continue
		}
		if busy {
			b.Disable()
		} else {
			b.Enable()
		}
	}
	if busy {
		setMessage(v.msg, "")
	}
}

// setMessage shows why an action failed.
func (v *accessView) setMessage(text string) { setMessage(v.msg, text) }

// openConsent shows the consent dialog: the authorisation is recorded only
// after the checkbox is ticked and the confirmation tapped.
func (v *accessView) openConsent() {
	v.r.u.svc.Touch()
	var d dialog.Dialog
	v.consentConfirm = widget.NewButtonWithIcon(tr("access.consent.confirm"), theme.ConfirmIcon(), func() {
		if !v.consentCheck.Checked {
			return
		}
		d.Hide()
		v.r.grantAndOpen()
	})
	v.consentConfirm.Importance = widget.HighImportance
	v.consentConfirm.Disable()
	v.consentCheck = widget.NewCheck(tr("access.consent.check"), func(on bool) {
		v.r.u.svc.Touch()
		if on {
			v.consentConfirm.Enable()
		} else {
			v.consentConfirm.Disable()
		}
	})
	content := container.NewVBox(paragraph(tr("access.consent.explain")), v.consentCheck, v.consentConfirm)
	d = dialog.NewCustom(tr("access.consent.title"), tr("dialog.cancel"), content, v.r.u.w)
	v.r.showDialog(d)
}

// openEmergency shows the bris de glace dialog: the access button stays
// disabled until the justification is long enough.
func (v *accessView) openEmergency() {
	v.r.u.svc.Touch()
	var d dialog.Dialog
	v.justification = newEntry(v.r.u, tr("access.emergency.placeholder"))
	v.justification.MultiLine = true
	v.justification.Wrapping = fyne.TextWrapWord
	v.justification.SetMinRowsVisible(4)
	v.justCount = widget.NewLabel("")
	v.justCount.Importance = widget.LowImportance
	v.emergencyConfirm = widget.NewButtonWithIcon(tr("access.emergency.confirm"), theme.WarningIcon(), func() {
		just, ok := justification(v.justification.Text)
		if !ok {
			return
		}
		d.Hide()
		v.r.open(app.AccessEmergency, just)
	})
	v.emergencyConfirm.Importance = widget.DangerImportance
	v.justification.OnChanged = func(string) { v.justificationChanged() }
	v.justificationChanged()
	content := container.NewVBox(paragraph(tr("access.emergency.dialog")), v.justification, v.justCount, v.emergencyConfirm)
	d = dialog.NewCustom(tr("access.emergency.title"), tr("dialog.cancel"), content, v.r.u.w)
	v.r.showDialog(d)
	v.r.u.w.Canvas().Focus(v.justification)
}

// justificationChanged counts the characters and enables the access
// button once there are enough.
func (v *accessView) justificationChanged() {
	just, ok := justification(v.justification.Text)
	v.justCount.SetText(tr("access.emergency.count", map[string]any{"N": utf8.RuneCountInString(just), "Min": minJustification}))
	if ok {
		v.emergencyConfirm.Enable()
	} else {
		v.emergencyConfirm.Disable()
	}
}

// justification trims s and reports whether it is long enough.
func justification(s string) (string, bool) {
	s = strings.TrimSpace(s)
	return s, utf8.RuneCountInString(s) >= minJustification
}

// openRegulation opens the record in the centre de régulation mode, after
// a confirmation.
func (v *accessView) openRegulation() {
	v.r.u.svc.Touch()
	d := dialog.NewConfirm(tr("access.regulation.title"), tr("access.regulation.confirm"), func(ok bool) {
		if ok {
			v.r.open(app.AccessRegulation, "")
		}
	}, v.r.u.w)
	v.r.showDialog(d)
}
