// Package ui is Carnet's desktop user interface, built with Fyne.
//
// One file per screen: first run (firstrun.go), unlock (unlock.go), the main
// shell with its patient search, status bar and sign-in (shell.go,
// search.go, status.go, signin.go), the patient record (record.go, the page
// and its tabs; recordheader.go, its header; access.go, the access-denied
// screens with the consent and bris de glace dialogs; documents.go, meds.go
// and meds_declare.go with timeline.go, traces.go, audit.go and write.go,
// its tabs; prefetch.go, the background download for offline reading), the
// document viewer (viewer.go, richtext.go, pdfview.go), the outbox with its
// conflicts (outbox.go), the MSSanté inbox (inbox.go), the journal
// (audit.go) and the settings (settings.go, theme.go). Each screen is an
// unexported view struct that keeps its widgets as fields, so that tests can
// type into them and tap them, and builds its content in buildUI.
//
// The package does no I/O of its own: everything goes through app.Service
// (the exceptions: the files the user picks — recovery key, operating list —
// read off the UI goroutine, pdftoppm through pipes, and the private
// temporary copies of the system-viewer fallback, wiped at lock). Work
// that may take time runs off the UI goroutine and comes back through
// fyne.Do, always through the one task frame of tasks.go: a view embeds
// taskFrame (run, track with progress and cancel, end at dispose), a form
// sends through form (busy, task, translated error or success), and a list
// shows its empty state with emptyList. Package ui never imports
// fyne.io/fyne/v2/app, so its tests run headless with CGO_ENABLED=0.
package ui

import (
	"context"
	"log/slog"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/assets"
)

// Options are the choices main makes for the user interface.
type Options struct {
	Demo           bool   // demo mode: show DemoPassphrase on the unlock screen
	DemoPassphrase string // the passphrase of the demo vault
	Version        string // Carnet's version, shown in the settings

	// SignIn, when set, signs the practitioner in with the credential of
	// the service's connection (app.Service.Connection) and a PIN.
	SignIn  SignInFunc
	DemoPIN string // demo mode: the PIN of the sandbox credential, shown in the dialog
	// DemoOutage, when set (demo mode), pauses (true) or resumes the
	// in-process sandbox: the shell offers a "simulate an outage" switch,
	// so that a newcomer sees offline work in a minute.
	DemoOutage func(paused bool)

	// Do, when set, replaces fyne.Do for what background work hands to
	// the UI goroutine. A test that drives the window from its own
	// goroutine queues the functions and runs them there: Fyne's test
	// driver runs fyne.Do at once on the calling goroutine. Main leaves it
	// nil.
	Do func(func())

	// PDFRenderer, when set, renders PDF attachments where poppler's
	// pdftoppm is not installed (Windows); without either, a PDF opens in
	// the system viewer.
	PDFRenderer PDFRenderer
}

// UI is Carnet's main window and the router between its screens: first run,
// unlock, and the shell shown while the vault is unlocked.
type UI struct {
	a   fyne.App
	w   fyne.Window
	svc *app.Service
	opt Options
	log *slog.Logger

	ctx    context.Context // cancelled when the window closes
	cancel context.CancelFunc
	tasks  tasks

	// do runs a function on the UI goroutine: fyne.Do. Tests replace it
	// with a queue they drain on the test goroutine, because the test
	// driver's fyne.Do runs the function at once on the calling goroutine.
	do func(func())

	// tick is the period of the countdowns (status bar, unlock retry).
	// Tests make it long so that no timer fires during a test.
	tick time.Duration

	// copies are the temporary copies of documents opened in the system
	// viewer (pdfview.go), wiped at every lock and when the window closes.
	copies *systemCopies

	current  view // the screen shown, nil before the first one
	firstRun *firstRunView
	unlock   *unlockView
	shell    *shell
}

// view is one screen of the window.
type view interface {
	// buildUI returns the screen's content.
	buildUI() fyne.CanvasObject
	// dispose stops the screen's timers and drops any patient data it holds.
	dispose()
}

