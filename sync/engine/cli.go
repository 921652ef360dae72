package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// Exit statuses of RunCLI.
const (
	ExitOK         = 0 // everything was done
	ExitIncomplete = 1 // something could not be done (offline, refused, conflict…): see the summary
	ExitFailed     = 2 // the sync could not run (vault locked, failing or full)
)

// RunCLI is `carnet sync [--once | --watch DURATION]` without the flags:
// with watch ≤ 0 (or once) it runs one cycle, else a cycle every watch
// until ctx is done. Progress goes to stderr (at most one line a second,
// and one per phase), then a summary per cycle with the reason of every
// item or patient that could not be done. The exit status is ExitOK when
// the last cycle did everything, ExitIncomplete when something is left,
// ExitFailed when the sync could not run.
func RunCLI(ctx context.Context, eng *Engine, once bool, watch time.Duration, stderr io.Writer) int {
	pr := &printer{w: stderr}
	eng.OnProgress(pr.progress)
	for {
		sum, err := eng.Once(ctx)
		code := report(stderr, sum, err)
		if once || watch <= 0 || ctx.Err() != nil {
			if ctx.Err() != nil && code == ExitOK {
				return ExitIncomplete
			}
			return code
		}
		wait := watch
		if err != nil || !sum.Online {
			wait = min(wait, eng.jobBackoff())
		}
		fmt.Fprintf(stderr, "next sync in %s\n", wait.Round(time.Second))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return code
		case <-t.C:
		}
	}
}

// printer writes progress lines.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	phase app.SyncPhase
	last  time.Time
}

func (p *printer) progress(ev app.SyncProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if ev.Phase == p.phase && now.Sub(p.last) < time.Second {
		return
	}
	p.phase, p.last = ev.Phase, now
	line := fmt.Sprintf("sync: %-5s %5.1f%%", ev.Phase, ev.Percent)
	switch ev.Phase {
	case app.PhasePush:
		line += fmt.Sprintf("  items %d/%d", ev.Items, ev.ItemsN)
	case app.PhasePull:
		line += fmt.Sprintf("  patients %d/%d  resources %d  %s", ev.Patient, ev.PatientsN, ev.Resources, human(ev.Bytes))
	}
	if ev.ETA > 0 {
		line += "  eta " + ev.ETA.String()
	}
	if !ev.Online {
		line += "  (offline)"
	}
	fmt.Fprintln(p.w, line)
}

func human(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// report prints a cycle's summary and returns its exit status.
func report(w io.Writer, sum app.SyncSummary, err error) int {
	state := "online"
	if !sum.Online {
		state = "offline"
	}
	fmt.Fprintf(w, "sync %s: pushed %d, conflicts %d, rejected %d, retrying %d; patients %d/%d, documents %d new or changed, %d downloaded (%s), %d removed; purged %d, flagged %d, unreadable until re-validated %d\n",
		state, sum.Pushed, sum.Conflicts, sum.Rejected, sum.Retrying, sum.Patients, sum.Watched, sum.Documents, sum.Retrieved, human(sum.Bytes), sum.Removed, sum.Purged, sum.Flagged, sum.Unreadable)
	for _, f := range sum.Failures {
		who := ""
		if f.Item != "" {
			who = " item " + string(f.Item)
		} else if f.Patient != "" {
			who = " patient " + string(f.Patient)
		}
		fmt.Fprintf(w, "  not done:%s: %s\n", who, f.Reason)
	}
	for _, s := range sum.ToIdentify {
		fmt.Fprintf(w, "  to identify: operating list line %d (%s)\n", s.Line, s.Reason)
	}
	switch {
	case err != nil && !errors.Is(err, app.ErrOffline) && !errors.Is(err, context.Canceled):
		fmt.Fprintf(w, "sync failed: %v\n", err)
		return ExitFailed
	case err != nil:
		fmt.Fprintf(w, "sync incomplete: %v\n", err)
		return ExitIncomplete
	case !sum.OK():
		return ExitIncomplete
	}
	return ExitOK
}
