package engine_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

const (
	benchPatients = 200
	benchDocs     = 30
	benchSize     = 8000 // bytes per document, about
	benchThrottle = 100_000_000 / 8
)

// benchSandbox starts a sandbox with 200 fixed patients × 30 documents.
func benchSandbox(b *testing.B, throttle int64) (*dmptest.Sandbox, []app.Patient) {
	b.Helper()
	fixed := make([]dmptest.FixedPatient, benchPatients)
	for i := range fixed {
		fixed[i] = dmptest.FixedPatient{Docs: benchDocs, Size: benchSize}
	}
	sb := dmptest.NewTLS(b, dmptest.Options{Patients: 1, Seed: 41, Throttle: throttle, Fixed: fixed})
	return sb, sb.Fixed()
}

// BenchmarkSyncInitial: the engine's full sync of 200 patients × 30
// documents into a fresh real vault (/carnet), against a plain concurrent
// download of the same document bytes from the same sandbox (/raw), in the
// same run, and the same sync over the DMP's production protocol (/xds);
// unthrottled and with the sandbox throttled to 100 Mbit/s. MB/s are
// document bytes.
//
// Both talk to the same sandbox with Go's http.Transport, which asks for
// gzip by itself: the sandbox gzips its FHIR JSON answers (the listings,
// patient searches, OperationOutcomes) and serves document content
// (GET Binary/{id} with the document's media type) as stored, to Carnet and
// to raw alike (dmptest/gzip.go). The throttle paces the bytes on the wire,
// compressed or not. /raw lists the documents before its timer and only
// times the downloads; /carnet times its whole cycle (lookups, listings,
// downloads, verification, encryption, commits).
func BenchmarkSyncInitial(b *testing.B) {
	for _, tc := range []struct {
		name     string
		throttle int64
	}{{"", 0}, {"-100Mbit", benchThrottle}} {
		b.Run("carnet"+tc.name, func(b *testing.B) {
			sb, ps := benchSandbox(b, tc.throttle)
			rs, pr := client(b, sb, dmptest.KeyAnesthetist)
			raw := newRawDownload(b, sb, ps)
			var total, wire int64
			var took, rawTook time.Duration
			runs := 0
			for b.Loop() {
				b.StopTimer()
				v, _ := newVault(b, nil)
				watch(b, v, time.Now(), ps...)
				eng := newEngine(b, v, rs, pr, nil)
				wire0 := sb.ThrottledBytes()
				start := time.Now()
				b.StartTimer()
				sum, err := eng.Once(ctx)
				if err != nil || sum.Retrieved != benchPatients*benchDocs {
					b.Fatalf("%v: %d documents", err, sum.Retrieved)
				}
				total = sum.Bytes
				b.StopTimer()
				took += time.Since(start)
				wire += sb.ThrottledBytes() - wire0
				runs++
				v.Close()
				rawTook += raw.run(b) // the same bytes, same sandbox, right after
				b.StartTimer()
			}
			b.SetBytes(total)
			reportWire(b, tc.throttle, wire, runs)
			b.ReportMetric(took.Seconds()/rawTook.Seconds(), "x-raw")
		})
		b.Run("raw"+tc.name, func(b *testing.B) {
			sb, ps := benchSandbox(b, tc.throttle)
			raw := newRawDownload(b, sb, ps)
			b.SetBytes(raw.total)
			var wire int64
			runs := 0
			for b.Loop() {
				wire0 := sb.ThrottledBytes()
				raw.run(b)
				wire += sb.ThrottledBytes() - wire0
				runs++
			}
			reportWire(b, tc.throttle, wire, runs)
		})
		// The same sync over XDS.b/SOAP (bench_xds_test.go).
		b.Run("xds"+tc.name, func(b *testing.B) { benchSyncInitialXDS(b, tc.throttle) })
	}
}

// rawDownload is /raw: the plain concurrent download (8 at a time, as
// the engine's fetchers) of the documents of the sandbox's fixed patients,
// listed beforehand, each GET signed with the access assertion the sandbox
// requires, each body read and discarded.
type rawDownload struct {
	jobs   []rawJob
	total  int64
	hc     *http.Client
	signer *rawSigner
}

type rawJob struct {
	ins app.INS
	url string
}

