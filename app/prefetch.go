package app

import (
	"context"
	"errors"
	"fmt"
)

// PrefetchBudget is the default byte budget of a record's background
// prefetch: the documents of one record kept for offline reading.
const PrefetchBudget = 256 << 20

// prefetchGiveUp is how many documents in a row may fail before a prefetch
// stops: the service is then failing for this record, not for one document.
const prefetchGiveUp = 5

// PrefetchResult says what a prefetch did.
type PrefetchResult struct {
	Fetched int   // documents retrieved and cached
	Skipped int   // not fetched: over the budget, withdrawn, or failed
	Bytes   int64 // bytes cached
	Err     error // the first failure, if any (one failure does not stop the others)
}

// Prefetch retrieves, and caches for offline use, the documents of a
// patient's record that are not cached yet (newest first, superseded ones
// left out), within budget bytes (0: PrefetchBudget), with the access of the
// opening (a bris de glace access stays one). progress(done, total) is
// called after each document, from the calling goroutine. It stops when ctx
// is cancelled, the central service is unreachable, or prefetchGiveUp
// documents in a row failed; other failures are counted and the next
// documents still come.
func (s *Service) Prefetch(ctx context.Context, id PatientID, acc Access, budget int64, progress func(done, total int)) (PrefetchResult, error) {
	if budget <= 0 {
		budget = PrefetchBudget
	}
	m, err := s.store.Manifest(ctx, id)
	if err != nil {
		return PrefetchResult{}, fmt.Errorf("prefetch: %w", err)
	}
	var todo []DocumentMeta
	for _, d := range m.Documents { // the manifest is newest first
		if !d.Cached && !d.Superseded {
			todo = append(todo, d)
		}
	}
	var res PrefetchResult
	failures := 0
	for i, d := range todo {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("prefetch: %w", err)
		}
		if d.Size > 0 && res.Bytes+d.Size > budget {
			res.Skipped++
			continue
		}
		b, err := s.Document(ctx, id, d.ID, acc)
		switch {
		case err == nil:
			res.Fetched++
			res.Bytes += int64(len(b))
			failures = 0
		case errors.Is(err, ErrOffline), errors.Is(err, context.Canceled), errors.Is(err, ErrCredential), errors.Is(err, ErrLocked):
			res.Skipped += len(todo) - i
			if res.Err == nil {
				res.Err = err
			}
			return res, fmt.Errorf("prefetch: %w", err)
		default:
			res.Skipped++
			if res.Err == nil {
				res.Err = err
			}
			if failures++; failures >= prefetchGiveUp {
				res.Skipped += len(todo) - i - 1
				return res, fmt.Errorf("prefetch: %d documents in a row failed: %w", failures, err)
			}
		}
		if progress != nil {
			progress(i+1, len(todo))
		}
	}
	return res, nil
}
