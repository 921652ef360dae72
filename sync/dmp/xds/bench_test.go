package xds

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
)

// benchEnv is a sandbox with one fixed patient of n documents of size bytes.
func benchEnv(b *testing.B, n, size int) (*env, app.INS, []app.RemoteDocument, int64) {
	b.Helper()
	e := newEnvB(b, dmptest.KeyGP)
	p, err := e.sb.AddPatient(dmptest.FixedPatient{Docs: n, Size: size, Author: e.key})
	if err != nil {
		b.Fatal(err)
	}
	var docs []app.RemoteDocument
	if err := e.client.ListDocuments(context.Background(), e.acc, p.INS, app.DocumentQuery{}, func(d []app.RemoteDocument) error {
		docs = append(docs, d...)
		return nil
	}); err != nil || len(docs) == 0 {
		b.Fatalf("%d documents, %v", len(docs), err)
	}
	var total int64
	for _, d := range docs {
		total += d.Meta.Size
	}
	return e, p.INS, docs, total
}

// newEnvB is newEnv without the recorder (benchmarks measure the client).
func newEnvB(b *testing.B, key string) *env {
	sb := dmptest.NewTLSBoth(b, dmptest.Options{Seed: 11, Patients: 10})
	cred := sb.PKI.Credentials[key]
	c, err := New(Config{BaseURL: sb.XDSURL, HTTP: sb.Client(key), Signer: &VIHFSigner{Signer: cred.Signer, Cert: cred.Leaf},
		Sector: "SA07", SourceOID: "1.2.250.1.999.1.1", Software: Software{Name: "Carnet", Version: "0.9", Homologation: "CAR-2026-tmp1"}})
	if err != nil {
		b.Fatal(err)
	}
	return &env{key: key, sb: sb, client: c, acc: app.Access{Practitioner: cred.Practitioner.Practitioner, Mode: app.AccessNormal}}
}

// BenchmarkRetrieve: ITI-43 through the client (/xds: envelope, reused VIHF,
// MTOM streamed, size and SHA-1 checked) against /raw, the same request
// bytes posted and the response read whole with no processing. /xds and
// /raw share one sandbox, patient and HTTP/2 connection setup; /xds also
// runs a /raw pass after each of its own (timer stopped) and reports the
// ratio of the two (x-raw), measured in alternation so that both see the
// same load of the machine. /xds-20MB shows that B/op stays ≈ one copy of
// the document (streamed, not twice).
func BenchmarkRetrieve(b *testing.B) {
	shared := newRetrieveBench(b) // the parent's: it outlives both sub-benchmarks
	b.Run("xds", func(b *testing.B) {
		rb := shared
		ctx := context.Background()
		b.SetBytes(rb.total)
		var took, rawTook time.Duration
		for b.Loop() {
			start := time.Now()
			for _, d := range rb.docs {
				if got, err := rb.e.client.Retrieve(ctx, rb.e.acc, rb.ins, d); err != nil || int64(len(got)) != d.Meta.Size {
					b.Fatalf("%d bytes, %v", len(got), err)
				}
			}
			took += time.Since(start)
			b.StopTimer()
			rawTook += rb.raw(b)
			b.StartTimer()
		}
		b.ReportMetric(took.Seconds()/rawTook.Seconds(), "x-raw")
	})
	b.Run("raw", func(b *testing.B) {
		rb := shared
		b.SetBytes(rb.total)
		for b.Loop() {
			rb.raw(b)
		}
	})
	b.Run("xds-20MB", func(b *testing.B) {
		e, ins, docs, total := benchEnv(b, 1, 20<<20)
		ctx := context.Background()
		b.SetBytes(total)
		for b.Loop() {
			if got, err := e.client.Retrieve(ctx, e.acc, ins, docs[0]); err != nil || int64(len(got)) != docs[0].Meta.Size {
				b.Fatalf("%d bytes, %v", len(got), err)
			}
		}
	})
}

// retrieveBench is the sandbox of BenchmarkRetrieve: one patient of 100
// documents of 20 kB, and the ITI-43 requests of /raw, written once with
// the client's own VIHF.
type retrieveBench struct {
	e     *env
	ins   app.INS
	docs  []app.RemoteDocument
	total int64
	hc    *http.Client
	reqs  [][]byte
}

func newRetrieveBench(b *testing.B) *retrieveBench {
	e, ins, docs, total := benchEnv(b, 100, 20000)
	rb := &retrieveBench{e: e, ins: ins, docs: docs, total: total, hc: e.sb.Client(e.key)}
	b.Cleanup(rb.hc.CloseIdleConnections)
	vr := VIHFRequest{Access: e.acc, INS: &ins, Mode: AuthIndirect, Sector: "SA07", Software: e.client.cfg.Software}
	assertion, err := e.client.vihf.Get(vr)
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range docs {
		var buf bytes.Buffer
		_ = writeEnvelope(&buf, Header{MessageID: NewMessageID(), To: e.sb.XDSURL + ServiceRepository, Action: ActionRetrieve, Security: assertion},
			func(w *bytes.Buffer) { writeRetrieve(w, d.URL, string(d.Meta.ID)) })
		rb.reqs = append(rb.reqs, buf.Bytes())
	}
	return rb
}

// raw posts every request once, reads each response whole with no
// processing, and returns how long it took.
func (rb *retrieveBench) raw(b *testing.B) time.Duration {
	start := time.Now()
	for _, r := range rb.reqs {
		resp, err := rb.hc.Post(rb.e.sb.XDSURL+ServiceRepository, "application/soap+xml", bytes.NewReader(r))
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || n < 20000 {
			b.Fatalf("%d: %d bytes %v", resp.StatusCode, n, err)
		}
	}
	return time.Since(start)
}

// BenchmarkSignaturesPerSync: a sync of 20 patients (find, list, retrieve
// each document) counts its VIHF signatures: at most one per patient context.
func BenchmarkSignaturesPerSync(b *testing.B) {
	e := newEnvB(b, dmptest.KeyGP)
	var pats []app.INS
	for i := 0; i < 20; i++ {
		p, err := e.sb.AddPatient(dmptest.FixedPatient{Docs: 5, Author: e.key})
		if err != nil {
			b.Fatal(err)
		}
		pats = append(pats, p.INS)
	}
	ctx := context.Background()
	syncs := 0
	start := e.client.Signatures()
	for b.Loop() {
		// A fresh client per sync: a new session, new contexts.
		c, _ := New(e.client.cfg)
		for _, ins := range pats {
			if _, err := c.FindPatient(ctx, e.acc, ins); err != nil {
				b.Fatal(err)
			}
			err := c.ListDocuments(ctx, e.acc, ins, app.DocumentQuery{}, func(docs []app.RemoteDocument) error {
				for _, d := range docs {
					if _, err := c.Retrieve(ctx, e.acc, ins, d); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		syncs++
	}
	per := float64(e.client.Signatures()-start) / float64(syncs)
	b.ReportMetric(per, "signatures/sync")
	if per > float64(len(pats)) {
		b.Fatalf("%.1f signatures per sync of %d patients", per, len(pats))
	}
}
