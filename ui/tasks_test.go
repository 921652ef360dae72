package ui

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// The task frame (tasks.go) on its own: a UI over the test driver, whose
// background work hands its results to the test goroutine (fixture.wait).

// blocked is work that waits, off the UI goroutine, until the test
// releases it or the task's context ends; started is closed when it runs.
type blocked struct {
	started, release chan struct{}
	ctxErr           chan error // the task's context error when it returned
}

func newBlocked() *blocked {
	return &blocked{started: make(chan struct{}), release: make(chan struct{}), ctxErr: make(chan error, 1)}
}

// wait is the work's body: it returns when released or cancelled.
func (b *blocked) wait(ctx context.Context) {
	close(b.started)
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	b.ctxErr <- ctx.Err()
}

// running waits until the work runs (a real hang only trips the guard).
func (b *blocked) running(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	select {
	case <-b.started:
	case <-ctx.Done():
		t.Fatal("the task never started")
	}
}

// newFrameFixture returns a fixture, the task frame of a view and a
// progress shown in a window (so that its box lays out).
func newFrameFixture(t *testing.T) (*fixture, *taskFrame, *taskProgress) {
	t.Helper()
	f := newLockedFixture(t, Options{})
	fr, p := frame(f.u), newTaskProgress()
	test.NewTempWindow(t, container.NewVBox(p.box)) // closed at the test's end
	return f, &fr, p
}

func TestTaskFrameTrackShowsProgressThenResult(t *testing.T) {
	f, fr, p := newFrameFixture(t)
	if p.box.Visible() || p.running() {
		t.Fatal("progress shown before any task")
	}
	work, shown := newBlocked(), 0
	fr.track(p, "Lecture du dossier…", nil, func(ctx context.Context) func() {
		work.wait(ctx)
		return func() { shown++ }
	})
	// While the work runs: the text, the bar and the cancel button.
	work.running(t)
	if !p.box.Visible() || !p.bar.Visible() || !p.running() {
		t.Error("progress hidden while the task runs")
	}
	assertText(t, "progress text", p.label.Text, "Lecture du dossier…")
	assertText(t, "cancel button", p.cancel.Text, "Annuler")
	if shown != 0 {
		t.Error("result shown before the work ended")
	}
	close(work.release)
	f.wait()
	if shown != 1 {
		t.Errorf("result shown %d times, want 1", shown)
	}
	if err := <-work.ctxErr; err != nil {
		t.Errorf("context of a finished task: %v, want alive until the end", err)
	}
	if p.box.Visible() || p.running() {
		t.Error("progress still shown after the task")
	}
}

func TestTaskFrameCancel(t *testing.T) {
	f, fr, p := newFrameFixture(t)
	work, shown, cancelled := newBlocked(), 0, 0
	fr.track(p, "Envoi…", func() { cancelled++ }, func(ctx context.Context) func() {
		work.wait(ctx)
		return func() { shown++ }
	})
	work.running(t)
	test.Tap(p.cancel) // the person cancels: the work's context ends
	if cancelled != 1 {
		t.Errorf("onCancel ran %d times, want once, at once", cancelled)
	}
	if p.box.Visible() || p.running() {
		t.Error("progress still shown after cancel")
	}
	f.wait()
	if err := <-work.ctxErr; !errors.Is(err, context.Canceled) {
		t.Errorf("context of the cancelled task: %v, want context.Canceled", err)
	}
	if shown != 0 {
		t.Error("a cancelled task showed its result")
	}
	test.Tap(p.cancel) // nothing runs: a second cancel does nothing
	if cancelled != 1 {
		t.Errorf("onCancel ran %d times after a second tap, want 1", cancelled)
	}
}

func TestTaskFrameNewTaskReplacesOld(t *testing.T) {
	f, fr, p := newFrameFixture(t)
	first, second := newBlocked(), newBlocked()
	var shown []string
	fr.track(p, "1", nil, func(ctx context.Context) func() {
		first.wait(ctx)
		return func() { shown = append(shown, "first") }
	})
	first.running(t)
	fr.track(p, "2", nil, func(ctx context.Context) func() {
		second.wait(ctx)
		return func() { shown = append(shown, "second") }
	})
	if err := <-first.ctxErr; !errors.Is(err, context.Canceled) {
		t.Errorf("replaced task's context: %v, want context.Canceled", err)
	}
	close(second.release)
	f.wait()
	if len(shown) != 1 || shown[0] != "second" {
		t.Errorf("shown %q, want only the second task's result", shown)
	}
}

