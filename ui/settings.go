package ui

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
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

// settingsView is the settings page of the shell: auto-lock delay,
// retention and re-validation days, language, theme, passphrase change, the
// operating-list import, the central service, credential and structure,
// and the secure mailboxes.
type settingsView struct {
	taskFrame // u, disposed, and the background work (tasks.go)
	onBack    func()

	back         *widget.Button
	autoLock     *entry
	retention    *entry
	revalidation *entry
	save         *widget.Button
	saveMsg      *widget.Label

	language *widget.RadioGroup
	theme    *widget.RadioGroup

	importList *widget.Button
	importing  *taskProgress
	importMsg  *widget.Label
	toIdentify *widget.Label
	picker     dialog.Dialog // the file picker, while shown

	oldPass, newPass, confirm *entry
	strength                  *strengthHint
	mismatch                  *widget.Label
	change                    *widget.Button
	progress                  *widget.ProgressBarInfinite
	passMsg                   *widget.Label

	conn *connectionCard // settings_connection.go
	mail *mailboxCard    // settings_mailbox.go
}

func newSettingsView(u *UI, onBack func()) *settingsView {
	return &settingsView{taskFrame: frame(u), onBack: onBack, conn: newConnectionCard(u), mail: newMailboxCard(u)}
}

// buildUI returns the settings page.
func (v *settingsView) buildUI() fyne.CanvasObject {
	v.back = widget.NewButtonWithIcon(tr("settings.back"), theme.NavigateBackIcon(), v.onBack)
	header := container.NewHBox(v.back, heading(tr("settings.title")))
	return container.NewBorder(header, nil, nil, nil,
		container.NewVScroll(container.NewVBox(v.buildAutoLock(), v.buildLanguage(), v.buildTheme(), v.buildPassphrase(),
			v.buildOperatingList(), v.conn.buildUI(), v.mail.buildUI(), v.buildAbout())))
}

