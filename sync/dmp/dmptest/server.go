package dmptest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

// Server is the sandbox central record service. Its state is in memory
// (optionally persisted, see Options.DataDir); the synthetic population's
// documents are generated on first access to each patient.
type Server struct {
	opt      Options
	data     data
	pop      []app.Patient  // the synthetic population, identities only
	byINS    map[string]int // INS token → index in pop
	jtis     jtiCache
	faults   *faultState
	throttle *throttle
	limit    *limiter
	// identities: the identity of each client certificate seen on the
	// XDS side (peerIdentity).
	identities sync.Map
	store      *persist
	nextMu     sync.Mutex
	next       []Fault // faults forced on the next requests (FailNext)
	out        outage  // pause and latency (outage.go)
}

// New creates a sandbox with opt. It generates identities only; documents
// come on first access to a patient, so large populations start fast.
func New(opt Options) (*Server, error) {
	opt = opt.withDefaults()
	s := &Server{opt: opt, byINS: map[string]int{}}
	s.data.records = map[string]*record{}
	s.data.docs = map[string]*doc{}
	s.data.binaries = map[string]*doc{}
	s.data.unique = map[string]*doc{}
	s.pop = Patients(opt.Seed, opt.Patients)
	s.data.byIndex = make([]*record, len(s.pop))
	for i, p := range s.pop {
		s.byINS[fhir.INSToken(p.INS).String()] = i
	}
	s.jtis.seen = map[string]time.Time{}
	s.faults = newFaultState(opt.Seed, opt.Faults)
	if opt.Throttle > 0 {
		s.throttle = &throttle{rate: opt.Throttle}
	}
	if opt.RateLimit > 0 {
		burst := opt.RateBurst
		if burst < 1 {
			burst = max(1, opt.RateLimit)
		}
		s.limit = &limiter{rate: opt.RateLimit, burst: burst, told: map[string][2]time.Time{}}
	}
	for _, fp := range opt.Fixed {
		if _, err := s.AddPatient(fp); err != nil {
			return nil, err
		}
	}
	if opt.DataDir != "" {
		st, err := openPersist(opt.DataDir)
		if err != nil {
			return nil, err
		}
		s.store = st
		if err := st.load(s); err != nil {
			st.close()
			return nil, err
		}
	}
	return s, nil
}

// Close releases the persistent store, if any.
func (s *Server) Close() error {
	if s.store != nil {
		return s.store.close()
	}
	return nil
}

// Population returns the synthetic patients (the local identities a
// practitioner would hold: INS on the test OID and traits).
func (s *Server) Population() []app.Patient { return append([]app.Patient(nil), s.pop...) }

// BasePath returns the path of the FHIR base ("/fhir").
func (s *Server) BasePath() string { return s.opt.BasePath }

