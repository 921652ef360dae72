package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/app/meds"
)

// preparedBy names who prepared a printout: the signed-in practitioner,
// else the propositions are said to be unvalidated.
func preparedBy(svc *app.Service) string {
	if p, ok := svc.Practitioner(); ok && p.Name != "" {
		return p.Name
	}
	return "Carnet (propositions non validées, aucun praticien connecté)"
}

// sheet returns the printout page of the table shown.
func (v *medsView) sheet() app.PreopSheet {
	return meds.Sheet(v.rec.Patient, v.reading, v.list, v.table.rows, v.table.in, preparedBy(v.u.svc))
}

// printPDF renders the patient's one-page PDF off the UI goroutine, then
// asks where to write it: nothing is written anywhere else (no temporary
// file); the user prints it from the file chosen, or cancels.
func (v *medsView) printPDF() {
	v.u.svc.Touch()
	sheet := v.sheet()
	svc := v.u.svc
	v.track(v.recProgress, tr("meds.table.print"), nil, func(ctx context.Context) func() {
		pdf, err := svc.PreopPDF(ctx, []app.PreopSheet{sheet})
		return func() {
			if err != nil {
				v.setReconcileMsg(message(err), widget.DangerImportance)
				return
			}
			v.lastPDF = pdf
			v.savePDF(pdf)
		}
	})
}

// savePDF asks where to write pdf and writes it there.
func (v *medsView) savePDF(pdf []byte) {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return // cancelled: nothing written
		}
		_, werr := w.Write(pdf)
		if cerr := w.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			v.setReconcileMsg(message(werr), widget.DangerImportance)
			_ = storage.Delete(w.URI()) // no partial copy left behind
			return
		}
		v.setReconcileMsg(tr("meds.table.printed"), widget.SuccessImportance)
	}, v.u.Window())
	d.SetFileName("preop.pdf") // no health data in the file name
	d.SetFilter(storage.NewExtensionFileFilter([]string{".pdf"}))
	v.showDialog(d)
}
