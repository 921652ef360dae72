package app

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The medical synthesis (volet de synthèse médicale, VSM): a practitioner
// drafts it from what the vault holds (never from the network), reviews
// it, and Carnet writes it (CI-SIS VSM 2023.01) and sends it through the
// outbox, replacing the patient's current synthesis: a patient has one.

// TypeCodeSynthesis is the XDS type code of a medical synthesis (TRE_A05
// "SYNTH", JDV_J07).
const TypeCodeSynthesis = "SYNTH"

// ClassSynthesis is TRE_A03 "11" Synthèse: the class of the syntheses
// written in Carnet.
const ClassSynthesis = "11"

// Bounds of a synthesis draft (the writer holds the same).
const (
	MaxSynthesisLines = 500   // lines per list
	MaxSynthesisText  = 20000 // runes per free text
)

// SynthesisLine is one line of a list of the synthesis (a problem, an
// antecedent, an allergy, a risk factor, a device): its text as the
// practitioner keeps it, its code as the record gave it (zero when uncoded:
// it is written as text, never given an invented code), and the document it
// came from (zero Source.Document: entered in the form).
type SynthesisLine struct {
	Text           string
	Code           Code   // problem (CIM-10 …), allergy agent, device type
	Kind           Code   // allergy type, as read
	Detail         string // allergy reaction
	Start          time.Time
	StartPrecision DatePrecision
	End            time.Time
	EndPrecision   DatePrecision
	Source         MedicationSource
}

// SynthesisDraft is a synthesis being written: each list pre-filled by
// DraftSynthesis, then edited by the practitioner.
type SynthesisDraft struct {
	Problems     []SynthesisLine // active problems
	History      []SynthesisLine // past medical and surgical history
	Allergies    []SynthesisLine
	RiskFactors  []SynthesisLine
	Treatments   []Medication // current long-term treatments
	Vaccinations []Medication
	Devices      []SynthesisLine
	Vigilance    string // "Points de vigilance"; paragraphs separated by blank lines
	Comment      string
	Visibility   Visibility
	// Replaces is the current synthesis of the record this one replaces
	// (DraftSynthesis fills it; WriteSynthesis finds it when empty).
	Replaces DocumentID
}

// SynthesisWriter writes the medical synthesis (implemented by app/cda's
// Writer). previous is the synthesis replaced, or nil.
type SynthesisWriter interface {
	WriteSynthesis(p Patient, author Practitioner, d SynthesisDraft, previous *DocumentMeta, at time.Time) (WrittenDocument, error)
}

// IsSynthesis reports whether a document of the record is a medical
// synthesis.
func (m DocumentMeta) IsSynthesis() bool { return m.TypeCode == TypeCodeSynthesis }

// CurrentSynthesis returns the patient's current synthesis: the newest
// synthesis of the record that no other version replaces (one authored
// here, or found in the record). ok is false when there is none.
func CurrentSynthesis(m Manifest) (meta DocumentMeta, ok bool) {
	for _, d := range m.Documents {
		if d.IsSynthesis() && !d.Superseded && (!ok || d.Date.After(meta.Date)) {
			meta, ok = d, true
		}
	}
	return meta, ok
}

// IsVaccination reports whether a medication line is a vaccination: a
// vaccine by its ATC class (J07), or an administration named a vaccine.
func IsVaccination(m Medication) bool {
	if strings.HasPrefix(m.ATC.Code, "J07") {
		return true
	}
	return m.Kind == MedicationAdminister && strings.Contains(strings.ToLower(m.Name), "vaccin")
}

// lineKey is what makes two lines the same: the code, else the text.
func lineKey(c Code, text string) string {
	if c.Code != "" {
		return c.System + "|" + c.Code
	}
	return "text|" + strings.ToLower(strings.Join(strings.Fields(text), " "))
}

// checkDraft refuses what no synthesis may hold. Reasons never quote the
// patient's data.
func (d *SynthesisDraft) check() error {
	for _, t := range []string{d.Vigilance, d.Comment} {
		if !utf8.ValidString(t) || utf8.RuneCountInString(t) > MaxSynthesisText {
			return fmt.Errorf("free text too long or not UTF-8: %w", ErrInvalid)
		}
	}
	for name, ls := range map[string][]SynthesisLine{"problem": d.Problems, "history": d.History, "allergy": d.Allergies,
		"risk factor": d.RiskFactors, "device": d.Devices} {
		if len(ls) > MaxSynthesisLines {
			return fmt.Errorf("more than %d %s lines: %w", MaxSynthesisLines, name, ErrInvalid)
		}
		for i, l := range ls {
			if strings.TrimSpace(l.Text) == "" {
				return fmt.Errorf("%s line %d has no text: %w", name, i+1, ErrInvalid)
			}
		}
	}
	for _, ms := range [][]Medication{d.Treatments, d.Vaccinations} {
		if len(ms) > MaxSynthesisLines {
			return fmt.Errorf("more than %d medication lines: %w", MaxSynthesisLines, ErrInvalid)
		}
		for i, m := range ms {
			if strings.TrimSpace(m.Name) == "" && strings.TrimSpace(m.Product.Display) == "" {
				return fmt.Errorf("medication line %d has no name: %w", i+1, ErrInvalid)
			}
		}
	}
	if d.Visibility.MaskedToProfessionals && d.Visibility.HiddenFromPatient {
		return fmt.Errorf("a document cannot be both masked to professionals and hidden from the patient: %w", ErrInvalid)
	}
	return nil
}
