package ui

import (
	"context"
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
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
	return meds.WithCrClSource(meds.Sheet(v.rec.Patient, v.reading, v.list, v.table.rows, v.table.in, preparedBy(v.u.svc)), v.table.crclSource)
}

// printPDF renders the patient's one-page PDF off the UI goroutine, then
// offers the system's printing (when there is one) or asks where to write
// it: nothing is written anywhere else (no temporary file).
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
			v.printOrSave(pdf)
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

// printOrSave offers to print pdf through the system (CUPS lp, Windows'
// print verb) or to save it where the user chooses; without a system
// printer it asks where to save it at once.
func (v *medsView) printOrSave(pdf []byte) {
	if !v.u.svc.CanPrint() {
		v.savePDF(pdf)
		return
	}
	var d dialog.Dialog
	printB := widget.NewButtonWithIcon(tr("meds.print.system"), theme.DocumentPrintIcon(), func() {
		d.Hide()
		v.printSystem(pdf)
	})
	printB.Importance = widget.HighImportance
	saveB := widget.NewButtonWithIcon(tr("meds.print.save"), theme.DocumentSaveIcon(), func() {
		d.Hide()
		v.savePDF(pdf)
	})
	hint := paragraph(tr("meds.print.hint"))
	hint.Importance = widget.LowImportance
	d = dialog.NewCustom(tr("meds.table.print"), tr("dialog.cancel"), container.NewVBox(hint, container.NewHBox(printB, saveB)), v.u.Window())
	v.showDialog(d)
}

// printSystem sends pdf to the system's printing off the UI goroutine.
func (v *medsView) printSystem(pdf []byte) {
	v.u.svc.Touch()
	svc, pid := v.u.svc, v.rec.Patient.ID
	v.track(v.recProgress, tr("meds.print.sending"), nil, func(ctx context.Context) func() {
		err := svc.PrintPDF(ctx, pid, pdf)
		return func() {
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return
				}
				v.setReconcileMsg(tr("meds.print.failed"), widget.DangerImportance)
				return
			}
			v.setReconcileMsg(tr("meds.print.sent"), widget.SuccessImportance)
		}
	})
}
