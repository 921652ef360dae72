package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
)

// readSent returns the outbox's history — the documents written here that
// the central service acknowledged, newest first — and the display names
// of their patients.
func readSent(ctx context.Context, svc *app.Service) ([]app.SentItem, map[app.PatientID]string, error) {
	sent, err := svc.SentHistory(ctx, app.DefaultSentHistory)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]app.PatientID, len(sent))
	for i, s := range sent {
		ids[i] = s.Patient
	}
	return sent, patientNames(ctx, svc, ids, app.Patient.DisplayName, tr("outbox.patient.unknown")), nil
}

// sentUI returns the blocks of the history: a heading, then one line per
// document sent (date, title, patient); nothing when nothing was sent.
func sentUI(sent []app.SentItem, names map[app.PatientID]string) []fyne.CanvasObject {
	if len(sent) == 0 {
		return nil
	}
	out := []fyne.CanvasObject{widget.NewSeparator(),
		widget.NewLabelWithStyle(tr("outbox.sent.title"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})}
	for _, s := range sent {
		title := s.Meta.Title
		if title == "" {
			title = tr("viewer.untitled")
		}
		l := widget.NewLabel(tr("outbox.sent.item", map[string]any{
			"Date": formatDateTime(s.Meta.Date), "Title": title, "Patient": names[s.Patient]}))
		l.Truncation = fyne.TextTruncateEllipsis
		out = append(out, l)
	}
	return out
}

// showSent adds the history's blocks below the items shown.
func (v *outboxView) showSent(blocks []fyne.CanvasObject) {
	if len(blocks) == 0 {
		return
	}
	v.setItems(append(append([]fyne.CanvasObject(nil), v.list.Objects...), blocks...))
}
