package engine_test

import (
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/engine"
)

const (
	latencyRTT      = 3 * time.Second
	latencyPatients = 20
	latencyDocs     = 30
	latencySize     = 5000 // bytes per document, about (the 1.2 MiB for 245)
)

// latencyRig is a sandbox of 20 patients × 30 documents behind a loopback
// proxy adding 3 s of round trip (1.5 s each way), TLS end to end.
type latencyRig struct {
	sb    *dmptest.Sandbox
	proxy *dmptest.LatencyProxy
	base  string // the FHIR base URL through the proxy
	ps    []app.Patient
}

func newLatencyRig(b *testing.B) *latencyRig {
	b.Helper()
	fixed := make([]dmptest.FixedPatient, latencyPatients)
	for i := range fixed {
		fixed[i] = dmptest.FixedPatient{Docs: latencyDocs, Size: latencySize}
	}
	sb := dmptest.NewTLS(b, dmptest.Options{Patients: 1, Seed: 16, Fixed: fixed})
	u, err := url.Parse(sb.URL)
	if err != nil {
		b.Fatal(err)
	}
	proxy, err := dmptest.StartLatencyProxy(u.Host, latencyRTT)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { proxy.Close() })
	u.Host = proxy.Addr
	return &latencyRig{sb: sb, proxy: proxy, base: u.String(), ps: sb.Fixed()}
}

// client is a new client through the proxy: its connections are cold.
func (r *latencyRig) client(b *testing.B) (*dmp.Client, app.Practitioner) {
	b.Helper()
	cr := r.sb.PKI.Credentials[dmptest.KeyAnesthetist]
	c, err := dmp.New(dmp.Config{BaseURL: r.base, Certificate: cr.TLS, Signer: cr.Signer, RootCAs: r.sb.PKI.Pool(),
		SoftwareName: "Carnet", SoftwareVersion: "bench", Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c, cr.Practitioner.Practitioner
}

// raw downloads every document of the rig through the proxy with a plain
// HTTP client on cold connections, MaxFetchers at a time (the engine's
// bound), the listing done beforehand off the clock: the lower bound of
// moving the same bytes over the same link.
func (r *latencyRig) raw(b *testing.B) (time.Duration, int64) {
	b.Helper()
	direct, pr := client(b, r.sb, dmptest.KeyAnesthetist)
	acc := app.Access{Practitioner: pr, Mode: app.AccessNormal}
	type job struct {
		ins app.INS
		url string
	}
	var jobs []job
	for _, p := range r.ps {
		err := direct.ListDocuments(ctx, acc, p.INS, app.DocumentQuery{PageSize: 100}, func(d []app.RemoteDocument) error {
			for _, x := range d {
				jobs = append(jobs, job{p.INS, r.base + "/" + x.URL})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	signer := newRawSigner(b, r.sb, pr)
	signer.aud = r.base
	hc := r.sb.Client(dmptest.KeyAnesthetist)
	defer hc.CloseIdleConnections()
	var total atomic.Int64
	start := time.Now()
	ch := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < engine.MaxFetchers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
				signer.sign(req, j.ins)
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				total.Add(n)
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	if len(jobs) != latencyPatients*latencyDocs {
		b.Fatalf("raw: %d documents", len(jobs))
	}
	return time.Since(start), total.Load()
}

// BenchmarkSyncLatency: the operating list of 20 patients × 30 documents
// through a proxy adding 3 s of round trip (TLS end to end).
//
// /3s: the first sync of the list into a fresh real vault, on cold
// connections, beside a plain concurrent download of the same documents
// through the same proxy (raw-s, measured once; x-raw is the ratio, goal
// ≤ 1.5); rtts is the sync's time in round trips: the round trips on its
// critical path (a TCP and a TLS handshake, the lookup, the listing, the
// downloads in waves of up to MaxFetchers).
//
// /idle-3s: a sync when nothing changed, connections warm; rtts goal ≤ 4
// whatever the number of patients.
func BenchmarkSyncLatency(b *testing.B) {
	b.Run("3s", func(b *testing.B) {
		r := newLatencyRig(b)
		rawD, rawBytes := r.raw(b)
		var total time.Duration
		n := 0
		for b.Loop() {
			b.StopTimer()
			v, _ := newVault(b, nil)
			watch(b, v, time.Now(), r.ps...)
			rs, pr := r.client(b)
			eng := newEngine(b, v, rs, pr, nil, func(c *engine.Config) { c.Sleep = nil })
			b.StartTimer()
			start := time.Now()
			sum, err := eng.Once(ctx)
			d := time.Since(start)
			if err != nil || sum.Retrieved != latencyPatients*latencyDocs {
				b.Fatalf("%v: %d documents %+v", err, sum.Retrieved, sum.Failures)
			}
			total += d
			n++
			b.StopTimer()
			rs.Close()
			v.Close()
			b.StartTimer()
		}
		mean := total / time.Duration(n)
		b.SetBytes(rawBytes)
		b.ReportMetric(rawD.Seconds(), "raw-s")
		b.ReportMetric(mean.Seconds()/rawD.Seconds(), "x-raw")
		b.ReportMetric(mean.Seconds()/latencyRTT.Seconds(), "rtts")
	})
	b.Run("idle-3s", func(b *testing.B) {
		r := newLatencyRig(b)
		v, _ := newVault(b, nil)
		watch(b, v, time.Now(), r.ps...)
		direct, pr := client(b, r.sb, dmptest.KeyAnesthetist)
		slow, _ := r.client(b)
		cs := counting(slow)
		var cur atomic.Pointer[app.RecordService]
		var first app.RecordService = direct
		cur.Store(&first)
		eng, err := engine.New(engine.Config{Store: v, Logger: testLogger(),
			Records: func() (app.RecordService, app.Practitioner, bool) { return *cur.Load(), pr, true }})
		if err != nil {
			b.Fatal(err)
		}
		if sum, err := eng.Once(ctx); err != nil || sum.Retrieved != latencyPatients*latencyDocs {
			b.Fatalf("first sync (direct): %v %d", err, sum.Retrieved)
		}
		var through app.RecordService = cs
		cur.Store(&through)
		if _, err := eng.Once(ctx); err != nil { // warms the connection through the proxy
			b.Fatal(err)
		}
		c0, _, _, _ := cs.stats()
		var total time.Duration
		n := 0
		for b.Loop() {
			start := time.Now()
			sum, err := eng.Once(ctx)
			total += time.Since(start)
			n++
			if err != nil || sum.Retrieved != 0 || sum.Patients != latencyPatients {
				b.Fatalf("%v %+v", err, sum)
			}
		}
		c1, _, _, _ := cs.stats()
		b.ReportMetric((total/time.Duration(n)).Seconds()/latencyRTT.Seconds(), "rtts")
		b.ReportMetric(float64(c1-c0)/float64(n), "requests/cycle")
	})
}
