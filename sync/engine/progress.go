package engine

import (
	"time"

	"github.com/carnetdesk/carnet/app"
)

// progress is the state behind progress events. Percent is weighted by
// phase (push 0–10 %, pull 10–95 %, purge 95–100 %), never decreases within
// a cycle and never exceeds 100; the ETA extrapolates the rate so far.
type progress struct {
	started   time.Time
	phase     app.SyncPhase
	items     int
	itemsN    int
	patients  int
	patientsN int
	resources int
	bytes     int64
	percent   float64
	last      app.SyncProgress
}

func (p *progress) event(online bool) app.SyncProgress {
	var pc float64
	switch p.phase {
	case app.PhasePush:
		if p.itemsN > 0 {
			pc = 10 * float64(min(p.items, p.itemsN)) / float64(p.itemsN)
		}
	case app.PhasePull:
		pc = 10
		if p.patientsN > 0 {
			pc += 85 * float64(min(p.patients, p.patientsN)) / float64(p.patientsN)
		}
	case app.PhasePurge:
		pc = 95
	case app.PhaseDone:
		pc = 100
	}
	p.percent = min(100, max(p.percent, pc))
	ev := app.SyncProgress{Phase: p.phase, Items: min(p.items, p.itemsN), ItemsN: p.itemsN,
		Patient: min(p.patients, p.patientsN), PatientsN: p.patientsN, Resources: p.resources, Bytes: p.bytes,
		Percent: p.percent, Online: online}
	if el := time.Since(p.started); p.percent > 0 && p.percent < 100 {
		ev.ETA = time.Duration(float64(el) * (100 - p.percent) / p.percent).Round(time.Second)
	}
	p.last = ev
	return ev
}

// progress changes the progress state and tells the listeners.
// Events are computed and delivered under one lock, so that listeners see
// them in order.
func (e *Engine) progress(f func(p *progress)) {
	e.beat()
	e.emitMu.Lock()
	defer e.emitMu.Unlock()
	e.mu.Lock()
	f(&e.prog)
	ev := e.prog.event(e.online)
	ls := append([]func(app.SyncProgress){}, e.listeners...)
	e.mu.Unlock()
	for _, l := range ls {
		l(ev)
	}
}

// emit starts a phase (PhaseDone ends the cycle at 100 %).
func (e *Engine) emit(ev app.SyncProgress) {
	e.progress(func(p *progress) {
		p.phase = ev.Phase
	})
}
