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

// The pages of the shell. Later issues add the patient record, the inbox…
const (
	pageSearch page = iota
	pageSettings
)

// shell is the main screen while the vault is unlocked: a top bar (name,
// patient search, settings, lock), warning banners, a content area whose
// page the shell swaps, and a status bar. A new shell is built after every
// unlock and dropped at every lock, with all the patient data it shows.
type shell struct {
	u *UI

	lock       *widget.Button
	openPrefs  *widget.Button
	root       *fyne.Container
	banners    *fyne.Container // dismissable warnings
	area       *fyne.Container // the current page
	status     *widget.Label
	search     *searchView
	signIn     *signInView
	settings   *settingsView // while the settings page is open
	page       page
	stopStatus chan struct{}
	disposed   bool
}

func newShell(u *UI) *shell {
	s := &shell{u: u}
	s.search = newSearchView(u)
	s.signIn = newSignInView(u)
	return s
}

// buildUI implements view.
func (s *shell) buildUI() fyne.CanvasObject {
	s.lock = widget.NewButtonWithIcon(tr("shell.lock"), theme.LogoutIcon(), s.u.lockNow)
	s.openPrefs = widget.NewButtonWithIcon(tr("shell.settings"), theme.SettingsIcon(), s.openSettings)
	name := widget.NewLabelWithStyle("Carnet", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.SizeName = theme.SizeNameSubHeadingText
	results := s.search.buildUI()
	s.search.query.OnChanged = func(q string) {
		if s.page != pageSearch {
			s.openSearch()
		}
		s.search.queryChanged(q)
	}
	top := container.NewBorder(nil, nil,
		container.NewHBox(widget.NewIcon(theme.DocumentIcon()), name),
		container.NewHBox(s.signIn.buildUI(), s.openPrefs, s.lock),
		s.search.query)

	s.banners = container.NewVBox()
	s.area = container.NewStack(results)
	s.status = widget.NewLabel("")
	version := widget.NewLabel(s.u.opt.Version)
	version.Importance = widget.LowImportance
	bottom := container.NewVBox(widget.NewSeparator(), container.NewBorder(nil, nil, nil, version, s.status))

	s.updateStatus()
	s.startStatus()
	s.root = container.NewBorder(container.NewVBox(top, widget.NewSeparator(), s.banners), bottom, nil, nil, s.area)
	return s.root
}

// dispose implements view: it stops the status bar and drops every view
// holding patient data.
func (s *shell) dispose() {
	s.disposed = true
	if s.stopStatus != nil {
		close(s.stopStatus)
		s.stopStatus = nil
	}
	if s.settings != nil {
		s.settings.dispose()
		s.settings = nil
	}
	s.search.dispose()
	s.area.RemoveAll()
}

// setPage shows obj in the content area.
func (s *shell) setPage(p page, obj fyne.CanvasObject) {
	s.page = p
	s.area.Objects = []fyne.CanvasObject{obj}
	s.area.Refresh()
}

// openSearch shows the search results page.
func (s *shell) openSearch() {
	if s.settings != nil {
		s.settings.dispose()
		s.settings = nil
	}
	s.setPage(pageSearch, s.search.content)
}

// openSettings shows the settings page.
func (s *shell) openSettings() {
	s.u.svc.Touch()
	if s.settings != nil {
		s.settings.dispose()
	}
	s.settings = newSettingsView(s.u, s.openSearch)
	s.setPage(pageSettings, s.settings.buildUI())
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