func TestTaskFrameDisposeDuringTask(t *testing.T) {
	f, fr, p := newFrameFixture(t)
	plain, tracked := newBlocked(), newBlocked()
	shown, cancelled := 0, 0
	fr.run(func(ctx context.Context) func() {
		plain.wait(ctx)
		return func() { shown++ }
	})
	fr.track(p, "Lecture…", func() { cancelled++ }, func(ctx context.Context) func() {
		tracked.wait(ctx)
		return func() { shown++ }
	})
	plain.running(t)
	tracked.running(t)
	// The view goes (dispose): the frame ends, the progress is disposed of.
	if !fr.end() {
		t.Fatal("end of a live frame reported it gone already")
	}
	p.dispose()
	if fr.end() {
		t.Error("a second end reported the frame alive: dispose would run twice")
	}
	if !fr.gone() {
		t.Error("gone() false after end")
	}
	close(plain.release) // the plain task finishes after the view went
	f.wait()
	if err := <-tracked.ctxErr; !errors.Is(err, context.Canceled) {
		t.Errorf("tracked task's context after dispose: %v, want context.Canceled", err)
	}
	if shown != 0 {
		t.Errorf("%d results shown on a disposed view, want none", shown)
	}
	if cancelled != 0 {
		t.Error("dispose ran onCancel: it is for the person's cancel only")
	}
	// A task started after the end shows nothing either.
	fr.run(func(context.Context) func() { return func() { shown++ } })
	f.wait()
	if shown != 0 {
		t.Error("a task started after dispose showed its result")
	}
}

func TestTaskFrameSteps(t *testing.T) {
	f, fr, p := newFrameFixture(t)
	var steps []string
	fr.trackSteps(p, "Téléchargement…", nil, func(ctx context.Context, step func(func())) func() {
		for _, s := range []string{"1/2", "2/2"} {
			step(func() {
				steps = append(steps, s)
				// A step leaves the progress shown: the task goes on.
				if !p.running() {
					t.Error("progress ended by a step")
				}
				p.label.SetText(s)
			})
		}
		return func() { steps = append(steps, "done") }
	})
	f.wait()
	if fmt.Sprint(steps) != "[1/2 2/2 done]" {
		t.Errorf("steps %q, want [1/2 2/2 done]", steps)
	}
	if p.running() {
		t.Error("progress shown after the last result")
	}

	// A step that arrives after the person cancelled is dropped.
	steps = nil
	work := newBlocked()
	fr.trackSteps(p, "Téléchargement…", nil, func(ctx context.Context, step func(func())) func() {
		work.wait(ctx)
		step(func() { steps = append(steps, "late") })
		return func() { steps = append(steps, "done") }
	})
	work.running(t)
	test.Tap(p.cancel)
	f.wait()
	if len(steps) != 0 {
		t.Errorf("a cancelled task showed %q", steps)
	}
}

// formFixture is a form over a message label, recording its busy states.
type formFixture struct {
	fr     taskFrame
	msg    *widget.Label
	button *widget.Button
	bar    *widget.ProgressBarInfinite
	busy   []bool
}

func newFormFixture(u *UI) *formFixture {
	x := &formFixture{fr: frame(u), msg: newMessage(widget.DangerImportance),
		button: widget.NewButton("Enregistrer", nil), bar: widget.NewProgressBarInfinite()}
	x.bar.Hide()
	return x
}

func (x *formFixture) form() form {
	return form{frame: &x.fr, msg: x.msg, inputs: []fyne.Disableable{x.button}, bar: x.bar,
		busy: func(b bool) { x.busy = append(x.busy, b) }}
}

// sending reports whether the form shows that it is being sent.
func (x *formFixture) sending() bool { return x.button.Disabled() && x.bar.Visible() }

