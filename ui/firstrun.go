package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// firstRunView is the screen shown when no vault exists: it creates one,
// protected by a passphrase typed twice and, optionally, by the clinic's
// recovery key.
type firstRunView struct {
	taskFrame // u, disposed, and the background work (tasks.go)

	pass1, pass2 *entry
	strength     *strengthHint
	mismatch     *widget.Label

	chooseKey  *widget.Button
	removeKey  *widget.Button
	keySummary *widget.Label
	noKey      *widget.Label // warning shown while no recovery key is chosen
	keyError   *widget.Label
	key        []byte // the chosen recovery public key (armored), or nil

	create   *widget.Button
	progress *widget.ProgressBarInfinite
	msg      *widget.Label

	busy bool
}

func newFirstRunView(u *UI) *firstRunView {
	return &firstRunView{taskFrame: frame(u)}
}

// buildUI implements view.
func (v *firstRunView) buildUI() fyne.CanvasObject {
	v.pass1 = newPasswordEntry(v.u, tr("firstrun.passphrase.placeholder"))
	v.pass2 = newPasswordEntry(v.u, tr("firstrun.confirm.placeholder"))
	v.pass1.OnChanged = func(string) { v.validate() }
	v.pass2.OnChanged = func(string) { v.validate() }
	v.pass2.OnSubmitted = func(string) { v.submit() }
	v.strength = newStrengthHint()
	v.mismatch = newMessage(widget.DangerImportance)

	v.chooseKey = widget.NewButtonWithIcon(tr("firstrun.key.choose"), theme.FolderOpenIcon(), v.pickKey)
	v.removeKey = widget.NewButtonWithIcon(tr("firstrun.key.remove"), theme.DeleteIcon(), func() { v.setKey(nil, app.RecoveryKeyInfo{}) })
	v.removeKey.Hide()
	v.keySummary = newMessage(widget.MediumImportance)
	v.keyError = newMessage(widget.DangerImportance)
	v.noKey = newMessage(widget.WarningImportance)
	setMessage(v.noKey, tr("firstrun.key.none"))

	v.create = widget.NewButtonWithIcon(tr("firstrun.create"), theme.ConfirmIcon(), v.submit)
	v.create.Importance = widget.HighImportance
	v.progress = widget.NewProgressBarInfinite()
	v.progress.Hide()
	v.msg = newMessage(widget.DangerImportance)
	v.validate()

	form := container.NewVBox(
		heading(tr("firstrun.title")),
		paragraph(tr("firstrun.intro")),
		widget.NewLabelWithStyle(tr("firstrun.passphrase"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		v.pass1,
		v.strength.box,
		widget.NewLabelWithStyle(tr("firstrun.confirm"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		v.pass2,
		v.mismatch,
		widget.NewSeparator(),
		widget.NewLabelWithStyle(tr("firstrun.key.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		paragraph(tr("firstrun.key.intro")),
		container.NewHBox(v.chooseKey, v.removeKey),
		v.keySummary,
		v.keyError,
		v.noKey,
		widget.NewSeparator(),
		v.create,
		v.progress,
		v.msg,
	)
	return centered(form)
}

// dispose implements view.
func (v *firstRunView) dispose() {
	v.end()
	v.pass1.SetText("")
	v.pass2.SetText("")
	v.key = nil
	v.progress.Hide()
}

// validate shows the strength and the mismatch, and enables the create
// button when the passphrases are acceptable and equal.
func (v *firstRunView) validate() {
	v.strength.update(v.pass1.Text)
	mismatch := v.pass2.Text != "" && v.pass1.Text != v.pass2.Text
	if mismatch {
		setMessage(v.mismatch, tr("firstrun.mismatch"))
	} else {
		setMessage(v.mismatch, "")
	}
	if v.ok() && !v.busy {
		v.create.Enable()
	} else {
		v.create.Disable()
	}
}

// ok reports whether the passphrases may be used.
func (v *firstRunView) ok() bool {
	return app.PassphraseStrength([]byte(v.pass1.Text)) != app.StrengthTooShort && v.pass1.Text == v.pass2.Text
}

// submit creates the vault off the UI goroutine; the service's unlock hook
// then shows the shell.
func (v *firstRunView) submit() {
	if v.busy {
		return
	}
	if !v.ok() {
		v.validate()
		setMessage(v.msg, tr("firstrun.invalid"))
		return
	}
	pass := []byte(v.pass1.Text) // wiped by Create
	opt := app.CreateOptions{RecoveryKey: v.key}
	svc := v.u.svc
	// The form shows Create's error; on success the shell has already
	// replaced this screen.
	creating := form{frame: &v.taskFrame, msg: v.msg, bar: v.progress,
		inputs: []fyne.Disableable{v.pass1, v.pass2, v.chooseKey, v.removeKey},
		busy:   func(busy bool) { v.busy = busy; v.validate() }}
	creating.send(func(ctx context.Context) error {
		return svc.Create(ctx, pass, opt)
	}, nil)
}

// pickKey opens the file picker for the clinic's recovery public key.
func (v *firstRunView) pickKey() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			setMessage(v.keyError, tr("firstrun.key.unreadable"))
			return
		}
		if r == nil {
			return // cancelled
		}
		v.readKey(r)
	}, v.u.w)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".asc", ".pub", ".gpg", ".pgp", ".key"}))
	d.Resize(fyne.NewSize(760, 520))
	d.Show()
}

// readKey reads and summarises a key file off the UI goroutine.
func (v *firstRunView) readKey(r io.ReadCloser) {
	setMessage(v.keyError, "")
	v.run(func(context.Context) func() {
		data, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
		_ = r.Close()
		var sum app.RecoveryKeyInfo
		switch {
		case err != nil:
		case len(data) > maxKeyFile:
			err = fmt.Errorf("ui: recovery key file too large: %w", app.ErrInvalid)
		default:
			sum, err = v.u.svc.InspectRecoveryKey(data)
		}
		return func() {
			if err != nil {
				setMessage(v.keyError, keyProblem(err))
				return
			}
			v.setKey(data, sum)
		}
	})
}

// setKey records the chosen key (nil: none) and shows its summary.
func (v *firstRunView) setKey(key []byte, sum app.RecoveryKeyInfo) {
	v.key = key
	setMessage(v.keyError, "")
	if key == nil {
		v.removeKey.Hide()
		setMessage(v.keySummary, "")
		setMessage(v.noKey, tr("firstrun.key.none"))
		return
	}
	setMessage(v.noKey, "")
	v.removeKey.Show()
	setMessage(v.keySummary, keySummaryText(sum))
}

// maxKeyFile bounds the size of a recovery key file read from disk.
const maxKeyFile = 1 << 20

// keySummaryText shows the key's user id and its fingerprint in groups of
// four, as published by the clinic's IT.
func keySummaryText(k app.RecoveryKeyInfo) string {
	uid := k.UserID
	if uid == "" {
		uid = tr("firstrun.key.no-uid")
	}
	var groups []string
	for i := 0; i < len(k.Fingerprint); i += 4 {
		groups = append(groups, k.Fingerprint[i:min(i+4, len(k.Fingerprint))])
	}
	return tr("firstrun.key.summary", map[string]any{"UserID": uid, "Fingerprint": strings.Join(groups, " ")})
}

// keyProblem says what is wrong with a chosen key file.
func keyProblem(err error) string {
	switch {
	case errors.Is(err, app.ErrPrivateKey):
		return tr("firstrun.key.private")
	case errors.Is(err, app.ErrInvalid):
		return tr("firstrun.key.invalid")
	}
	return tr("firstrun.key.unreadable")
}
