package dmptest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Options configure a sandbox Server.
type Options struct {
	Seed     uint64           // population and fault seed
	Patients int              // size of the synthetic population (Patients(Seed, n)); 0: 50
	Epoch    time.Time        // "now" of the synthetic history; zero: today 00:00 UTC
	Now      func() time.Time // the server's clock; nil: time.Now
	BasePath string           // path of the FHIR base; "": "/fhir"
	Faults   Faults           // injected faults; zero: none
	Throttle int64            // response bandwidth limit in bytes/s, shared by all responses; 0: none
	// RateLimit caps the requests per second, shared by all callers
	// (burst RateBurst, default RateLimit): over it, 429 with Retry-After
	// in whole seconds. 0: no limit. See LimitStats.
	RateLimit float64
	RateBurst float64
	DataDir   string // persist records in DataDir/sandbox.db (bbolt); "": in memory
	// NoCompression turns off gzip of FHIR JSON answers (see gzip.go);
	// document content is never compressed.
	NoCompression bool
	// Fixed adds patients with a fixed number of documents (for
	// benchmarks and paging tests), after the synthetic population.
	Fixed []FixedPatient
}

// FixedPatient is a patient with Docs consultation notes, all submitted at
// the same instant (paging must stay stable over equal timestamps),
// authored by the practitioner whose key is Author (default: generaliste),
// who is authorised and médecin traitant.
type FixedPatient struct {
	Docs   int
	Author string
	Size   int // approximate size of each document in bytes (padded narrative); 0: natural
}

func (o Options) withDefaults() Options {
	if o.Patients <= 0 {
		o.Patients = 50
	}
	if o.Epoch.IsZero() {
		o.Epoch = time.Now().UTC().Truncate(24 * time.Hour)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BasePath == "" {
		o.BasePath = "/fhir"
	}
	o.BasePath = "/" + strings.Trim(o.BasePath, "/")
	return o
}

// Fault is a kind of injected fault.
type Fault string

// The fault kinds.
const (
	Fault5xx      Fault = "5xx"      // 503 with an OperationOutcome
	Fault429      Fault = "429"      // 429 with Retry-After: 1
	FaultReset    Fault = "reset"    // connection closed before any response
	FaultTruncate Fault = "truncate" // full Content-Length announced, half the body sent, connection closed
	FaultBadHash  Fault = "badhash"  // Binary content served with one byte altered
	FaultDropPost Fault = "droppost" // POST/PATCH/DELETE committed, then the connection closed
)

// Faults are the probabilities of each fault per request, and a latency
// added to every response. Draws are deterministic: they depend on the
// seed, the request (method and URI) and how many times that request was
// seen.
type Faults struct {
	Rate    map[Fault]float64
	Latency time.Duration
}

// ParseFaults reads a spec like
// "5xx=0.1,429=0.05,reset=0.05,truncate=0.02,badhash=0.02,droppost=0.05,latency=20ms".
func ParseFaults(spec string) (Faults, error) {
	f := Faults{Rate: map[Fault]float64{}}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return Faults{}, fmt.Errorf("dmptest: fault %q: want kind=value", part)
		}
		if k == "latency" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return Faults{}, fmt.Errorf("dmptest: latency %q: want a duration like 20ms", v)
			}
			f.Latency = d
			continue
		}
		switch Fault(k) {
		case Fault5xx, Fault429, FaultReset, FaultTruncate, FaultBadHash, FaultDropPost:
		default:
			return Faults{}, fmt.Errorf("dmptest: unknown fault %q", k)
		}
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || p < 0 || p > 1 {
			return Faults{}, fmt.Errorf("dmptest: fault %s: probability %q not in [0,1]", k, v)
		}
		f.Rate[Fault(k)] = p
	}
	sum := 0.0
	for _, p := range f.Rate {
		sum += p
	}
	if sum > 1 {
		return Faults{}, fmt.Errorf("dmptest: fault probabilities add up to %.2f > 1", sum)
	}
	return f, nil
}

// ParseBandwidth reads a bandwidth like "100Mbit", "10MB", "512kbit", "2000"
// (bytes/s) and returns bytes per second. Units: bit, kbit, Mbit, Gbit
// (decimal, bits) and B, kB, MB, GB (decimal, bytes).
func ParseBandwidth(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("dmptest: bandwidth %q: want a number and a unit like 100Mbit", s)
	}
	unit := strings.TrimSuffix(strings.TrimSpace(s[i:]), "/s")
	mult := map[string]float64{"": 1, "B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9,
		"bit": 1.0 / 8, "kbit": 1e3 / 8, "Kbit": 1e3 / 8, "Mbit": 1e6 / 8, "Gbit": 1e9 / 8}
	m, ok := mult[unit]
	if !ok {
		return 0, fmt.Errorf("dmptest: bandwidth %q: unknown unit %q", s, unit)
	}
	return int64(v * m), nil
}
