package ui

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// countsEvery is how many ticks pass between two readings of the outbox and
// inbox counts by the status bar; actions read them at once.
const countsEvery = 10

// statusBar is the sync part of the shell's status bar: online or offline,
// the last successful sync, the outbox items waiting (conflicts
// highlighted; a tap opens the outbox page), the reports waiting in the
// inbox (a tap opens the inbox page), and during a sync a progress bar with
// its phase, its count and a cancel button (only for a sync started here:
// the background engine's cycles are shown, not cancelled).
//
// The sync state is the engine's, read from memory at every tick; the
// counts are read from the vault off the UI goroutine every countsEvery
// ticks and after every action.
type statusBar struct {
	taskFrame // u, disposed, and the background work (tasks.go)
	// onOutbox and onInbox open the shell's pages; onSynced runs after a
	// sync started here, so that the pages showing the outbox reload.
	onOutbox, onInbox, onSynced func()

	online   *widget.Label
	onIcon   *widget.Icon
	lastSync *widget.Label
	pending  *widget.Button
	inbox    *widget.Button
	msg      *widget.Label
	phase    *widget.Label
	bar      *widget.ProgressBar
	cancel   *widget.Button
	progress *fyne.Container
	box      *fyne.Container

	counts   statusCounts
	notifier reportNotifier

	link     app.ConnState      // the connectivity state shown (one message per change)
	stopSync context.CancelFunc // cancels the sync started here; nil when none
	loading  bool               // the counts are being read
	ticks    int
}

// statusCounts are the counts the status bar reads from the vault.
type statusCounts struct {
	pending, conflicts, rejected int // outbox items not acknowledged; of which in conflict, refused
	inbox                        int // inbox items waiting for a person (the manual queue only)
	inboxKnown                   bool
}

func newStatusBar(u *UI) *statusBar {
	return &statusBar{taskFrame: frame(u), notifier: reportNotifier{a: u.a}}
}

// buildUI returns the state row of the status bar; the shell places the
// progress row (b.progress, shown during a sync) above it and the message
// of the last action (b.msg) below.
func (b *statusBar) buildUI() fyne.CanvasObject {
	b.onIcon = widget.NewIcon(theme.MediaRecordIcon())
	b.online = widget.NewLabel("")
	b.lastSync = widget.NewLabel("")
	b.lastSync.Importance = widget.LowImportance
	b.pending = widget.NewButtonWithIcon(tr("shell.outbox"), theme.MailSendIcon(), func() { b.open(b.onOutbox) })
	b.pending.Importance = widget.LowImportance
	b.inbox = widget.NewButtonWithIcon(tr("shell.inbox"), theme.MailComposeIcon(), func() { b.open(b.onInbox) })
	b.inbox.Importance = widget.LowImportance
	b.inbox.Hide()
	b.msg = widget.NewLabel("")
	b.msg.Truncation = fyne.TextTruncateEllipsis
	b.msg.Hide()
	b.phase = widget.NewLabel("")
	b.bar = widget.NewProgressBar()
	b.cancel = widget.NewButtonWithIcon(tr("task.cancel"), theme.CancelIcon(), b.cancelSync)
	b.progress = container.NewBorder(nil, nil, b.phase, b.cancel, b.bar)
	b.progress.Hide()
	b.box = container.NewHBox(b.onIcon, b.online, b.lastSync, b.pending, b.inbox)
	b.showSync(b.u.svc.SyncStatus())
	b.refreshCounts()
	return b.box
}

// open runs a page opener, when there is one.
func (b *statusBar) open(f func()) {
	if f != nil {
		f()
	}
}

// dispose cancels the sync started here and stops the updates.
func (b *statusBar) dispose() {
	b.end()
	if b.stopSync != nil {
		b.stopSync()
		b.stopSync = nil
	}
}

// tick runs at every tick of the shell: the sync state is shown again, the
// counts read again from time to time.
func (b *statusBar) tick() {
	if b.disposed {
		return
	}
	b.showSync(b.u.svc.SyncStatus())
	b.ticks++
	if b.ticks%countsEvery == 0 {
		b.refreshCounts()
	}
}

