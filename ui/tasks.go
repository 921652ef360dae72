package ui

import (
	"context"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// How a screen runs background work: this file is the one frame for it.
//
//   - A view embeds a taskFrame (its UI and whether it was disposed of) and
//     calls run, or track for a task with a progress bar and a cancel
//     button (taskProgress). The work runs on its own goroutine with a
//     context; the function it returns runs on the UI goroutine (through
//     UI.do: fyne.Do, or the test's queue), unless the view was disposed of
//     meanwhile or, for track, the task was cancelled or replaced. So no
//     view writes its own "if disposed" guard.
//   - A form (a few entries and a button that sends them) uses form.send:
//     busy, task, then the message (the error translated, or the success).
//   - The pages that list items waiting for a decision (inbox, outbox) use
//     listPage (widgets.go), built on the same frame; a list that may be
//     empty shows why with emptyList.
//
// Nothing here blocks the UI goroutine: every I/O runs in work.

// tasks runs work off the UI goroutine and lets tests wait for it: every
// view's work gets its goroutine here (only the countdown tickers of the
// shell and the status bar run their own).
type tasks struct {
	wg sync.WaitGroup
	do func(func()) // runs a function on the UI goroutine
}

// run runs work on a new goroutine, then the function work returns (if not
// nil) on the UI goroutine to show the result.
func (t *tasks) run(work func() (show func())) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if show := work(); show != nil {
			t.do(show)
		}
	}()
}

// wait blocks until every task has returned.
func (t *tasks) wait() { t.wg.Wait() }

// background runs work off the UI goroutine, bound to no view (the lock
// that follows the lock shortcut).
func (u *UI) background(work func()) {
	u.tasks.run(func() func() {
		work()
		return nil
	})
}

// taskFrame binds a view's background work to the view's life. A view
// embeds it in place of its UI and its disposed flag; dispose calls end.
type taskFrame struct {
	u        *UI
	disposed bool // the view was disposed of: no task shows anything more
}

// frame returns the task frame of a view of u.
func frame(u *UI) taskFrame { return taskFrame{u: u} }

// end marks the view disposed of and reports whether it was still alive
// (dispose runs once: `if !v.end() { return }`).
func (f *taskFrame) end() bool {
	alive := !f.disposed
	f.disposed = true
	return alive
}

// gone reports whether the view was disposed of.
func (f *taskFrame) gone() bool { return f.disposed }

// run runs work off the UI goroutine with the window's context (cancelled
// when the window closes); the function work returns (if not nil) runs on
// the UI goroutine, unless the view was disposed of meanwhile.
func (f *taskFrame) run(work func(ctx context.Context) (show func())) {
	ctx := f.u.ctx
	f.u.tasks.run(func() func() {
		show := work(ctx)
		if show == nil {
			return nil
		}
		return func() {
			if f.disposed {
				return
			}
			show()
		}
	})
}

// track runs work off the UI goroutine with p's progress bar showing text
// and its cancel button; the function work returns runs on the UI
// goroutine, unless the task was cancelled (onCancel then ran at once),
// another task of p replaced it, or the view was disposed of.
func (f *taskFrame) track(p *taskProgress, text string, onCancel func(), work func(ctx context.Context) (show func())) {
	f.trackSteps(p, text, onCancel, func(ctx context.Context, _ func(func())) func() { return work(ctx) })
}

// trackSteps is track for a task that shows a first result before its
// last: work may call step(show) from its goroutine, and show then runs on
// the UI goroutine if the task is still the current one of p and the view
// alive, leaving the progress shown.
func (f *taskFrame) trackSteps(p *taskProgress, text string, onCancel func(), work func(ctx context.Context, step func(show func())) (show func())) {
	ctx, seq := p.start(f.u.ctx, text, onCancel)
	step := func(show func()) {
		f.u.do(func() {
			if f.disposed || p.seq != seq || p.stop == nil {
				return
			}
			show()
		})
	}
	f.u.tasks.run(func() func() {
		show := work(ctx, step)
		return func() {
			if f.disposed || !p.done(seq) {
				return
			}
			if show != nil {
				show()
			}
		}
	})
}

// form is the frame of a form that sends what was typed: while its task
// runs the form is busy (its inputs disabled, its progress bar shown),
// then its message says the outcome — the error translated, or the
// success.
type form struct {
	frame  *taskFrame
	msg    *widget.Label
	inputs []fyne.Disableable          // disabled while the task runs
	bar    *widget.ProgressBarInfinite // shown while the task runs; may be nil
	// busy, when set, runs after the inputs changed state: the form's own
	// busy state (a flag, a button enabled by validation).
	busy func(busy bool)
	// explain translates an error for msg; nil: message.
	explain func(error) string
}