// New builds Carnet's main window and chooses its first screen: the first-run
// screen when no vault exists, the unlock screen otherwise. It applies the
// language stored in the preferences (French by default) and registers the
// lock and unlock hooks on svc.
func New(a fyne.App, svc *app.Service, opt Options) *UI {
	ctx, cancel := context.WithCancel(context.Background())
	u := &UI{
		a: a, svc: svc, opt: opt, log: slog.Default(),
		ctx: ctx, cancel: cancel, tick: time.Second, do: fyne.Do,
	}
	if opt.Do != nil {
		u.do = opt.Do
	}
	u.tasks.do = func(f func()) { u.do(f) }
	if opt.PDFRenderer != nil {
		pdfFallback.Store(&opt.PDFRenderer)
	}
	if err := applyLanguage(languagePreference(a)); err != nil {
		u.log.Error("load translations", "err", err)
	}
	applyTheme(a)
	if len(assets.IconPNG) > 0 {
		a.SetIcon(fyne.NewStaticResource("icon.png", assets.IconPNG))
	}
	u.w = a.NewWindow("Carnet")
	u.w.SetMaster()
	u.w.Resize(fyne.NewSize(960, 680))
	u.w.SetOnClosed(u.closed)
	u.setupActivity()
	u.setupShortcuts()

	u.copies = newSystemCopies(u.log)
	u.copies.wipe()                                      // copies a crashed session left behind
	svc.OnLock(func(app.LockReason) { u.copies.wipe() }) // on the locking goroutine, before Lock returns
	svc.OnLock(func(r app.LockReason) { u.do(func() { u.locked(r) }) })
	svc.OnUnlock(func(rep app.UnlockReport) { u.do(func() { u.unlocked(rep) }) })

	switch {
	case !svc.HasVault():
		u.showFirstRun()
	case svc.Locked():
		u.showUnlock("")
	default:
		u.showShell(nil)
	}
	return u
}

// Window returns the main window.
func (u *UI) Window() fyne.Window { return u.w }

// ShowAndRun shows the main window and runs the application until it quits.
// Afterwards the UI ignores the service's hooks: main may lock the vault on
// its way out.
func (u *UI) ShowAndRun() {
	u.w.ShowAndRun()
	u.closed()
}

// show replaces the current screen with v, disposing of the previous one.
func (u *UI) show(v view) {
	if u.current != nil {
		u.current.dispose()
	}
	u.firstRun, u.unlock, u.shell = nil, nil, nil
	switch v := v.(type) {
	case *firstRunView:
		u.firstRun = v
	case *unlockView:
		u.unlock = v
	case *shell:
		u.shell = v
	}
	u.current = v
	content := newActivityArea(v.buildUI(), u.svc.Touch)
	u.w.SetContent(content)
	relayout(content)
}

// relayout lays obj and its descendants out again. Wrapping labels learn
// their width in the first layout and only then know their height.
func relayout(obj fyne.CanvasObject) {
	obj.Refresh()
}

func (u *UI) showFirstRun() { u.show(newFirstRunView(u)) }

// showUnlock shows the unlock screen; notice says why the vault was locked.
func (u *UI) showUnlock(notice string) {
	v := newUnlockView(u)
	u.show(v)
	v.setNotice(notice)
	u.w.Canvas().Focus(v.pass)
}

// showShell shows a new shell, built from scratch, with warnings in a
// banner.
func (u *UI) showShell(warnings []app.Warning) {
	s := newShell(u)
	u.show(s)
	s.showWarnings(warnings)
	u.w.Canvas().Focus(s.search.query)
}

// rebuild builds the current screen again, after a change of language.
func (u *UI) rebuild() {
	switch {
	case u.shell != nil:
		page := u.shell.page
		u.showShell(nil)
		if page == pageSettings {
			u.shell.openSettings()
		}
	case u.unlock != nil:
		u.showUnlock("")
	case u.firstRun != nil:
		u.showFirstRun()
	}
}

// unlocked runs on the UI goroutine after every unlock (or vault creation):
// a fresh shell replaces whatever was shown.
func (u *UI) unlocked(rep app.UnlockReport) {
	if u.ctx.Err() != nil {
		return // the window is gone
	}
	u.showShell(rep.Warnings)
	// Demo mode: offer the sign-in at once, with the sandbox PIN shown, so
	// that a newcomer reaches real-looking records without looking for it.
	if u.opt.Demo && u.canSignIn() && u.shell != nil {
		if _, ok := u.svc.Practitioner(); !ok {
			u.shell.signIn.open()
		}
	}
}

// locked runs on the UI goroutine after every lock: every view holding
// patient data is dropped and the unlock screen comes back.
func (u *UI) locked(r app.LockReason) {
	if u.ctx.Err() != nil {
		return // the window is gone
	}
	notice := ""
	switch r {
	case app.LockIdle:
		notice = tr("lock.reason.idle")
	case app.LockReauth:
		notice = tr("lock.reason.reauth")
	case app.LockSession:
		notice = tr("lock.reason.session")
	}
	if u.unlock != nil {
		u.unlock.setNotice(notice)
		return
	}
	u.showUnlock(notice)
}

