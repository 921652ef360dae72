package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// SentItem is a document written in Carnet that the central service
// acknowledged: the outbox's history.
type SentItem struct {
	Patient PatientID
	Meta    DocumentMeta
}

// DefaultSentHistory is how many sent items the outbox page shows.
const DefaultSentHistory = 50

// SentHistory returns the documents written in Carnet that the central
// service acknowledged, newest first, at most limit (≤ 0: all). It is
// derived from the vault, not remembered apart: once sent, a document
// written here stays in its patient's record with its remote id and its
// source "carnet" (MergeManifest), so the history can neither drift from
// the records nor outlive a purged patient. A record that cannot be read
// now (re-validation due) is left out.
func (s *Service) SentHistory(ctx context.Context, limit int) ([]SentItem, error) {
	ps, err := s.store.Patients(ctx)
	if err != nil {
		return nil, fmt.Errorf("sent history: %w", err)
	}
	var out []SentItem
	for _, p := range ps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := s.store.Manifest(ctx, p.ID)
		switch {
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrAccessDenied):
			continue
		case err != nil:
			return nil, fmt.Errorf("sent history: %w", err)
		}
		for _, d := range m.Documents {
			if d.Source == "carnet" && d.RemoteID != "" {
				out = append(out, SentItem{Patient: p.ID, Meta: d})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Meta, out[j].Meta
		if !a.Date.Equal(b.Date) {
			return a.Date.After(b.Date)
		}
		return a.ID < b.ID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
