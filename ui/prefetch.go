package ui

import (
	"context"

	"github.com/carnetdesk/carnet/app"
)

// prefetch retrieves, in the background, the record's documents that are not
// cached yet, so that the record and its medication list stay readable
// offline (the "open a patient" flow of the architecture). It shows its
// progress under the header and can be cancelled; when it ends the tabs
// read the record again (the medication list then includes what arrived).
func (r *recordView) prefetch() {
	if r.fetching.running() || r.disposed {
		return
	}
	svc, id, acc := r.u.svc, r.patient.ID, r.access()
	r.trackSteps(r.fetching, tr("record.prefetch.start"), nil, func(ctx context.Context, step func(func())) func() {
		res, err := svc.Prefetch(ctx, id, acc, 0, func(done, total int) {
			step(func() {
				r.fetching.label.SetText(tr("record.prefetch.progress", map[string]any{"Done": done, "Total": total}))
			})
		})
		return func() { r.prefetched(res, err) }
	})
}

// prefetched refreshes the tabs after a prefetch and says what could not be
// fetched.
func (r *recordView) prefetched(res app.PrefetchResult, err error) {
	if res.Fetched > 0 {
		for _, t := range r.tabList {
			t.recordChanged()
		}
	}
	switch {
	case err != nil && res.Err != nil:
		r.header.setMessage(tr("record.prefetch.stopped", map[string]any{"Reason": message(res.Err)}))
	case res.Err != nil:
		r.header.setMessage(tr("record.prefetch.partial", map[string]any{"Count": res.Skipped, "Reason": message(res.Err)}))
	}
	relayoutCanvasOf(r.root)
}