// lockNow drops the shell at once, then locks the vault off the UI goroutine
// (the lock writes an audit event).
func (u *UI) lockNow() {
	if u.shell == nil {
		return
	}
	u.showUnlock("")
	u.background(func() { u.svc.Lock(app.LockByUser) })
}

// closed runs when the main window closes, and when ShowAndRun returns.
func (u *UI) closed() {
	if u.ctx.Err() != nil {
		return
	}
	u.cancel()
	u.copies.wipe()
	if u.current != nil {
		u.current.dispose()
	}
}

// setupShortcuts registers Ctrl+L (lock), Ctrl+F (search), Ctrl+R (sync
// now), Ctrl+, (settings), Ctrl+Shift+E (outbox), Ctrl+Shift+M (inbox) and
// Ctrl+1… (record tabs) on the window's canvas. Entries forward them too
// (see entry.TypedShortcut).
func (u *UI) setupShortcuts() {
	for _, sc := range append([]*desktop.CustomShortcut{shortcutLock, shortcutFind, shortcutSync, shortcutSettings, shortcutOutbox, shortcutInbox}, shortcutTabs...) {
		u.w.Canvas().AddShortcut(sc, func(s fyne.Shortcut) { u.shortcut(s) })
	}
}

// The keyboard shortcuts of the window.
var (
	shortcutLock     = &desktop.CustomShortcut{KeyName: fyne.KeyL, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutFind     = &desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutSettings = &desktop.CustomShortcut{KeyName: fyne.KeyComma, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutOutbox   = &desktop.CustomShortcut{KeyName: fyne.KeyE, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}
	shortcutInbox    = &desktop.CustomShortcut{KeyName: fyne.KeyM, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}
	shortcutSync     = &desktop.CustomShortcut{KeyName: fyne.KeyR, Modifier: fyne.KeyModifierShortcutDefault}
	// shortcutTabs select the record's tabs: Ctrl+1 Documents, Ctrl+2 …
	shortcutTabs = func() []*desktop.CustomShortcut {
		keys := []fyne.KeyName{fyne.Key1, fyne.Key2, fyne.Key3, fyne.Key4, fyne.Key5, fyne.Key6, fyne.Key7, fyne.Key8, fyne.Key9}
		out := make([]*desktop.CustomShortcut, len(keys))
		for i, k := range keys {
			out[i] = &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}
		}
		return out
	}()
)

// shortcut handles a window shortcut and reports whether it was one.
func (u *UI) shortcut(s fyne.Shortcut) bool {
	u.svc.Touch()
	switch s.ShortcutName() {
	case shortcutLock.ShortcutName():
		u.lockNow()
	case shortcutFind.ShortcutName():
		if u.shell != nil {
			u.shell.focusSearch()
		}
	case shortcutSettings.ShortcutName():
		if u.shell != nil {
			u.shell.openSettings()
		}
	case shortcutOutbox.ShortcutName():
		if u.shell != nil {
			u.shell.openOutboxPage()
		}
	case shortcutInbox.ShortcutName():
		if u.shell != nil {
			u.shell.openInboxPage()
		}
	case shortcutSync.ShortcutName():
		if u.shell != nil {
			u.shell.startSync()
		}
	default:
		for i, sc := range shortcutTabs {
			if s.ShortcutName() == sc.ShortcutName() {
				if u.shell != nil && u.shell.record != nil {
					u.shell.record.selectTab(i)
				}
				return true
			}
		}
		return false
	}
	return true
}

// back goes back from the page shown to the patient search, or closes the
// record's dialog (Esc). It reports whether Esc was used.
func (u *UI) back() bool {
	if u.shell == nil {
		return false
	}
	return u.shell.back()
}

// setupActivity reports key presses that reach the canvas (no widget
// focused) as activity, and handles Esc (back). Focused entries report their
// own keys and forward Esc (see entry), and the activity area reports the
// mouse.
func (u *UI) setupActivity() {
	c := u.w.Canvas()
	c.SetOnTypedRune(func(rune) { u.svc.Touch() })
	c.SetOnTypedKey(func(k *fyne.KeyEvent) {
		u.svc.Touch()
		if k.Name == fyne.KeyEscape {
			u.back()
		}
	})
	if dc, ok := c.(desktop.Canvas); ok {
		dc.SetOnKeyDown(func(*fyne.KeyEvent) { u.svc.Touch() })
	}
}
