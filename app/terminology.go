package app

// Terminology gives codes their French words (implemented with the embedded
// tables of app/terms; main wires it).
type Terminology interface {
	// DocumentType returns the French label of a document type code
	// (LOINC or TRE_A05, JDV_J07).
	DocumentType(code string) (string, bool)
}

// SetTerminology gives the service its terminology.
func (s *Service) SetTerminology(t Terminology) {
	s.mu.Lock()
	s.terms = t
	s.mu.Unlock()
}

// DocumentTypeLabel returns the French label of a document type code, or
// the code itself when unknown (or no terminology is wired).
func (s *Service) DocumentTypeLabel(code string) string {
	s.mu.Lock()
	t := s.terms
	s.mu.Unlock()
	if t != nil {
		if l, ok := t.DocumentType(code); ok {
			return l
		}
	}
	return code
}
