package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// signInView is the practitioner part of the shell's top bar: who is signed
// in with their card, or a button to sign in (PIN dialog). Without a
// configured credential it says that Carnet works on its vault alone.
type signInView struct {
	taskFrame // u, and the background work (tasks.go)

	who    *widget.Label
	button *widget.Button
	box    *fyne.Container

	dialog  dialog.Dialog
	pin     *entry
	msg     *widget.Label
	submit  *widget.Button
	demoPIN *widget.Label // demo mode: the sandbox credential's PIN
	busy    bool
}

func newSignInView(u *UI) *signInView { return &signInView{taskFrame: frame(u)} }

// buildUI returns the top-bar part.
func (v *signInView) buildUI() fyne.CanvasObject {
	v.who = widget.NewLabel("")
	v.button = widget.NewButtonWithIcon(tr("signin.button"), theme.AccountIcon(), v.open)
	v.box = container.NewHBox(v.who, v.button)
	v.refresh()
	return v.box
}

// refresh shows the signed-in practitioner or the sign-in button.
func (v *signInView) refresh() {
	if p, ok := v.u.svc.Practitioner(); ok {
		v.who.SetText(tr("signin.who", map[string]any{"Name": p.Name, "Structure": p.Structure.Name}))
		v.who.Show()
		v.button.Hide()
		return
	}
	v.who.Hide()
	if !v.u.canSignIn() {
		v.who.SetText(tr("signin.none"))
		v.who.Show()
		v.button.Hide()
		return
	}
	v.button.Show()
}

// open shows the PIN dialog.
func (v *signInView) open() {
	v.u.svc.Touch()
	v.pin = newPasswordEntry(v.u, tr("signin.pin"))
	v.pin.OnSubmitted = func(string) { v.signIn() }
	v.msg = newMessage(widget.DangerImportance)
	v.submit = widget.NewButtonWithIcon(tr("signin.submit"), theme.ConfirmIcon(), v.signIn)
	v.submit.Importance = widget.HighImportance
	items := []fyne.CanvasObject{
		paragraph(tr("signin.explain", map[string]any{"Credential": v.u.credentialLabel()})),
	}
	if v.u.opt.DemoPIN != "" {
		v.demoPIN = widget.NewLabelWithStyle(tr("signin.demo-pin", map[string]any{"PIN": v.u.opt.DemoPIN}),
			fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		items = append(items, v.demoPIN)
	}
	items = append(items, v.pin, v.msg, v.submit)
	content := container.NewVBox(items...)
	v.dialog = dialog.NewCustom(tr("signin.title"), tr("signin.cancel"), content, v.u.w)
	v.dialog.Resize(fyne.NewSize(440, 0))
	v.dialog.Show()
	v.u.w.Canvas().Focus(v.pin)
}

// signIn opens the credential with the PIN off the UI goroutine.
func (v *signInView) signIn() {
	if v.busy || !v.u.canSignIn() {
		return
	}
	if v.pin.Text == "" {
		// Say what is missing rather than asking the card.
		setMessage(v.msg, tr("vigilance.pin.empty"))
		return
	}
	pin := []byte(v.pin.Text)
	v.pin.SetText("")
	signIn := v.u.opt.SignIn
	signing := form{frame: &v.taskFrame, msg: v.msg, inputs: []fyne.Disableable{v.submit},
		busy: func(busy bool) { v.busy = busy }}
	signing.send(func(ctx context.Context) error { return signIn(ctx, pin) }, func() string {
		v.dialog.Hide()
		v.refresh()
		return ""
	})
}

// SignInFunc opens the practitioner's credential with a PIN and starts the
// session with the central record service (main provides it; ui cannot
// reach the card itself). It must wipe pin.
type SignInFunc func(ctx context.Context, pin []byte) error

// canSignIn reports whether a sign-in can be offered: main gave a sign-in
// function and, when the service manages the connection, the central
// service and a credential are set.
func (u *UI) canSignIn() bool {
	return u.opt.SignIn != nil && (!u.svc.CanEditConnection() || u.svc.Connection().Configured())
}

// credentialLabel names the configured credential ("carte CPS", or the
// certificate file's name).
func (u *UI) credentialLabel() string {
	if l := credentialLabel(u.svc.Connection().Credential); l != "" {
		return l
	}
	return tr("signin.credential.card")
}
