package app

// Terminology gives codes their French words (implemented with the embedded
// tables of app/terms; main wires it).
type Terminology interface {
	// DocumentType returns the French label of a document type code
	// (LOINC or TRE_A05, JDV_J07).
	DocumentType(code string) (string, bool)
	// DocumentClass returns the French label of a document class code
	// (TRE_A03, JDV_J06): "10" → "Compte rendu".
	DocumentClass(code string) (string, bool)
}

// SetTerminology gives the service its terminology.
func (s *Service) SetTerminology(t Terminology) {
	s.mu.Lock()
	s.terms = t
	s.mu.Unlock()
}

// terminology returns the wired terminology, nil when none.
func (s *Service) terminology() Terminology {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.terms
}

// DocumentTypeLabel returns the French label of a document type code, or
// the code itself when unknown (or no terminology is wired).
func (s *Service) DocumentTypeLabel(code string) string {
	if t := s.terminology(); t != nil {
		if l, ok := t.DocumentType(code); ok {
			return l
		}
	}
	return code
}

// DocumentClassLabel returns the French label of a document class code
// (TRE_A03), or the code itself when unknown (or no terminology is wired);
// "" for the empty code (a document without class: the caller names it).
func (s *Service) DocumentClassLabel(code string) string {
	if code == "" {
		return ""
	}
	if t := s.terminology(); t != nil {
		if l, ok := t.DocumentClass(code); ok {
			return l
		}
	}
	return code
}
