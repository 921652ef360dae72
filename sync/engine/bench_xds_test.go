package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/dmptest"
	"github.com/carnetdesk/carnet/sync/dmp/xds"
)

// xdsClient is the XDS.b/SOAP client of the sandbox's SOAP side.
func xdsClient(t testing.TB, sb *dmptest.Sandbox, key string) (*xds.Client, app.Practitioner) {
	t.Helper()
	cr := sb.PKI.Credentials[key]
	c, err := xds.New(xds.Config{BaseURL: strings.TrimSuffix(sb.URL, sb.BasePath()) + dmptest.XDSBasePath,
		HTTP: sb.Client(key), Signer: &xds.VIHFSigner{Signer: cr.Signer, Cert: cr.Leaf}, SourceOID: "1.2.250.1.999.1.1",
		Software: xds.Software{Name: "Carnet", Version: "test", Homologation: "CAR-2026-tmp1"}})
	if err != nil {
		t.Fatal(err)
	}
	return c, cr.Practitioner.Practitioner
}

// benchSyncInitialXDS is BenchmarkSyncInitial/xds(-100Mbit):
// BenchmarkSyncInitial/carnet over the DMP's production protocol (XDS.b,
// MTOM, VIHF), the engine's full sync of 200 patients × 30 documents into a
// fresh vault with the sandbox throttled to throttle bytes/s (0: not).
// Compare with BenchmarkSyncInitial/raw(-100Mbit), the plain concurrent
// download of the same bytes from the same sandbox in the same run; x-raw
// is that ratio measured in alternation (each sync followed by a raw
// download from the same sandbox, so that both see the same load), wire-MB
// the bytes the throttle paced per sync. It also reports the VIHF
// signatures per patient (goal ≤ 1).
func benchSyncInitialXDS(b *testing.B, throttle int64) {
	sb, ps := benchSandbox(b, throttle)
	raw := newRawDownload(b, sb, ps)
	var total, signatures, wire int64
	var took, rawTook time.Duration
	syncs := 0
	for b.Loop() {
		b.StopTimer()
		rs, pr := xdsClient(b, sb, dmptest.KeyAnesthetist) // a new session: new VIHF contexts
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
		syncs++
		b.StopTimer()
		took += time.Since(start)
		signatures += rs.Signatures()
		wire += sb.ThrottledBytes() - wire0
		v.Close()
		rawTook += raw.run(b) // the same bytes, same sandbox, right after
		b.StartTimer()
	}
	b.SetBytes(total)
	b.ReportMetric(float64(signatures)/float64(syncs*benchPatients), "signatures/patient")
	reportWire(b, throttle, wire, syncs)
	b.ReportMetric(took.Seconds()/rawTook.Seconds(), "x-raw")
}