// newRawDownload lists the documents of ps (not timed).
func newRawDownload(b *testing.B, sb *dmptest.Sandbox, ps []app.Patient) *rawDownload {
	b.Helper()
	rs, pr := client(b, sb, dmptest.KeyAnesthetist)
	acc := app.Access{Practitioner: pr, Mode: app.AccessNormal}
	r := &rawDownload{hc: sb.Client(dmptest.KeyAnesthetist), signer: newRawSigner(b, sb, pr)}
	b.Cleanup(r.hc.CloseIdleConnections)
	for _, p := range ps {
		err := rs.ListDocuments(ctx, acc, p.INS, app.DocumentQuery{PageSize: 100}, func(d []app.RemoteDocument) error {
			for _, x := range d {
				r.jobs = append(r.jobs, rawJob{p.INS, sb.URL + "/" + x.URL})
				r.total += x.Meta.Size
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return r
}

// run downloads every document once and returns how long it took.
func (r *rawDownload) run(b *testing.B) time.Duration {
	start := time.Now()
	ch := make(chan rawJob)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
				r.signer.sign(req, j.ins)
				resp, err := r.hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	for _, j := range r.jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	return time.Since(start)
}

// reportWire reports the response bytes the throttle paced per run
// (wire-MB), when there is a throttle: what each protocol puts on the link.
func reportWire(b *testing.B, throttle, wire int64, runs int) {
	if throttle > 0 && runs > 0 {
		b.ReportMetric(float64(wire)/float64(runs)/1e6, "wire-MB")
	}
}

// BenchmarkSyncIdle: a sync when nothing changed (200 watched patients);
// requests per watched patient (goal ≤ 2).
func BenchmarkSyncIdle(b *testing.B) {
	sb, ps := benchSandbox(b, 0)
	rs, pr := client(b, sb, dmptest.KeyAnesthetist)
	cs := counting(rs)
	v, _ := newVault(b, nil)
	watch(b, v, time.Now(), ps...)
	eng := newEngine(b, v, cs, pr, nil)
	if _, err := eng.Once(ctx); err != nil {
		b.Fatal(err)
	}
	c0, _, _, _ := cs.stats()
	n := 0
	for b.Loop() {
		sum, err := eng.Once(ctx)
		if err != nil || sum.Retrieved != 0 || sum.Patients != len(ps) {
			b.Fatalf("%v %+v", err, sum)
		}
		n++
	}
	c1, _, _, _ := cs.stats()
	b.ReportMetric(float64(c1-c0)/float64(n)/float64(len(ps)), "requests/patient")
}

// rawSigner signs the access assertion the sandbox requires on every
// request, with golang-jwt and no verification of anything: the "plain
// download" baseline.
type rawSigner struct {
	pr     app.Practitioner
	key    crypto.PrivateKey
	method jwt.SigningMethod
	aud    string // the sandbox's base URL: the assertion's audience
}

type rawClaims struct {
	jwt.RegisteredClaims
	fhir.Assertion
}

func newRawSigner(b *testing.B, sb *dmptest.Sandbox, pr app.Practitioner) *rawSigner {
	cred := sb.PKI.Credentials[dmptest.KeyAnesthetist]
	s := &rawSigner{pr: pr, key: cred.Signer, aud: sb.URL}
	switch cred.Signer.(type) {
	case *rsa.PrivateKey:
		s.method = jwt.SigningMethodRS256
	case *ecdsa.PrivateKey:
		s.method = jwt.SigningMethodES256
	default:
		b.Fatalf("key type %T", cred.Signer)
	}
	return s
}

func (s *rawSigner) sign(req *http.Request, ins app.INS) {
	now := time.Now()
	var id [16]byte
	_, _ = rand.Read(id[:])
	tok, _ := jwt.NewWithClaims(s.method, rawClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: s.pr.RPPS, IssuedAt: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(2 * time.Minute)), ID: hex.EncodeToString(id[:]), Audience: jwt.ClaimStrings{s.aud}},
		Assertion: fhir.Assertion{RPPS: s.pr.RPPS, Structure: s.pr.Structure.ID, Profession: s.pr.Profession.Code,
			PatientINS: fhir.INSToken(ins).String(), Mode: fhir.ModeNormal, Software: "raw", SoftwareVersion: "0"},
	}).SignedString(s.key)
	req.Header.Set(fhir.AssertionHeader, tok)
}