// refresh shows the sync state and reads the counts again.
func (b *statusBar) refresh() {
	if b.disposed {
		return
	}
	b.showSync(b.u.svc.SyncStatus())
	b.refreshCounts()
}

// refreshCounts reads the outbox and inbox counts off the UI goroutine.
func (b *statusBar) refreshCounts() {
	if b.loading || b.u.svc.Locked() {
		return
	}
	b.loading = true
	svc := b.u.svc
	b.run(func(ctx context.Context) func() {
		c := readCounts(ctx, svc)
		return func() {
			b.loading = false
			b.showCounts(c)
		}
	})
}

// readCounts counts the outbox items not acknowledged and the inbox items
// waiting for a person. An inbox that cannot be read is left out.
func readCounts(ctx context.Context, svc *app.Service) statusCounts {
	var c statusCounts
	if items, err := svc.Outbox(ctx); err == nil {
		for _, it := range items {
			switch it.State {
			case app.OutboxAcked:
				continue
			case app.OutboxConflict:
				c.conflicts++
			case app.OutboxRejected:
				c.rejected++
			}
			c.pending++
		}
	}
	if items, err := svc.Inbox(ctx); err == nil {
		c.inboxKnown = true
		for _, it := range items {
			if it.State == app.InboxPending { // the manual queue; quarantined items wait for nobody
				c.inbox++
			}
		}
	}
	return c
}

// showCounts shows the outbox and inbox counts, and notifies new reports.
func (b *statusBar) showCounts(c statusCounts) {
	b.counts = c
	switch {
	case c.pending == 0:
		b.pending.SetText(tr("status.pending.none"))
		b.pending.Importance = widget.LowImportance
		b.pending.SetIcon(theme.MailSendIcon())
	case c.conflicts > 0:
		b.pending.SetText(trN("status.pending.conflicts", c.pending, map[string]any{"N": c.pending, "Conflicts": c.conflicts}))
		b.pending.Importance = widget.DangerImportance
		b.pending.SetIcon(theme.WarningIcon())
	default:
		b.pending.SetText(trN("status.pending", c.pending, map[string]any{"N": c.pending}))
		b.pending.Importance = widget.LowImportance
		if c.rejected > 0 {
			b.pending.Importance = widget.WarningImportance
		}
		b.pending.SetIcon(theme.MailSendIcon())
	}
	b.pending.Refresh()
	switch {
	case !c.inboxKnown:
		b.inbox.Hide()
	case c.inbox > 0:
		b.inbox.SetText(trN("status.inbox", c.inbox, map[string]any{"N": c.inbox}))
		b.inbox.Importance = widget.WarningImportance
		b.inbox.Show()
	default:
		b.inbox.SetText(tr("status.inbox.none"))
		b.inbox.Importance = widget.LowImportance
		b.inbox.Show()
	}
	b.inbox.Refresh()
	if c.inboxKnown {
		b.notifier.observe(c.inbox)
	}
	relayoutCanvasOf(b.box)
}

// showSync shows the online state, the last sync and the progress of a
// running sync.
func (b *statusBar) showSync(st app.SyncStatus) {
	if c := b.u.svc.Connectivity(); c.State != app.ConnUnknown {
		b.showLink(c)
	} else if st.Online {
		b.online.SetText(tr("status.online"))
		b.online.Importance = widget.SuccessImportance
		b.onIcon.SetResource(theme.NewSuccessThemedResource(theme.MediaRecordIcon()))
	} else {
		b.online.SetText(tr("status.offline"))
		b.online.Importance = widget.WarningImportance
		b.onIcon.SetResource(theme.NewWarningThemedResource(theme.MediaRecordIcon()))
	}
	b.online.Refresh()
	if st.LastSync.IsZero() {
		b.lastSync.SetText(tr("status.lastsync.never"))
	} else {
		b.lastSync.SetText(tr("status.lastsync", map[string]any{"When": sinceText(st.LastSync, timeNow())}))
	}
	running := b.stopSync != nil
	if !running && !st.Syncing {
		if b.progress.Visible() {
			b.progress.Hide()
			relayoutCanvasOf(b.progress)
		}
		return
	}
	b.showProgress(st.Progress)
	if running {
		b.cancel.Enable()
	} else {
		b.cancel.Disable() // the background engine's cycle: shown, not ours to cancel
	}
	if !b.progress.Visible() {
		b.progress.Show()
		relayoutCanvasOf(b.progress)
	}
}