// setBusy disables the inputs and shows the progress bar, or the reverse.
func (f form) setBusy(busy bool) {
	for _, in := range f.inputs {
		if busy {
			in.Disable()
		} else {
			in.Enable()
		}
	}
	if f.bar != nil {
		if busy {
			f.bar.Show()
		} else {
			f.bar.Hide()
		}
		relayoutCanvasOf(f.bar)
	}
	if f.busy != nil {
		f.busy(busy)
	}
}

// send makes the form busy and clears its message, then runs work off the
// UI goroutine. Unless the view was disposed of meanwhile, the form is no
// longer busy and its message shows work's error, translated, or the text
// done returns (done may be nil; an empty text hides the message).
func (f form) send(work func(ctx context.Context) error, done func() string) {
	f.setBusy(true)
	setMessage(f.msg, "")
	f.frame.run(func(ctx context.Context) func() {
		err := work(ctx)
		return func() {
			f.setBusy(false)
			if err != nil {
				f.fail(f.explainErr(err))
				return
			}
			text := ""
			if done != nil {
				text = done()
			}
			if text != "" {
				f.msg.Importance = widget.SuccessImportance
			}
			setMessage(f.msg, text)
		}
	})
}

// fail shows text as the form's error (empty: hides the message).
func (f form) fail(text string) {
	f.msg.Importance = widget.DangerImportance
	setMessage(f.msg, text)
}

func (f form) explainErr(err error) string {
	if f.explain != nil {
		return f.explain(err)
	}
	return message(err)
}

// emptyList is the empty state of a list: when the list has nothing to
// show, an italic, centred text says why in its place. The embedded label
// is that text.
type emptyList struct {
	*widget.Label
	list fyne.CanvasObject
}

// newEmptyList returns the empty state of list; put stack() where the list
// goes.
func newEmptyList(list fyne.CanvasObject) *emptyList {
	l := widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	l.Wrapping = fyne.TextWrapWord
	return &emptyList{Label: l, list: list}
}

// stack returns the list with the text over it.
func (e *emptyList) stack() *fyne.Container {
	return container.NewStack(e.list, container.NewVBox(e.Label))
}

// set shows text instead of the list (empty: the list).
func (e *emptyList) set(text string) {
	e.SetText(text)
	if text == "" {
		e.Hide()
		e.list.Show()
		return
	}
	e.list.Hide()
	e.Show()
}

// taskProgress shows that a task runs off the UI goroutine: a text, an
// infinite progress bar and a cancel button that cancels the task's
// context.
type taskProgress struct {
	label  *widget.Label
	bar    *widget.ProgressBarInfinite
	cancel *widget.Button
	box    *fyne.Container

	stop     context.CancelFunc
	onCancel func()
	seq      uint64 // number of the current task; answers of others are dropped
}

func newTaskProgress() *taskProgress {
	p := &taskProgress{label: widget.NewLabel(""), bar: widget.NewProgressBarInfinite()}
	p.cancel = widget.NewButtonWithIcon(tr("task.cancel"), theme.CancelIcon(), p.cancelled)
	p.box = container.NewBorder(nil, nil, p.label, p.cancel, p.bar)
	p.bar.Hide()
	p.box.Hide()
	return p
}

// start begins a task (cancelling the previous one) and returns its
// context and number.
func (p *taskProgress) start(parent context.Context, text string, onCancel func()) (context.Context, uint64) {
	if p.stop != nil {
		p.stop()
	}
	p.seq++
	ctx, stop := context.WithCancel(parent)
	p.stop, p.onCancel = stop, onCancel
	p.label.SetText(text)
	p.bar.Show()
	p.box.Show()
	relayoutCanvasOf(p.box)
	return ctx, p.seq
}

// running reports whether a task runs.
func (p *taskProgress) running() bool { return p.stop != nil }

// done ends task seq and reports whether it is still the current one.
func (p *taskProgress) done(seq uint64) bool {
	if seq != p.seq || p.stop == nil {
		return false
	}
	p.finish()
	return true
}

// cancelled cancels the current task (the cancel button).
func (p *taskProgress) cancelled() {
	if p.stop == nil {
		return
	}
	onCancel := p.onCancel
	p.seq++
	p.finish()
	if onCancel != nil {
		onCancel()
	}
}

func (p *taskProgress) finish() {
	p.stop()
	p.stop, p.onCancel = nil, nil
	p.bar.Hide()
	p.box.Hide()
	relayoutCanvasOf(p.box)
}

// dispose cancels the current task without calling its onCancel.
func (p *taskProgress) dispose() {
	if p.stop != nil {
		p.stop()
		p.stop, p.onCancel = nil, nil
	}
	p.seq++
}