func TestFormTranslatesError(t *testing.T) {
	f := newLockedFixture(t, Options{})
	x := newFormFixture(f.u)
	setMessage(x.msg, "ancien message")
	// An error of a known kind, wrapped by the adapter with its operation.
	raw := fmt.Errorf("dmp: fetch record: %w", app.ErrOffline)
	x.form().send(func(ctx context.Context) error {
		if x.msg.Visible() {
			t.Error("the old message stays while the form is sent")
		}
		return raw
	}, func() string {
		t.Error("done ran after an error")
		return ""
	})
	if fmt.Sprint(x.busy) != "[true]" || !x.sending() {
		t.Errorf("busy %v while sending (button disabled %v, bar %v), want [true]", x.busy, x.button.Disabled(), x.bar.Visible())
	}
	f.wait()
	if fmt.Sprint(x.busy) != "[true false]" || x.button.Disabled() || x.bar.Visible() {
		t.Errorf("busy %v after the error (button disabled %v, bar %v), want [true false]", x.busy, x.button.Disabled(), x.bar.Visible())
	}
	assertText(t, "error message", x.msg.Text, "Le service du DMP ou la messagerie ne répond pas : vous êtes hors ligne.")
	if x.msg.Importance != widget.DangerImportance || !x.msg.Visible() {
		t.Errorf("error shown with importance %v, visible %v", x.msg.Importance, x.msg.Visible())
	}

	// The form's own translation, when it has one (connectionProblem).
	x.busy = nil
	fm := x.form()
	fm.explain = func(err error) string {
		if !errors.Is(err, app.ErrInvalid) {
			t.Errorf("explain got %v", err)
		}
		return "adresse invalide"
	}
	fm.send(func(context.Context) error { return fmt.Errorf("conn: %w", app.ErrInvalid) }, nil)
	f.wait()
	assertText(t, "explained error", x.msg.Text, "adresse invalide")

	// An error of no known kind: the internal error, never the raw text.
	x.form().send(func(context.Context) error { return errors.New("bolt: page 12 corrupt") }, nil)
	f.wait()
	assertText(t, "unknown error", x.msg.Text, "Erreur interne (détails dans le journal).")
}

func TestFormSuccess(t *testing.T) {
	f := newLockedFixture(t, Options{})
	x := newFormFixture(f.u)
	x.form().send(func(context.Context) error { return nil }, func() string { return "Enregistré." })
	f.wait()
	if fmt.Sprint(x.busy) != "[true false]" {
		t.Errorf("busy %v, want [true false]", x.busy)
	}
	assertText(t, "success message", x.msg.Text, "Enregistré.")
	if x.msg.Importance != widget.SuccessImportance || !x.msg.Visible() {
		t.Errorf("success shown with importance %v, visible %v", x.msg.Importance, x.msg.Visible())
	}
	// A failure after a success is shown as an error again.
	x.form().fail("Mot de passe trop court.")
	if x.msg.Importance != widget.DangerImportance {
		t.Errorf("fail kept importance %v", x.msg.Importance)
	}
	// Success with nothing to say (done nil): the message is hidden.
	x.form().send(func(context.Context) error { return nil }, nil)
	f.wait()
	if x.msg.Visible() {
		t.Errorf("message %q shown after a silent success", x.msg.Text)
	}
}

func TestFormDisposedDuringSend(t *testing.T) {
	f := newLockedFixture(t, Options{})
	x := newFormFixture(f.u)
	work := newBlocked()
	x.form().send(func(ctx context.Context) error {
		work.wait(ctx)
		return app.ErrOffline
	}, nil)
	work.running(t)
	x.fr.end() // the screen was replaced while the form was sent
	close(work.release)
	f.wait()
	if fmt.Sprint(x.busy) != "[true]" || !x.sending() || x.msg.Visible() {
		t.Errorf("a disposed form changed: busy %v, message %q", x.busy, x.msg.Text)
	}
}

func TestEmptyList(t *testing.T) {
	test.NewTempApp(t)
	list := widget.NewLabel("la liste")
	e := newEmptyList(list)
	test.NewTempWindow(t, e.stack())
	e.set("Aucun patient.")
	if list.Visible() || !e.Visible() {
		t.Error("the list is shown with its empty state")
	}
	assertText(t, "empty text", e.Text, "Aucun patient.")
	e.set("")
	if !list.Visible() || e.Visible() {
		t.Error("the empty state hides the list that has items")
	}
}