// showProgress shows a progress event: the phase, the count of the phase
// and the percentage (with the time left when known).
func (b *statusBar) showProgress(p app.SyncProgress) {
	text := phaseLabel(p.Phase)
	switch {
	case p.Phase == app.PhasePush && p.ItemsN > 0:
		text += fmt.Sprintf(" (%d/%d)", p.Items, p.ItemsN)
	case p.Phase == app.PhasePull && p.PatientsN > 0:
		text += fmt.Sprintf(" (%d/%d)", p.Patient, p.PatientsN)
	case p.Phase == app.PhaseMail && p.Resources > 0:
		text += " — " + trN("status.sync.mail.messages", p.Resources, map[string]any{"N": p.Resources})
	}
	if p.ETA > 0 {
		text += " — " + tr("status.sync.eta", map[string]any{"Seconds": seconds(p.ETA)})
	}
	b.phase.SetText(text)
	b.bar.SetValue(min(max(p.Percent, 0), 100) / 100)
}

// phaseLabel names a sync phase.
func phaseLabel(p app.SyncPhase) string {
	switch p {
	case app.PhasePush:
		return tr("status.sync.push")
	case app.PhasePull:
		return tr("status.sync.pull")
	case app.PhasePurge:
		return tr("status.sync.purge")
	case app.PhaseMail:
		return tr("status.sync.mail")
	case app.PhaseDone:
		return tr("status.sync.done")
	}
	return tr("status.sync.start")
}

// startSync starts a sync now (Ctrl+R) off the UI goroutine, with the
// progress bar and its cancel button; a sync already started here is left
// to finish. Nobody signed in: the secure mailboxes alone are imported
// (they need no card), or the sign-in is asked for.
func (b *statusBar) startSync() {
	b.u.svc.Touch()
	if b.disposed || b.stopSync != nil {
		return
	}
	svc := b.u.svc
	if _, ok := svc.Practitioner(); !ok {
		if len(svc.Connection().Mailboxes) == 0 {
			b.setMessage(tr("status.sync.signin"), widget.WarningImportance)
			return
		}
		b.runSync(func(ctx context.Context) func() {
			sum, err := svc.ImportMailboxes(ctx)
			return func() { b.mailSynced(ctx, sum, err) }
		})
		return
	}
	b.runSync(func(ctx context.Context) func() {
		sum, err := svc.Sync(ctx)
		return func() { b.synced(ctx, sum, err) }
	})
}

// runSync runs work off the UI goroutine with the progress bar, its
// cancel button and the progress shown more often than the shell's tick;
// work returns what to show when it ends.
func (b *statusBar) runSync(work func(ctx context.Context) func()) {
	ctx, stop := context.WithCancel(b.u.ctx)
	b.stopSync = stop
	b.setMessage("", widget.MediumImportance)
	b.phase.SetText(tr("status.sync.start"))
	b.bar.SetValue(0)
	b.showSync(b.u.svc.SyncStatus())

	done := make(chan struct{})
	if every := b.u.tick / 4; every > 0 {
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					b.u.do(func() {
						if b.stopSync != nil && !b.disposed {
							b.showSync(b.u.svc.SyncStatus())
						}
					})
				}
			}
		}()
	}
	b.run(func(context.Context) func() {
		show := work(ctx)
		close(done)
		return show
	})
}

