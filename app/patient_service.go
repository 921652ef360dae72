package app

import (
	"context"
	"fmt"
)

// SearchPatients searches the cached patients by name or INS (as you type).
func (s *Service) SearchPatients(ctx context.Context, query string, limit int) ([]Patient, error) {
	s.Touch()
	ps, err := s.store.SearchPatients(ctx, query, limit)
	if err != nil {
		return nil, fmt.Errorf("search patients: %w", err)
	}
	return ps, nil
}

// Patient returns a patient of the vault's directory (the local identity).
func (s *Service) Patient(ctx context.Context, id PatientID) (Patient, error) {
	p, err := s.store.Patient(ctx, id)
	if err != nil {
		return Patient{}, fmt.Errorf("patient: %w", err)
	}
	return p, nil
}
