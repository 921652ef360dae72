package dmptest

import (
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// Test hooks: what the patient (or the service) does to a record outside
// any practitioner's request, for the sync engine's tests.

// Revoke withdraws the authorisation of the practitioner rpps on the
// patient's record (and their médecin traitant standing). It reports
// whether the patient is known.
func (s *Server) Revoke(ins app.INS, rpps string) bool {
	return s.withRecord(ins, func(rec *record) {
		delete(rec.Authz, rpps)
		if rec.Treating == rpps {
			rec.Treating = ""
		}
	})
}

// Block makes the patient block the practitioner rpps.
func (s *Server) Block(ins app.INS, rpps string) bool {
	return s.withRecord(ins, func(rec *record) { rec.Blocked[rpps] = true })
}

// CloseRecord closes the patient's record.
func (s *Server) CloseRecord(ins app.INS) bool {
	return s.withRecord(ins, func(rec *record) { rec.Closed, rec.ClosedAt = true, s.now() })
}

// MaskDocument masks a document to professionals (as the patient may),
// a new metadata version: only its author still sees it.
func (s *Server) MaskDocument(uniqueID app.DocumentID) bool {
	return s.withDoc(uniqueID, func(d *doc) {
		v := fhir.VisibilityOf(d.Ref.SecurityLabel)
		v.MaskedToProfessionals, v.HiddenFromPatient = true, false
		d.Ref.SecurityLabel = fhir.SecurityLabels(v)
		d.stamp(d.Version+1, s.now())
	})
}

// DeleteDocument deletes a document (as the patient may ask).
func (s *Server) DeleteDocument(uniqueID app.DocumentID) bool {
	return s.withDoc(uniqueID, func(d *doc) {
		d.Deleted = true
		d.stamp(d.Version+1, s.now())
	})
}

// UniqueIDs returns how many live (not deleted) documents carry each
// uniqueId in the patient's record: a count above 1 would be a duplicate.
func (s *Server) UniqueIDs(ins app.INS) map[app.DocumentID]int {
	out := map[app.DocumentID]int{}
	s.withRecord(ins, func(rec *record) {
		for _, d := range rec.Docs {
			if !d.Deleted {
				out[app.DocumentID(stripURN(d.Ref.UniqueID()))]++
			}
		}
	})
	return out
}

func stripURN(u string) string {
	if len(u) > 8 && u[:8] == "urn:oid:" {
		return u[8:]
	}
	return u
}

func (s *Server) withRecord(ins app.INS, fn func(*record)) bool {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec := s.recordOf(fhir.INSToken(ins))
	if rec == nil {
		return false
	}
	fn(rec)
	s.persistLater(rec)
	return true
}

func (s *Server) withDoc(uniqueID app.DocumentID, fn func(*doc)) bool {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	d := s.data.unique[fhir.UniqueIDURN(uniqueID)]
	if d == nil {
		d = s.data.unique[string(uniqueID)]
	}
	if d == nil {
		return false
	}
	fn(d)
	d.changed()
	s.persistLater(d.patient)
	return true
}

// limiter is a request-rate limit shared by all callers (a token bucket):
// a request over the limit gets 429 with Retry-After (whole seconds). It
// counts the requests that arrived while their sender had been told to
// wait (per remote address: a client ignoring Retry-After).
type limiter struct {
	rate  float64 // requests per second
	burst float64
	mu    sync.Mutex
	level float64
	last  time.Time
	// told maps a remote address to when it was told to wait and until
	// when; early counts requests that came before that time, more than a
	// grace period after the 429 (requests already in flight when it was
	// sent are not the client's fault).
	told     map[string][2]time.Time
	early    int
	limited  int
	accepted int
}

// allow reports whether a request from addr may go on now; when not, the
// Retry-After delay in seconds.
func (l *limiter) allow(addr string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.told[addr]; ok && now.Before(t[1]) && now.Sub(t[0]) > limitGrace {
		l.early++
	}
	if l.last.IsZero() {
		l.level = l.burst
	} else {
		l.level = math.Min(l.burst, l.level+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.level >= 1 {
		l.level--
		l.accepted++
		return true, 0
	}
	wait := int(math.Ceil((1 - l.level) / l.rate))
	if wait < 1 {
		wait = 1
	}
	if t, ok := l.told[addr]; !ok || !now.Before(t[1]) {
		l.told[addr] = [2]time.Time{now, now.Add(time.Duration(wait) * time.Second)}
	}
	l.limited++
	return false, wait
}

// limitGrace is how long after a 429 a request from the same address is
// still taken as sent before the client could know.
const limitGrace = 200 * time.Millisecond

// LimitStats are the counts of the request limiter (Options.RateLimit).
type LimitStats struct {
	Accepted int // requests let through
	Limited  int // requests answered 429
	Early    int // requests that came before the Retry-After given to their sender
}

// LimitStats returns the limiter's counts (zero without a limit).
func (s *Server) LimitStats() LimitStats {
	if s.limit == nil {
		return LimitStats{}
	}
	s.limit.mu.Lock()
	defer s.limit.mu.Unlock()
	return LimitStats{Accepted: s.limit.accepted, Limited: s.limit.limited, Early: s.limit.early}
}

// limited answers 429 when the request is over the limit; it reports
// whether it did.
func (s *Server) limited(w http.ResponseWriter, r *http.Request) bool {
	if s.limit == nil {
		return false
	}
	ok, wait := s.limit.allow(r.RemoteAddr, time.Now())
	if ok {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(wait))
	writeOutcome(w, http.StatusTooManyRequests, fhir.NewOutcome("throttled", "request limit reached"))
	return true
}

// Fixed returns the patients added by AddPatient (Options.Fixed), in the
// order they were added: their local identities, for tests.
func (s *Server) Fixed() []app.Patient {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	var out []app.Patient
	for _, rec := range s.data.records {
		if rec.Index < 0 {
			out = append(out, rec.Patient)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ClearFaults drops the faults queued by FailNext (the service is reachable
// again at once).
func (s *Server) ClearFaults() {
	s.nextMu.Lock()
	defer s.nextMu.Unlock()
	s.next = nil
}