// Handler returns the HTTP handler of the service (all routes under
// BasePath). It must be served over TLS with verified client certificates:
// the practitioner is identified by the certificate.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	b := s.opt.BasePath
	mux.HandleFunc("GET "+b+"/metadata", s.handleMetadata)
	mux.Handle("GET "+b+"/Patient", s.authed(s.handlePatientSearch))
	mux.Handle("POST "+b+"/Consent", s.authed(s.handleConsent))
	mux.Handle("GET "+b+"/DocumentReference", s.authed(s.handleDocSearch))
	mux.Handle("GET "+b+"/DocumentReference/{id}", s.authed(s.handleDocRead))
	mux.Handle("PATCH "+b+"/DocumentReference/{id}", s.authed(s.handleDocPatch))
	mux.Handle("DELETE "+b+"/DocumentReference/{id}", s.authed(s.handleDocDelete))
	mux.Handle("GET "+b+"/List", s.authed(s.handleListSearch))
	mux.Handle("GET "+b+"/Binary/{id}", s.authed(s.handleBinary))
	mux.Handle("POST "+b, s.authed(s.handleTransaction))
	mux.Handle("POST "+b+"/{$}", s.authed(s.handleTransaction))
	mux.Handle("GET "+b+"/AuditEvent", s.authed(s.handleAuditSearch))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeOutcome(w, http.StatusNotFound, fhir.NewOutcome("not-supported", "no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	return s.withFaults(mux)
}

// recordOf returns the record of the patient whose INS token is tok,
// creating and generating it on first access; nil when the INS is unknown.
// Callers hold s.data.mu.
func (s *Server) recordOf(tok fhir.Token) *record {
	key := tok.String()
	if rec := s.data.records[key]; rec != nil {
		return rec
	}
	i, ok := s.byINS[key]
	if !ok {
		return nil
	}
	return s.recordAt(i)
}

// recordAt returns the synthetic patient i's record. Callers hold s.data.mu.
func (s *Server) recordAt(i int) *record {
	if rec := s.data.byIndex[i]; rec != nil {
		return rec
	}
	rec := newRecord(i, s.pop[i], s.opt.Epoch)
	s.data.byIndex[i] = rec
	s.data.records[fhir.INSToken(rec.Patient.INS).String()] = rec
	s.data.generate(s.opt.Seed, rec, s.opt.Epoch)
	return rec
}

// recordByPatientID returns the record of a Patient resource id ("p0001").
// Callers hold s.data.mu.
func (s *Server) recordByPatientID(id string) *record {
	for _, rec := range s.data.records {
		if string(rec.Patient.ID) == id {
			return rec
		}
	}
	var n int
	if _, err := fmt.Sscanf(id, "p%d", &n); err == nil && n >= 1 && n <= len(s.pop) && string(s.pop[n-1].ID) == id {
		return s.recordAt(n - 1)
	}
	return nil
}

// docByID finds a DocumentReference by id, generating its patient's
// documents if needed. Callers hold s.data.mu.
func (s *Server) docByID(id string, binary bool) *doc {
	m := s.data.docs
	if binary {
		m = s.data.binaries
	}
	if d := m[id]; d != nil {
		return d
	}
	if pid, _, ok := strings.Cut(id, "-"); ok {
		if rec := s.recordByPatientID(pid); rec != nil {
			return m[id]
		}
	}
	return nil
}

// Patient returns the record status the sandbox holds for a synthetic
// patient (for tests): whether the record exists, is closed, and whether
// rpps is authorised, blocked or médecin traitant.
func (s *Server) Patient(ins app.INS, rpps string) (exists, closed, authorised, blocked, treating bool) {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	rec := s.recordOf(fhir.INSToken(ins))
	if rec == nil {
		return
	}
	return rec.Exists, rec.Closed, s.authorised(rec, rpps), rec.Blocked[rpps], rec.Treating == rpps
}

// FindPatient returns the first synthetic patient that satisfies pred
// (evaluated with the record rules above), for tests.
func (s *Server) FindPatient(pred func(p app.Patient, exists, closed bool, authz map[string]bool, blocked map[string]bool) bool) (app.Patient, bool) {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	for i, p := range s.pop {
		rec := s.data.byIndex[i]
		if rec == nil {
			rec = newRecord(i, p, s.opt.Epoch) // rules only: no generation
		}
		az := map[string]bool{}
		for _, pr := range Practitioners() {
			az[pr.Key] = s.authorised(rec, pr.RPPS)
		}
		bl := map[string]bool{}
		for _, pr := range Practitioners() {
			bl[pr.Key] = rec.Blocked[pr.RPPS]
		}
		if pred(p, rec.Exists, rec.Closed, az, bl) {
			return p, true
		}
	}
	return app.Patient{}, false
}

func (s *Server) now() time.Time { return s.opt.Now().UTC() }

// writeJSON writes a FHIR JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	writeBody(w, status, b)
}

// writeBody writes b, FHIR JSON, with status.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", fhir.MediaFHIRJSON+"; charset=utf-8")
	w.Header().Set("Content-Length", itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// mustJSON is json.Marshal for the package's own resources, which always
// marshal (as fhir.MustWrap).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// writeOutcome writes an OperationOutcome with status.
func writeOutcome(w http.ResponseWriter, status int, o *fhir.OperationOutcome) {
	writeJSON(w, status, o)
}

// denialStatus is the HTTP status of a denial reason.
func denialStatus(r app.DenialReason) int {
	switch r {
	case app.DeniedNoRecord:
		return http.StatusNotFound
	}
	return http.StatusForbidden
}

// deny writes the OperationOutcome of a denial.
func deny(w http.ResponseWriter, r app.DenialReason, msg string) {
	writeOutcome(w, denialStatus(r), fhir.DenialOutcome(r, msg))
}

// baseURL returns the absolute base URL of the request's server.
func (s *Server) baseURL(r *http.Request) string {
	return "https://" + r.Host + s.opt.BasePath
}
