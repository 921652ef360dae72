package ui

import (
	"context"
	"errors"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// unlockView is the screen shown while the vault is locked: a passphrase
// entry and the unlock button, and in demo mode the demo passphrase.
type unlockView struct {
	taskFrame // u, disposed, and the background work (tasks.go)

	notice   *widget.Label // why the vault was locked
	demo     *widget.Card  // demo mode only
	demoFill *widget.Button
	pass     *entry
	button   *widget.Button
	progress *widget.ProgressBarInfinite
	msg      *widget.Label

	busy     bool
	deadline time.Time     // no new attempt before this time
	why      string        // shown before the countdown: what failed
	stop     chan struct{} // stops the countdown; nil when none runs
	older    bool          // the next submit opens an older copy (askOlder)
}

func newUnlockView(u *UI) *unlockView {
	return &unlockView{taskFrame: frame(u)}
}

// buildUI implements view.
func (v *unlockView) buildUI() fyne.CanvasObject {
	v.notice = newMessage(widget.MediumImportance)
	v.pass = newPasswordEntry(v.u, tr("unlock.placeholder"))
	v.pass.OnSubmitted = func(string) { v.submit() }
	v.button = widget.NewButtonWithIcon(tr("unlock.button"), theme.LoginIcon(), v.submit)
	v.button.Importance = widget.HighImportance
	v.progress = widget.NewProgressBarInfinite()
	v.progress.Hide()
	v.msg = newMessage(widget.DangerImportance)

	items := []fyne.CanvasObject{
		heading(tr("unlock.title")),
		paragraph(tr("unlock.intro")),
		v.notice,
	}
	if v.u.opt.Demo {
		pass := widget.NewLabelWithStyle(v.u.opt.DemoPassphrase, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		pass.Selectable = true
		v.demoFill = widget.NewButtonWithIcon(tr("unlock.demo.fill"), theme.ContentPasteIcon(), func() {
			v.pass.SetText(v.u.opt.DemoPassphrase)
			v.u.w.Canvas().Focus(v.pass)
		})
		v.demo = widget.NewCard(tr("unlock.demo.title"), tr("unlock.demo.subtitle"),
			container.NewVBox(container.NewBorder(nil, nil, widget.NewIcon(theme.InfoIcon()), v.demoFill, pass)))
		items = append(items, v.demo)
	}
	items = append(items,
		widget.NewLabelWithStyle(tr("unlock.passphrase"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		v.pass, v.button, v.progress, v.msg)
	return centered(container.NewVBox(items...))
}

// dispose implements view.
func (v *unlockView) dispose() {
	v.end()
	v.stopCountdown()
	v.pass.SetText("")
	v.progress.Hide()
}

// setNotice shows why the vault was locked (empty: nothing).
func (v *unlockView) setNotice(text string) { setMessage(v.notice, text) }

// submit unlocks the vault off the UI goroutine; the service's unlock hook
// then shows the shell.
func (v *unlockView) submit() {
	if v.busy || v.stop != nil {
		return
	}
	if v.pass.Text == "" {
		setMessage(v.msg, tr("vigilance.passphrase.empty"))
		return
	}
	pass := []byte(v.pass.Text) // wiped by Unlock
	v.pass.SetText("")
	v.setBusy(true)
	setMessage(v.msg, "")
	svc := v.u.svc
	older := v.older
	v.older = false
	v.run(func(ctx context.Context) func() {
		unlock := svc.Unlock
		if older { // the user chose to open an older copy (askOlder)
			unlock = svc.UnlockOlder
		}
		_, err := unlock(ctx, pass)
		return func() { v.done(err) }
	})
}

// done shows why Unlock failed; on success the shell has already replaced
// this screen.
func (v *unlockView) done(err error) {
	if err == nil {
		return
	}
	v.setBusy(false)
	var wait *app.WaitError
	switch {
	case errors.As(err, &wait):
		v.startCountdown("", wait.Wait)
	case errors.Is(err, app.ErrOlderVault):
		setMessage(v.msg, message(err))
		v.askOlder()
	case errors.Is(err, app.ErrWrongPassphrase):
		if d := v.u.svc.RetryIn(); d > 0 {
			v.startCountdown(message(err), d)
			return
		}
		setMessage(v.msg, message(err))
	default:
		setMessage(v.msg, message(err))
	}
	if v.stop == nil {
		v.u.w.Canvas().Focus(v.pass)
	}
}

// askOlder offers the choice app.ErrOlderVault calls for: open this older
// copy anyway (the passphrase is asked again; purged patients stay
// unreadable in it) or leave it closed.
func (v *unlockView) askOlder() {
	dialog.NewConfirm(tr("unlock.older.title"), tr("unlock.older.confirm"), func(yes bool) {
		if v.disposed || !yes {
			return
		}
		v.older = true
		setMessage(v.msg, tr("unlock.older.again"))
		v.u.w.Canvas().Focus(v.pass)
	}, v.u.w).Show()
}

func (v *unlockView) setBusy(busy bool) {
	v.busy = busy
	if busy {
		v.pass.Disable()
		v.button.Disable()
		v.progress.Show()
		relayoutCanvasOf(v.progress)
		return
	}
	v.pass.Enable()
	v.button.Enable()
	v.progress.Hide()
	relayoutCanvasOf(v.progress)
}

// startCountdown refuses new attempts for d, showing why and the seconds
// left.
func (v *unlockView) startCountdown(why string, d time.Duration) {
	v.stopCountdown()
	v.why = why
	v.deadline = time.Now().Add(d)
	v.pass.Disable()
	v.button.Disable()
	stop := make(chan struct{})
	v.stop = stop
	v.tickCountdown(time.Now())
	tick, do := v.u.tick, v.u.do
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				do(func() {
					if v.stop == stop {
						v.tickCountdown(now)
					}
				})
			}
		}
	}()
}

// tickCountdown updates the countdown at now and ends it when the delay
// has elapsed.
func (v *unlockView) tickCountdown(now time.Time) {
	left := v.deadline.Sub(now)
	if left <= 0 {
		v.stopCountdown()
		setMessage(v.msg, tr("unlock.retry-now"))
		v.pass.Enable()
		v.button.Enable()
		v.u.w.Canvas().Focus(v.pass)
		return
	}
	text := tr("error.wait", map[string]any{"Seconds": seconds(left)})
	if v.why != "" {
		text = v.why + " " + text
	}
	setMessage(v.msg, text)
}

func (v *unlockView) stopCountdown() {
	if v.stop != nil {
		close(v.stop)
		v.stop = nil
	}
}
