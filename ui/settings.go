package ui

import (
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// languageNames are the choices of the language setting, each in its own
// language.
var languageNames = []struct{ code, name string }{
	{languageFrench, "Français"},
	{languageEnglish, "English"},
}

// settingsView is the settings page of the shell: auto-lock delay, language
// and passphrase change.
type settingsView struct {
	u      *UI
	onBack func()

	back     *widget.Button
	autoLock *entry
	save     *widget.Button
	saveMsg  *widget.Label

	language *widget.RadioGroup

	oldPass, newPass, confirm *entry
	strength                  *strengthHint
	mismatch                  *widget.Label
	change                    *widget.Button
	progress                  *widget.ProgressBarInfinite
	passMsg                   *widget.Label

	disposed bool
}

func newSettingsView(u *UI, onBack func()) *settingsView {
	return &settingsView{u: u, onBack: onBack}
}

// buildUI returns the settings page.
func (v *settingsView) buildUI() fyne.CanvasObject {
	v.back = widget.NewButtonWithIcon(tr("settings.back"), theme.NavigateBackIcon(), v.onBack)
	header := container.NewHBox(v.back, heading(tr("settings.title")))
	return container.NewBorder(header, nil, nil, nil,
		container.NewVScroll(container.NewVBox(v.buildAutoLock(), v.buildLanguage(), v.buildPassphrase(), v.buildAbout())))
}

func (v *settingsView) buildAutoLock() fyne.CanvasObject {
	v.autoLock = newEntry(v.u, "5")
	v.autoLock.SetText(strconv.Itoa(int(v.u.svc.Settings().AutoLock / time.Minute)))
	v.autoLock.OnSubmitted = func(string) { v.saveSettings() }
	v.save = widget.NewButtonWithIcon(tr("settings.save"), theme.DocumentSaveIcon(), v.saveSettings)
	v.saveMsg = newMessage(widget.DangerImportance)
	form := widget.NewForm(&widget.FormItem{
		Text: tr("settings.autolock"), Widget: v.autoLock, HintText: tr("settings.autolock.hint"),
	})
	return widget.NewCard(tr("settings.security"), "", container.NewVBox(form, container.NewHBox(v.save), v.saveMsg))
}

func (v *settingsView) buildLanguage() fyne.CanvasObject {
	names := make([]string, len(languageNames))
	current := languagePreference(v.u.a)
	for i, l := range languageNames {
		names[i] = l.name
	}
	v.language = widget.NewRadioGroup(names, nil)
	v.language.Horizontal = true
	v.language.Required = true
	for _, l := range languageNames {
		if l.code == current {
			v.language.Selected = l.name
		}
	}
	v.language.OnChanged = v.languageChanged
	return widget.NewCard(tr("settings.language"), tr("settings.language.hint"), v.language)
}

func (v *settingsView) buildPassphrase() fyne.CanvasObject {
	v.oldPass = newPasswordEntry(v.u, "")
	v.newPass = newPasswordEntry(v.u, "")
	v.confirm = newPasswordEntry(v.u, "")
	v.strength = newStrengthHint()
	v.mismatch = newMessage(widget.DangerImportance)
	v.newPass.OnChanged = func(string) { v.validatePassphrase() }
	v.confirm.OnChanged = func(string) { v.validatePassphrase() }
	v.confirm.OnSubmitted = func(string) { v.changePassphrase() }
	v.change = widget.NewButtonWithIcon(tr("settings.passphrase.change"), theme.ConfirmIcon(), v.changePassphrase)
	v.progress = widget.NewProgressBarInfinite()
	v.progress.Hide()
	v.passMsg = newMessage(widget.DangerImportance)
	form := widget.NewForm(
		widget.NewFormItem(tr("settings.passphrase.old"), v.oldPass),
		widget.NewFormItem(tr("settings.passphrase.new"), v.newPass),
		widget.NewFormItem("", v.strength.box),
		widget.NewFormItem(tr("settings.passphrase.confirm"), v.confirm),
	)
	return widget.NewCard(tr("settings.passphrase"), "",
		container.NewVBox(form, v.mismatch, container.NewHBox(v.change), v.progress, v.passMsg))
}

func (v *settingsView) buildAbout() fyne.CanvasObject {
	version := v.u.opt.Version
	if version == "" {
		version = "dev"
	}
	return widget.NewCard(tr("settings.about"), "", widget.NewLabel(tr("settings.version", map[string]any{"Version": version})))
}

// dispose clears the passphrase entries.
func (v *settingsView) dispose() {
	v.disposed = true
	for _, e := range []*entry{v.oldPass, v.newPass, v.confirm} {
		if e != nil {
			e.SetText("")
		}
	}
}

// saveSettings validates the auto-lock delay and saves it off the UI
// goroutine; the service validates the bounds (app.Settings.Validate).
func (v *settingsView) saveSettings() {
	v.saveMsg.Importance = widget.DangerImportance
	n, err := strconv.Atoi(strings.TrimSpace(v.autoLock.Text))
	if err != nil {
		setMessage(v.saveMsg, tr("settings.autolock.nan"))
		return
	}
	st := v.u.svc.Settings()
	st.AutoLock = time.Duration(n) * time.Minute
	v.save.Disable()
	ctx, svc := v.u.ctx, v.u.svc
	v.u.tasks.run(func() func() {
		err := svc.SaveSettings(ctx, st)
		return func() { v.saved(err) }
	})
}

func (v *settingsView) saved(err error) {
	if v.disposed {
		return
	}
	v.save.Enable()
	if err != nil {
		v.saveMsg.Importance = widget.DangerImportance
		setMessage(v.saveMsg, message(err)+" "+tr("settings.autolock.hint"))
		return
	}
	v.saveMsg.Importance = widget.SuccessImportance
	setMessage(v.saveMsg, tr("settings.saved"))
	if v.u.shell != nil {
		v.u.shell.updateStatus()
	}
}

// languageChanged stores the chosen language and rebuilds the window in it.
func (v *settingsView) languageChanged(name string) {
	for _, l := range languageNames {
		if l.name != name || l.code == languagePreference(v.u.a) {
			continue
		}
		v.u.a.Preferences().SetString(prefLanguage, l.code)
		if err := applyLanguage(l.code); err != nil {
			v.u.log.Error("load translations", "err", err)
			return
		}
		v.u.rebuild()
		return
	}
}

// validatePassphrase shows the new passphrase's strength and the mismatch.
func (v *settingsView) validatePassphrase() {
	v.strength.update(v.newPass.Text)
	if v.confirm.Text != "" && v.confirm.Text != v.newPass.Text {
		setMessage(v.mismatch, tr("firstrun.mismatch"))
		return
	}
	setMessage(v.mismatch, "")
}

// changePassphrase changes the passphrase off the UI goroutine.
func (v *settingsView) changePassphrase() {
	v.validatePassphrase()
	v.passMsg.Importance = widget.DangerImportance
	switch {
	case v.oldPass.Text == "":
		setMessage(v.passMsg, tr("settings.passphrase.old-missing"))
		return
	case app.PassphraseStrength([]byte(v.newPass.Text)) == app.StrengthTooShort:
		setMessage(v.passMsg, message(app.ErrWeakPassphrase))
		return
	case v.newPass.Text != v.confirm.Text:
		setMessage(v.passMsg, tr("firstrun.mismatch"))
		return
	}
	oldPass, newPass := []byte(v.oldPass.Text), []byte(v.newPass.Text) // wiped by ChangePassphrase
	v.setBusy(true)
	setMessage(v.passMsg, "")
	ctx, svc := v.u.ctx, v.u.svc
	v.u.tasks.run(func() func() {
		err := svc.ChangePassphrase(ctx, oldPass, newPass)
		return func() { v.changed(err) }
	})
}

func (v *settingsView) changed(err error) {
	if v.disposed {
		return
	}
	v.setBusy(false)
	if err != nil {
		v.passMsg.Importance = widget.DangerImportance
		setMessage(v.passMsg, message(err))
		return
	}
	for _, e := range []*entry{v.oldPass, v.newPass, v.confirm} {
		e.SetText("")
	}
	v.passMsg.Importance = widget.SuccessImportance
	setMessage(v.passMsg, tr("settings.passphrase.changed"))
}

func (v *settingsView) setBusy(busy bool) {
	for _, e := range []*entry{v.oldPass, v.newPass, v.confirm} {
		if busy {
			e.Disable()
		} else {
			e.Enable()
		}
	}
	if busy {
		v.change.Disable()
		v.progress.Show()
	} else {
		v.change.Enable()
		v.progress.Hide()
	}
	relayoutCanvasOf(v.progress)
}