func (v *settingsView) buildAutoLock() fyne.CanvasObject {
	st := v.u.svc.Settings()
	v.autoLock = newEntry(v.u, "5")
	v.autoLock.SetText(strconv.Itoa(int(st.AutoLock / time.Minute)))
	v.retention = newEntry(v.u, "30")
	v.retention.SetText(strconv.Itoa(st.RetentionDays))
	v.revalidation = newEntry(v.u, "7")
	v.revalidation.SetText(strconv.Itoa(st.RevalidationDays))
	for _, e := range []*entry{v.autoLock, v.retention, v.revalidation} {
		e.OnSubmitted = func(string) { v.saveSettings() }
	}
	v.save = widget.NewButtonWithIcon(tr("settings.save"), theme.DocumentSaveIcon(), v.saveSettings)
	v.saveMsg = newMessage(widget.DangerImportance)
	form := widget.NewForm(
		&widget.FormItem{Text: tr("settings.autolock"), Widget: v.autoLock, HintText: tr("settings.autolock.hint")},
		&widget.FormItem{Text: tr("settings.retention"), Widget: v.retention, HintText: tr("settings.retention.hint")},
		&widget.FormItem{Text: tr("settings.revalidation"), Widget: v.revalidation, HintText: tr("settings.revalidation.hint")},
	)
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

// dispose clears the passphrase entries and cancels the import.
func (v *settingsView) dispose() {
	v.end()
	v.conn.dispose()
	v.mail.dispose()
	if v.importing != nil {
		v.importing.dispose()
	}
	if v.picker != nil {
		v.picker.Hide()
		v.picker = nil
	}
	for _, e := range []*entry{v.oldPass, v.newPass, v.confirm} {
		if e != nil {
			e.SetText("")
		}
	}
}

// saveSettings reads the auto-lock delay, the retention and the
// re-validation days, and saves them off the UI goroutine; the bounds are
// app.Settings.Validate's, checked here first for a precise message and
// again by the service.
func (v *settingsView) saveSettings() {
	v.saveMsg.Importance = widget.DangerImportance
	var nums [3]int
	for i, e := range []*entry{v.autoLock, v.retention, v.revalidation} {
		n, err := strconv.Atoi(strings.TrimSpace(e.Text))
		if err != nil && i == 0 {
			setMessage(v.saveMsg, tr("settings.autolock.nan"))
			return
		}
		if err != nil {
			setMessage(v.saveMsg, tr("settings.days.nan"))
			return
		}
		nums[i] = n
	}
	st := v.u.svc.Settings()
	st.AutoLock = time.Duration(nums[0]) * time.Minute
	st.RetentionDays, st.RevalidationDays = nums[1], nums[2]
	if err := st.Validate(); err != nil {
		setMessage(v.saveMsg, message(app.ErrInvalid)+" "+settingsHint(st))
		return
	}
	svc := v.u.svc
	saving := form{frame: &v.taskFrame, msg: v.saveMsg, inputs: []fyne.Disableable{v.save}}
	saving.send(func(ctx context.Context) error { return svc.SaveSettings(ctx, st) }, func() string {
		if v.u.shell != nil {
			v.u.shell.updateStatus()
		}
		return tr("settings.saved")
	})
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
	svc := v.u.svc
	changing := form{frame: &v.taskFrame, msg: v.passMsg, bar: v.progress,
		inputs: []fyne.Disableable{v.oldPass, v.newPass, v.confirm, v.change}}
	changing.send(func(ctx context.Context) error { return svc.ChangePassphrase(ctx, oldPass, newPass) }, func() string {
		for _, e := range []*entry{v.oldPass, v.newPass, v.confirm} {
			e.SetText("")
		}
		return tr("settings.passphrase.changed")
	})
}

// settingsHint returns the bounds of the first setting of st out of them
// (the order of app.Settings.Validate).
func settingsHint(st app.Settings) string {
	switch {
	case st.AutoLock < time.Minute || st.AutoLock > time.Hour:
		return tr("settings.autolock.hint")
	case st.RetentionDays < 1 || st.RetentionDays > 365:
		return tr("settings.retention.hint")
	case st.RevalidationDays < 1 || st.RevalidationDays > 30:
		return tr("settings.revalidation.hint")
	}
	return ""
}

// buildTheme returns the theme choice: the system's, light or dark.
func (v *settingsView) buildTheme() fyne.CanvasObject {
	names := make([]string, len(themeChoices))
	current := themePreference(v.u.a)
	for i, c := range themeChoices {
		names[i] = themeName(c)
	}
	v.theme = widget.NewRadioGroup(names, nil)
	v.theme.Horizontal = true
	v.theme.Required = true
	v.theme.Selected = themeName(current)
	v.theme.OnChanged = v.themeChanged
	return widget.NewCard(tr("settings.theme"), tr("settings.theme.hint"), v.theme)
}

// themeName names a theme choice in the current language.
func themeName(c string) string {
	switch c {
	case themeLight:
		return tr("settings.theme.light")
	case themeDark:
		return tr("settings.theme.dark")
	}
	return tr("settings.theme.system")
}

// themeChanged stores the chosen theme and applies it at once.
func (v *settingsView) themeChanged(name string) {
	for _, c := range themeChoices {
		if themeName(c) != name || c == themePreference(v.u.a) {
			continue
		}
		v.u.a.Preferences().SetString(prefTheme, c)
		applyTheme(v.u.a)
		return
	}
}

// buildOperatingList returns the operating-list import: a CSV (INS and
// date) or iCalendar file whose patients are prefetched ahead of their
// intervention.
func (v *settingsView) buildOperatingList() fyne.CanvasObject {
	v.importList = widget.NewButtonWithIcon(tr("settings.oplist.choose"), theme.FolderOpenIcon(), v.chooseOperatingList)
	v.importing = newTaskProgress()
	v.importMsg = newMessage(widget.SuccessImportance)
	v.toIdentify = newMessage(widget.WarningImportance)
	return widget.NewCard(tr("settings.oplist"), tr("settings.oplist.hint"),
		container.NewVBox(container.NewHBox(v.importList), v.importing.box, v.importMsg, v.toIdentify))
}

// chooseOperatingList shows the file picker for .csv and .ics files.
func (v *settingsView) chooseOperatingList() {
	v.u.svc.Touch()
	d := dialog.NewFileOpen(func(rc fyne.URIReadCloser, err error) {
		v.picker = nil
		if err != nil {
			v.importMsg.Importance = widget.DangerImportance
			setMessage(v.importMsg, tr("settings.oplist.unreadable"))
			return
		}
		if rc != nil {
			v.importOperatingList(rc, rc.URI().Name())
		}
	}, v.u.w)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".csv", ".ics"}))
	d.Resize(fyne.NewSize(720, 480))
	v.picker = d
	d.Show()
}

