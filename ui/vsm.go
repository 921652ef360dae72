package ui

import (
	"context"
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// synthesisTab is the "Synthèse (VSM)" tab of the record: "Rédiger une
// synthèse (VSM)" builds a draft from what the vault holds
// (Service.DraftSynthesis, off the UI goroutine, never the network) and
// shows it as a form: one editable line per problem, antecedent, allergy,
// risk factor, treatment, vaccination and device, each removable, with its
// source document one click away (the viewer), a line to add to each list,
// and the free texts of the volet. "Signer et envoyer" writes the VSM
// (Service.WriteSynthesis): in the outbox at once, sent when the central
// service answers, replacing the current synthesis of the record.
//
// A line whose text the practitioner changed is written as text only: its
// code named what the record said, not what the line now says.
type synthesisTab struct {
	r *recordView

	start    *widget.Button
	progress *taskProgress
	msg      *widget.Label
	holder   *fyne.Container // the form, once drafted

	draft                     app.SynthesisDraft
	lists                     []*vsmList
	vigilance, comment        *entry
	masked, hidePat, hideReps *widget.Check
	send                      *widget.Button
	disposed                  bool
}

// vsmList is one list of the form.
type vsmList struct {
	key  string // translation key of its title
	box  *fyne.Container
	rows []*vsmRow
}

// vsmRow is one line of a list: the line as drafted and its entry.
type vsmRow struct {
	line    app.SynthesisLine // the lists of lines
	med     *app.Medication   // the lists of medications
	text    *entry
	open    *widget.Button // its source in the viewer; nil when entered here
	remove  *widget.Button
	removed bool
}

// The lists of the form, in the volet's order.
const (
	vsmProblems = iota
	vsmHistory
	vsmAllergies
	vsmRisks
	vsmTreatments
	vsmVaccinations
	vsmDevices
	vsmLists
)

var vsmListKeys = [vsmLists]string{"vsm.problems", "vsm.history", "vsm.allergies", "vsm.risks", "vsm.treatments", "vsm.vaccinations", "vsm.devices"}

func newSynthesisTab(r *recordView) recordTab { return &synthesisTab{r: r} }

// item implements recordTab.
func (t *synthesisTab) item() *container.TabItem {
	t.start = widget.NewButtonWithIcon(tr("vsm.start"), theme.DocumentCreateIcon(), t.startDraft)
	t.start.Importance = widget.HighImportance
	t.progress = newTaskProgress()
	t.msg = newMessage(widget.DangerImportance)
	t.holder = container.NewVBox()
	content := container.NewVBox(paragraph(tr("vsm.intro")), container.NewHBox(t.start), t.progress.box, t.msg, t.holder)
	return container.NewTabItemWithIcon(tr("vsm.tab"), theme.DocumentIcon(), container.NewVScroll(container.NewPadded(content)))
}

// selected implements recordTab.
func (t *synthesisTab) selected() {}

// recordChanged implements recordTab.
func (t *synthesisTab) recordChanged() {}

// dispose implements recordTab: the draft is dropped.
func (t *synthesisTab) dispose() {
	if t.holder == nil || t.disposed {
		return
	}
	t.disposed = true
	t.progress.dispose()
	t.clear()
}

func (t *synthesisTab) clear() {
	t.draft, t.lists = app.SynthesisDraft{}, nil
	t.holder.RemoveAll()
}

func (t *synthesisTab) setMsg(text string, imp widget.Importance) {
	t.msg.Importance = imp
	setMessage(t.msg, text)
}

// startDraft builds the draft off the UI goroutine.
func (t *synthesisTab) startDraft() {
	t.r.u.svc.Touch()
	id, svc := t.r.patient.ID, t.r.u.svc
	t.setMsg("", widget.MediumImportance)
	t.start.Disable()
	t.r.track(t.progress, tr("vsm.drafting"), func() { t.start.Enable() }, func(ctx context.Context) func() {
		d, err := svc.DraftSynthesis(ctx, id)
		return func() {
			t.start.Enable()
			if err != nil {
				t.setMsg(message(err), widget.DangerImportance)
				return
			}
			t.showDraft(d)
		}
	})
}

// showDraft builds the form of a draft.
func (t *synthesisTab) showDraft(d app.SynthesisDraft) {
	t.clear()
	t.draft = d
	lines := [vsmLists][]app.SynthesisLine{d.Problems, d.History, d.Allergies, d.RiskFactors, nil, nil, d.Devices}
	meds := [vsmLists][]app.Medication{vsmTreatments: d.Treatments, vsmVaccinations: d.Vaccinations}
	if d.Replaces != "" {
		t.holder.Add(paragraph(tr("vsm.replaces")))
	}
	for i := range vsmLists {
		l := &vsmList{key: vsmListKeys[i], box: container.NewVBox()}
		t.lists = append(t.lists, l)
		for _, ln := range lines[i] {
			t.addRow(l, &vsmRow{line: ln}, ln.Text)
		}
		for j := range meds[i] {
			m := meds[i][j]
			t.addRow(l, &vsmRow{med: &m}, m.Name)
		}
		isMed := i == vsmTreatments || i == vsmVaccinations
		add := widget.NewButtonWithIcon(tr("vsm.add"), theme.ContentAddIcon(), func() {
			r := &vsmRow{}
			if isMed {
				r.med = &app.Medication{Kind: app.MedicationTreatment}
			}
			t.addRow(l, r, "")
			relayoutCanvasOf(l.box)
		})
		add.Importance = widget.LowImportance
		t.holder.Add(widget.NewLabelWithStyle(tr(l.key), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
		t.holder.Add(l.box)
		t.holder.Add(container.NewHBox(add))
	}
	t.vigilance = newEntry(t.r.u, tr("vsm.vigilance.placeholder"))
	t.vigilance.SetText(d.Vigilance)
	t.comment = newEntry(t.r.u, tr("vsm.comment.placeholder"))
	t.comment.SetText(d.Comment)
	for _, e := range []*entry{t.vigilance, t.comment} {
		e.MultiLine, e.Wrapping = true, fyne.TextWrapWord
		e.SetMinRowsVisible(4)
	}
	t.masked = widget.NewCheck(tr("write.vis.masked"), nil)
	t.hidePat = widget.NewCheck(tr("write.vis.patient"), nil)
	t.hideReps = widget.NewCheck(tr("write.vis.reps"), nil)
	t.send = widget.NewButtonWithIcon(tr("vsm.send"), theme.MailSendIcon(), t.sendDraft)
	t.send.Importance = widget.HighImportance
	t.holder.Add(widget.NewForm(
		widget.NewFormItem(tr("vsm.vigilance"), t.vigilance),
		widget.NewFormItem(tr("vsm.comment"), t.comment),
	))
	t.holder.Add(container.NewVBox(widget.NewLabelWithStyle(tr("write.vis"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		t.masked, t.hidePat, t.hideReps))
	t.holder.Add(container.NewHBox(t.send))
	t.holder.Refresh()
	relayoutCanvasOf(t.holder)
}

// addRow adds a line to a list: its entry, its source button (the viewer)
// and its remove button.
func (t *synthesisTab) addRow(l *vsmList, r *vsmRow, text string) {
	r.text = newEntry(t.r.u, tr("vsm.line.placeholder"))
	r.text.SetText(text)
	src := r.line.Source
	if r.med != nil {
		src = r.med.Source
	}
	var tools []fyne.CanvasObject
	if src.Document != "" {
		label := src.Title
		if !src.Date.IsZero() {
			label = strings.TrimSpace(label + " · " + formatDate(src.Date))
		}
		r.open = widget.NewButtonWithIcon(label, theme.DocumentIcon(), func() { t.r.openDocument(src.Document) })
		r.open.Importance = widget.LowImportance
		tools = append(tools, r.open)
	}
	var row *fyne.Container
	r.remove = widget.NewButtonWithIcon("", theme.DeleteIcon(), func() {
		r.removed = true
		l.box.Remove(row)
		relayoutCanvasOf(l.box)
	})
	r.remove.Importance = widget.LowImportance
	tools = append(tools, r.remove)
	row = container.NewBorder(nil, nil, nil, container.NewHBox(tools...), r.text)
	l.rows = append(l.rows, r)
	l.box.Add(row)
}

// collect returns the draft as the form now says: removed and empty lines
// left out; an edited line keeps its source but loses its code.
func (t *synthesisTab) collect() app.SynthesisDraft {
	d := app.SynthesisDraft{Replaces: t.draft.Replaces, Vigilance: t.vigilance.Text, Comment: t.comment.Text,
		Visibility: app.Visibility{MaskedToProfessionals: t.masked.Checked, HiddenFromPatient: t.hidePat.Checked, HiddenFromLegalReps: t.hideReps.Checked}}
	targets := [vsmLists]*[]app.SynthesisLine{&d.Problems, &d.History, &d.Allergies, &d.RiskFactors, nil, nil, &d.Devices}
	medTargets := [vsmLists]*[]app.Medication{vsmTreatments: &d.Treatments, vsmVaccinations: &d.Vaccinations}
	for i, l := range t.lists {
		for _, r := range l.rows {
			text := strings.TrimSpace(r.text.Text)
			if r.removed || text == "" {
				continue
			}
			if r.med != nil {
				m := *r.med
				if text != m.Name {
					m.Name, m.Product, m.ATC, m.Codes, m.Substance = text, app.Code{}, app.Code{}, nil, ""
				}
				*medTargets[i] = append(*medTargets[i], m)
				continue
			}
			ln := r.line
			if text != strings.TrimSpace(ln.Text) {
				ln.Text, ln.Code, ln.Kind = text, app.Code{}, app.Code{}
			}
			*targets[i] = append(*targets[i], ln)
		}
	}
	return d
}

// sendDraft signs the synthesis and puts it in the outbox, off the UI
// goroutine.
func (t *synthesisTab) sendDraft() {
	t.r.u.svc.Touch()
	d := t.collect()
	if d.Visibility.MaskedToProfessionals && d.Visibility.HiddenFromPatient {
		t.setMsg(tr("write.vis.conflict"), widget.DangerImportance)
		return
	}
	id, svc := t.r.patient.ID, t.r.u.svc
	t.setMsg("", widget.MediumImportance)
	t.send.Disable()
	t.r.track(t.progress, tr("vsm.sending"), func() { t.send.Enable() }, func(ctx context.Context) func() {
		item, err := svc.WriteSynthesis(ctx, id, d)
		return func() { t.sent(item, err) }
	})
}

// sent shows the outcome: the synthesis in the record (the one it replaces
// superseded), or why it was refused; the draft stays for a retry.
func (t *synthesisTab) sent(item app.OutboxItem, err error) {
	if t.send != nil {
		t.send.Enable()
	}
	if err != nil {
		if errors.Is(err, app.ErrCredential) {
			t.setMsg(tr("write.signin"), widget.WarningImportance)
			return
		}
		t.setMsg(message(err), widget.DangerImportance)
		return
	}
	if item.Replaces != "" {
		docs := t.r.rec.Manifest.Documents
		for i := range docs {
			if docs[i].ID == item.Replaces {
				docs[i].Superseded = true
			}
		}
	}
	t.clear()
	t.setMsg(tr("vsm.sent"), widget.SuccessImportance)
	if s := t.r.u.shell; s != nil {
		s.noteWritten(item.Patient, item.Meta.ID)
	}
	t.r.documentWritten(item.Meta)
}