// mailSynced shows the outcome of a mail import started here while nobody
// is signed in.
func (b *statusBar) mailSynced(ctx context.Context, sum app.ImportSummary, err error) {
	b.stopSync = nil
	toFile := sum.Manual + sum.Quarantined
	switch {
	case ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)):
		b.setMessage(tr("status.sync.cancelled"), widget.WarningImportance)
	case err != nil:
		b.setMessage(message(err), widget.DangerImportance)
	default:
		imp := widget.SuccessImportance
		if toFile > 0 {
			imp = widget.WarningImportance
		}
		b.setMessage(tr("status.sync.mail.done", map[string]any{"Filed": sum.Filed, "Manual": toFile}), imp)
	}
	b.refresh()
	if b.onSynced != nil {
		b.onSynced()
	}
}

// cancelSync cancels the sync started here (the cancel button).
func (b *statusBar) cancelSync() {
	if b.stopSync != nil {
		b.stopSync()
	}
}

// synced shows the outcome of a sync started here.
func (b *statusBar) synced(ctx context.Context, sum app.SyncSummary, err error) {
	b.stopSync = nil
	switch {
	case ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)):
		b.setMessage(tr("status.sync.cancelled"), widget.WarningImportance)
	case err != nil:
		b.setMessage(message(err), widget.DangerImportance)
	case sum.Conflicts > 0:
		b.setMessage(trN("status.sync.conflicts", sum.Conflicts, map[string]any{"N": sum.Conflicts}), widget.DangerImportance)
	case !sum.OK():
		b.setMessage(tr("status.sync.partial", map[string]any{"Pushed": sum.Pushed, "Patients": sum.Patients}), widget.WarningImportance)
	default:
		b.setMessage(tr("status.sync.ok", map[string]any{"Pushed": sum.Pushed, "Patients": sum.Patients}), widget.SuccessImportance)
	}
	b.refresh()
	if b.onSynced != nil {
		b.onSynced()
	}
}

// showLink shows the connectivity state derived from the requests and the
// probe (app.Connectivity), and says once, in plain words, when it changes.
func (b *statusBar) showLink(c app.Connectivity) {
	switch c.State {
	case app.ConnOnline:
		b.online.SetText(tr("status.online"))
		b.online.Importance = widget.SuccessImportance
		b.onIcon.SetResource(theme.NewSuccessThemedResource(theme.MediaRecordIcon()))
	case app.ConnDegraded:
		b.online.SetText(tr("status.link.degraded"))
		b.online.Importance = widget.WarningImportance
		b.onIcon.SetResource(theme.NewWarningThemedResource(theme.MediaRecordIcon()))
	default:
		text := tr("status.link.offline", map[string]any{"Time": c.Since.In(displayZone).Format("15:04")})
		b.online.SetText(text)
		b.online.Importance = widget.WarningImportance
		b.onIcon.SetResource(theme.NewWarningThemedResource(theme.MediaRecordIcon()))
	}
	if prev := b.link; prev != c.State {
		b.link = c.State
		switch {
		case c.State == app.ConnOffline:
			b.setMessage(tr("status.link.lost"), widget.WarningImportance)
		case c.State == app.ConnOnline && (prev == app.ConnOffline || prev == app.ConnDegraded):
			b.setMessage(tr("status.link.back"), widget.SuccessImportance)
		}
	}
}

// setMessage shows the outcome of the last action in the status bar.
func (b *statusBar) setMessage(text string, imp widget.Importance) {
	b.msg.Importance = imp
	b.msg.SetText(text)
	if text == "" {
		b.msg.Hide()
	} else {
		b.msg.Show()
	}
	relayoutCanvasOf(b.msg)
}

// sinceText says how long ago t was, from now: "à l'instant", "il y a
// 3 min", "il y a 2 h", or the date and time past a day.
func sinceText(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return tr("status.ago.now")
	case d < time.Hour:
		n := int(d / time.Minute)
		return trN("status.ago.minutes", n, map[string]any{"N": n})
	case d < 24*time.Hour:
		n := int(d / time.Hour)
		return trN("status.ago.hours", n, map[string]any{"N": n})
	}
	return tr("status.ago.date", map[string]any{"Date": formatDate(t), "Time": t.In(displayZone).Format("15:04")})
}
