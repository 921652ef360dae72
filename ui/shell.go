package ui

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// page is a screen of the shell's content area.
type page int

// The pages of the shell.
const (
	pageSearch page = iota
	pageSettings
	pageRecord // a patient's record (record.go)
	pageAudit  // the local audit log (audit.go)
	pageOutbox // the outbox and its conflicts (outbox.go)
	pageInbox  // the secure-messaging inbox (inbox.go)
)

// shell is the main screen while the vault is unlocked: a top bar (name,
// patient search, journal, settings, lock), warning banners, a content area
// whose page the shell swaps, and a status bar (status.go: the sync state,
// with the ways to the outbox and inbox pages; the idle lock countdown). A new shell is built after every
// unlock and dropped at every lock, with all the patient data it shows.
type shell struct {
	u *UI

	lock      *widget.Button
	openPrefs *widget.Button
	openAudit *widget.Button
	outage    *widget.Check // demo mode: simulate an outage of the central service
	root      *fyne.Container
	banners   *fyne.Container // dismissable warnings
	area      *fyne.Container // the current page
	status    *widget.Label   // the idle lock countdown
	bar       *statusBar      // the sync state (status.go)
	search    *searchView
	signIn    *signInView
	settings  *settingsView // while the settings page is open
	record    *recordView   // while a patient's record is open
	journal   *auditView    // while the journal page is open
	outbox    *outboxView   // while the outbox page is open
	inbox     *inboxView    // while the inbox page is open
	page      page
	// written are the notes written in this shell, per patient: the
	// write tab lists them as sent once they left the outbox, whatever
	// source the acknowledged manifest gives them.
	written    map[app.PatientID][]app.DocumentID
	stopStatus chan struct{}
	disposed   bool
}

func newShell(u *UI) *shell {
	s := &shell{u: u, written: map[app.PatientID][]app.DocumentID{}}
	s.search = newSearchView(u)
	s.bar = newStatusBar(u)
	s.bar.onOutbox, s.bar.onInbox, s.bar.onSynced = s.openOutboxPage, s.openInboxPage, s.synced
	s.signIn = newSignInView(u)
	return s
}

