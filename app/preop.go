package app

import (
	"context"
	"fmt"
	"time"
)

// PreopSheet is one patient's page of the pre-operative printout: identity,
// allergies, devices, relevant problems, the decision table, the documents
// consulted, the state's date ("état au …") and who prepared it. It holds
// display text only; app/meds builds it, app/cda renders it as PDF.
type PreopSheet struct {
	Patient    Patient
	Surgery    time.Time // zero when unknown
	Inputs     string    // "Risque hémorragique : élevé · ClCr : 80 mL/min"
	Allergies  []string
	Devices    []string
	Problems   []string
	Rows       []PreopRow
	Sources    []string  // the documents consulted ("Synthèse médicale du 02/10/2025 · Dr Lebrun")
	AsOf       time.Time // the consolidation's time
	PreparedBy string    // the practitioner, or "Carnet (propositions non validées)"
	Status     string    // the rule table's status ("à valider cliniquement")
}

// PreopRow is one row of a sheet's decision table.
type PreopRow struct {
	Name     string
	Class    string
	Decision string // "Arrêter — dernière prise le 07/12/2026 (J-3)"; "NON DÉCIDÉ - proposé : …" when not decided
	Last     string // last dispensing or intake
	Sources  int    // independent sources
	Reason   string // override reason or rule followed
	Flagged  bool
	// Undecided: nobody decided the line yet; Decision shows the proposal.
	Undecided bool
}

// SheetRenderer renders pre-operative sheets as one PDF (main wires
// cda.SheetRenderer). The bytes stay in memory: the caller prints them or
// writes them where the user chose.
type SheetRenderer interface {
	RenderPreop(sheets []PreopSheet, at time.Time) ([]byte, error)
}

// SetSheetRenderer sets the renderer of PreopPDF.
func (s *Service) SetSheetRenderer(r SheetRenderer) {
	s.mu.Lock()
	s.sheets = r
	s.mu.Unlock()
}

// PreopPDF renders the sheets as one PDF, in memory.
func (s *Service) PreopPDF(ctx context.Context, sheets []PreopSheet) ([]byte, error) {
	s.Touch()
	s.mu.Lock()
	r := s.sheets
	s.mu.Unlock()
	if r == nil {
		return nil, fmt.Errorf("print pre-operative sheets: no renderer: %w", ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("print pre-operative sheets: %w", err)
	}
	b, err := r.RenderPreop(sheets, s.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("print pre-operative sheets: %w", err)
	}
	return b, nil
}

// Printer hands a PDF to the operating system's printing (main wires
// osprint.Printer: CUPS lp on Linux, ShellExecute "print" on Windows).
// Available reports whether the system offers printing at all.
type Printer interface {
	Available() bool
	Print(ctx context.Context, pdf []byte) error
}

// SetPrinter sets the system printer of PrintPDF.
func (s *Service) SetPrinter(p Printer) {
	s.mu.Lock()
	s.printer = p
	s.mu.Unlock()
}

// CanPrint reports whether a system printer is set and available.
func (s *Service) CanPrint() bool {
	s.mu.Lock()
	p := s.printer
	s.mu.Unlock()
	return p != nil && p.Available()
}

// PrintPDF sends a PDF rendered in memory to the system's printing; the
// print is audited (without health data). Without a printer, or when the
// system refuses the job (no default printer, printer unknown), it is
// ErrNotConfigured, the system's own message kept in the error text.
func (s *Service) PrintPDF(ctx context.Context, id PatientID, pdf []byte) error {
	s.Touch()
	s.mu.Lock()
	p := s.printer
	s.mu.Unlock()
	if p == nil || !p.Available() {
		return fmt.Errorf("print: no system printer: %w", ErrNotConfigured)
	}
	err := p.Print(ctx, pdf)
	s.audit(ctx, AuditEvent{Action: "meds.print", Patient: id, Result: resultOf(err)})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("print: %w", err)
		}
		return fmt.Errorf("print: %w: %v", ErrNotConfigured, err)
	}
	return nil
}