// importOperatingList reads the file off the UI goroutine (bounded by
// app.MaxOperatingListBytes), closes it, and imports it: the patients
// found are scheduled, the INS not found are listed "to identify".
func (v *settingsView) importOperatingList(rc io.ReadCloser, name string) {
	v.importList.Disable()
	setMessage(v.importMsg, "")
	setMessage(v.toIdentify, "")
	svc := v.u.svc
	v.track(v.importing, tr("settings.oplist.importing"), func() { v.importList.Enable() },
		func(ctx context.Context) func() {
			data, err := io.ReadAll(io.LimitReader(rc, app.MaxOperatingListBytes+1))
			_ = rc.Close()
			var res app.OperatingListResult
			if err == nil {
				res, err = svc.ImportOperatingList(ctx, bytes.NewReader(data), name)
			}
			return func() { v.imported(res, err) }
		})
}

// imported shows the outcome of an import.
func (v *settingsView) imported(res app.OperatingListResult, err error) {
	v.importList.Enable()
	if err != nil {
		v.importMsg.Importance = widget.DangerImportance
		setMessage(v.importMsg, message(err))
		return
	}
	n := len(res.Scheduled)
	if n == 0 && len(res.ToIdentify) == 0 {
		v.importMsg.Importance = widget.WarningImportance
		setMessage(v.importMsg, tr("settings.oplist.empty"))
		return
	}
	v.importMsg.Importance = widget.SuccessImportance
	msg := trN("settings.oplist.scheduled", n, map[string]any{"N": n})
	if res.Added > 0 {
		msg += " " + trN("settings.oplist.added", res.Added, map[string]any{"N": res.Added})
	}
	setMessage(v.importMsg, msg)
	if len(res.ToIdentify) == 0 {
		return
	}
	lines := []string{trN("settings.oplist.toidentify", len(res.ToIdentify), map[string]any{"N": len(res.ToIdentify)})}
	for _, s := range res.ToIdentify {
		lines = append(lines, tr("settings.oplist.line", map[string]any{
			"Line": s.Line, "INS": formatINS(s.Matricule), "Date": formatDate(s.Date), "Reason": oplistReason(s.Reason)}))
	}
	setMessage(v.toIdentify, strings.Join(lines, "\n"))
}

// oplistReason translates why an operating-list entry was not scheduled.
func oplistReason(r app.OperatingListReason) string {
	switch r {
	case app.ListNotQualified:
		return tr("settings.oplist.reason.not-qualified")
	case app.ListTraitsIncomplete:
		return tr("settings.oplist.reason.traits-incomplete")
	case app.ListTraitsDisagree:
		return tr("settings.oplist.reason.traits-disagree")
	case app.ListNoRecord:
		return tr("settings.oplist.reason.no-record")
	case app.ListNoAccess:
		return tr("settings.oplist.reason.no-access")
	case app.ListNotSignedIn:
		return tr("settings.oplist.reason.not-signed-in")
	case app.ListOffline:
		return tr("settings.oplist.reason.offline")
	case app.ListINSUnsure:
		return tr("settings.oplist.reason.ins-unsure")
	}
	return tr("settings.oplist.reason.lookup-failed")
}