// buildUI implements view.
func (s *shell) buildUI() fyne.CanvasObject {
	s.lock = widget.NewButtonWithIcon(tr("shell.lock"), theme.LogoutIcon(), s.u.lockNow)
	s.openPrefs = widget.NewButtonWithIcon(tr("shell.settings"), theme.SettingsIcon(), s.openSettings)
	s.openAudit = widget.NewButtonWithIcon(tr("shell.audit"), theme.ListIcon(), s.openJournal)
	s.search.onOpen = s.openRecord
	name := widget.NewLabelWithStyle("Carnet", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.SizeName = theme.SizeNameSubHeadingText
	results := s.search.buildUI()
	s.search.query.OnChanged = func(q string) {
		if s.page != pageSearch {
			s.openSearch()
		}
		s.search.queryChanged(q)
	}
	s.status = widget.NewLabel("")
	version := widget.NewLabel(s.u.opt.Version)
	version.Importance = widget.LowImportance
	tools := container.NewHBox(s.signIn.buildUI(), s.openAudit, s.openPrefs, s.lock)
	// The demo's outage switch sits in the status line, beside what it
	// changes: in the toolbar it squeezed the search entry.
	right := container.NewHBox(s.status, version)
	if outage := s.u.opt.DemoOutage; outage != nil {
		s.outage = widget.NewCheck(tr("demo.outage"), outage)
		right.Objects = append([]fyne.CanvasObject{s.outage}, right.Objects...)
	}
	top := container.NewBorder(nil, nil,
		container.NewHBox(widget.NewIcon(theme.DocumentIcon()), name),
		tools,
		s.search.query)

	s.banners = container.NewVBox()
	s.area = container.NewStack(results)
	sync := s.bar.buildUI()
	bottom := container.NewVBox(widget.NewSeparator(), s.bar.progress, sync,
		container.NewBorder(nil, nil, nil, right, s.bar.msg))

	s.updateStatus()
	s.startStatus()
	// The warnings come and go (dismissed, or added after the unlock): at
	// the bottom, so that nothing above the lists moves.
	s.root = container.NewBorder(container.NewVBox(top, widget.NewSeparator()), container.NewVBox(s.banners, bottom), nil, nil, s.area)
	return s.root
}

// dispose implements view: it stops the status bar and drops every view
// holding patient data.
func (s *shell) dispose() {
	s.disposed = true
	s.bar.dispose()
	s.written = nil
	if s.stopStatus != nil {
		close(s.stopStatus)
		s.stopStatus = nil
	}
	s.closePage()
	s.search.dispose()
	s.area.RemoveAll()
}

// closePage disposes of the page shown other than the search (the search
// keeps its results).
func (s *shell) closePage() {
	if s.settings != nil {
		s.settings.dispose()
		s.settings = nil
	}
	if s.record != nil {
		s.record.dispose()
		s.record = nil
	}
	if s.journal != nil {
		s.journal.dispose()
		s.journal = nil
	}
	if s.outbox != nil {
		s.outbox.dispose()
		s.outbox = nil
	}
	if s.inbox != nil {
		s.inbox.dispose()
		s.inbox = nil
	}
}

// setPage shows obj in the content area.
func (s *shell) setPage(p page, obj fyne.CanvasObject) {
	s.page = p
	s.area.Objects = []fyne.CanvasObject{obj}
	s.area.Refresh()
}

// openSearch shows the search results page.
func (s *shell) openSearch() {
	s.closePage()
	s.setPage(pageSearch, s.search.content)
}

// openSettings shows the settings page.
func (s *shell) openSettings() {
	s.u.svc.Touch()
	s.closePage()
	s.settings = newSettingsView(s.u, s.openSearch)
	s.setPage(pageSettings, s.settings.buildUI())
}

// openRecord shows the record of patient p and opens it in the normal
// access mode; going back to the search drops it.
func (s *shell) openRecord(p app.Patient) {
	s.u.svc.Touch()
	s.closePage()
	s.record = newRecordView(s.u, p, s.backToSearch)
	s.setPage(pageRecord, s.record.buildUI())
	s.u.w.Canvas().Unfocus() // Esc reaches the window
	s.record.open(app.AccessNormal, "")
}

// openJournal shows the local audit log.
func (s *shell) openJournal() {
	s.u.svc.Touch()
	s.closePage()
	s.journal = newAuditView(s.u, "", s.backToSearch)
	s.setPage(pageAudit, s.journal.buildUI())
	s.journal.load()
}

// openOutboxPage shows the outbox and its conflicts.
func (s *shell) openOutboxPage() {
	s.u.svc.Touch()
	s.closePage()
	s.outbox = newOutboxView(s.u, s.backToSearch)
	s.setPage(pageOutbox, s.outbox.buildUI())
	s.outbox.load()
}

// openInboxPage shows the secure-messaging inbox.
func (s *shell) openInboxPage() {
	s.u.svc.Touch()
	s.closePage()
	s.inbox = newInboxView(s.u, s.backToSearch)
	s.setPage(pageInbox, s.inbox.buildUI())
	s.inbox.load()
}

// startSync starts a sync now (Ctrl+R).
func (s *shell) startSync() { s.bar.startSync() }

// synced runs after a sync started here, and after the outbox changed: the
// pages showing outbox items read them again.
func (s *shell) synced() {
	if s.disposed {
		return
	}
	if s.outbox != nil {
		s.outbox.load()
	}
	if s.record == nil && s.search != nil && s.search.query.Text == "" {
		// The watch list's readiness is read from the vault again: a
		// prefetch just changed it.
		s.search.loadWatchList()
	}
	if s.record != nil {
		for _, t := range s.record.tabList {
			if w, ok := t.(*writeTab); ok {
				w.loadNotes()
			}
		}
	}
}

// tickWriteTabs lets the record's write tab notice a sign-in or a
// sign-out.
func (s *shell) tickWriteTabs() {
	if s.record == nil {
		return
	}
	for _, t := range s.record.tabList {
		if w, ok := t.(*writeTab); ok {
			w.checkSignIn()
		}
	}
}

// outboxChanged runs after an action changed the outbox (a note written,
// a conflict resolved): the status bar counts again.
func (s *shell) outboxChanged() {
	if !s.disposed {
		s.bar.refresh()
	}
}

// noteWritten remembers a note written in this shell (see shell.written).
func (s *shell) noteWritten(p app.PatientID, id app.DocumentID) {
	if s.written != nil {
		s.written[p] = append(s.written[p], id)
	}
	s.outboxChanged()
}

// backToSearch shows the search page with its results and focuses the
// query.
func (s *shell) backToSearch() {
	s.openSearch()
	s.u.w.Canvas().Focus(s.search.query)
}

// back handles Esc: a dialog of the record closes, then the document
// viewer; another page goes back to the search. It reports whether Esc was
// used.
func (s *shell) back() bool {
	if s.record != nil && (s.record.closeDialogs() || s.record.closeViewer()) {
		return true
	}
	if s.u.w.Canvas().Overlays().Top() != nil || s.page == pageSearch {
		return false
	}
	s.backToSearch()
	return true
}

// focusSearch shows the search page and focuses its entry.
func (s *shell) focusSearch() {
	if s.page != pageSearch {
		s.openSearch()
	}
	s.u.w.Canvas().Focus(s.search.query)
}

// showWarnings adds a dismissable banner for each warning.
func (s *shell) showWarnings(ws []app.Warning) {
	for _, w := range ws {
		var key string
		switch w {
		case app.WarnNoKeyring:
			key = "warning.no-keyring"
		case app.WarnNoRecovery:
			key = "warning.no-recovery"
		case app.WarnDamagedRecords:
			key = "warning.damaged-records"
		case app.WarnAuditGap:
			key = "warning.audit-gap"
		case app.WarnOlderVault:
			key = "warning.older-vault"
		case app.WarnLeftovers:
			key = "warning.leftovers"
		default:
			s.u.log.Warn("unknown unlock warning", "warning", string(w))
			continue
		}
		var b fyne.CanvasObject
		b = newBanner(tr(key), func() {
			s.banners.Remove(b)
			relayout(s.root)
		})
		s.banners.Add(b)
	}
	relayout(s.root)
}

// startStatus refreshes the status bar every tick until the shell goes.
func (s *shell) startStatus() {
	stop := make(chan struct{})
	s.stopStatus = stop
	tick, do := s.u.tick, s.u.do
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				do(func() {
					if !s.disposed {
						s.updateStatus()
						s.bar.tick()
						s.tickWriteTabs()
					}
				})
			}
		}
	}()
}

// updateStatus shows the time left before the idle lock.
func (s *shell) updateStatus() {
	left := s.u.svc.IdleRemaining()
	if left >= time.Minute {
		n := int((left + time.Minute - 1) / time.Minute)
		s.status.SetText(trN("status.unlocked.minutes", n, map[string]any{"N": n}))
		return
	}
	n := seconds(max(left, 0))
	s.status.SetText(trN("status.unlocked.seconds", n, map[string]any{"N": n}))
}
