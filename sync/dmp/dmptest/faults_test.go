package dmptest

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/sync/dmp/fhir"
)

func TestParseFaultsAndBandwidth(t *testing.T) {
	f, err := ParseFaults("5xx=0.1,429=0.05,reset=0.05,truncate=0.02,badhash=0.02,droppost=0.05,latency=20ms")
	if err != nil || f.Rate[Fault5xx] != 0.1 || f.Latency != 20*time.Millisecond || len(f.Rate) != 6 {
		t.Fatalf("%+v %v", f, err)
	}
	for _, bad := range []string{"5xx", "boom=0.1", "5xx=2", "latency=fast", "5xx=0.6,429=0.6"} {
		if _, err := ParseFaults(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for in, want := range map[string]int64{"100Mbit": 12_500_000, "10MB": 10_000_000, "512kbit": 64_000, "2000": 2000} {
		if got, err := ParseBandwidth(in); err != nil || got != want {
			t.Errorf("%s: %d %v", in, got, err)
		}
	}
	if _, err := ParseBandwidth("fast"); err == nil {
		t.Error("bad bandwidth accepted")
	}
}

func TestFaultsObservable(t *testing.T) {
	sb := start(t, Options{Patients: 2, Fixed: []FixedPatient{{Docs: 5}}})
	p := sb.fixed(t, 0)
	gp := sb.as(t, KeyGP)
	docs := gp.searchAll(docsPath(p.INS), p.INS)
	bin := "/" + docs[0].Content[0].Attachment.URL

	sb.FailNext(Fault5xx, 1)
	if st := gp.get(docsPath(p.INS), p.INS, nil); st != http.StatusServiceUnavailable {
		t.Errorf("5xx: %d", st)
	}
	sb.FailNext(Fault429, 1)
	r := gp.do("GET", docsPath(p.INS), p.INS, nil)
	r.Body.Close()
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("429: %d %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	sb.FailNext(FaultReset, 1)
	if _, err := rawDo(gp, "GET", docsPath(p.INS), p.INS, nil); err == nil {
		t.Error("reset: no error")
	}
	sb.FailNext(FaultTruncate, 1)
	if resp, err := rawDo(gp, "GET", bin, p.INS, nil); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Error("truncate: body read fully")
		}
	}
	sb.FailNext(FaultBadHash, 1)
	r = gp.do("GET", bin, p.INS, nil)
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	sum := sha1.Sum(body)
	if r.StatusCode != 200 || base64.StdEncoding.EncodeToString(sum[:]) == docs[0].Content[0].Attachment.Hash || int64(len(body)) != *docs[0].Content[0].Attachment.Size {
		t.Error("badhash: content not altered (or size changed)")
	}
	sb.FailNext(FaultBadHash, 1)
	var b fhir.Binary
	r = gp.do("GET", bin, p.INS, nil, "Accept", fhir.MediaFHIRJSON)
	if err := fhir.DecodeBounded(r.Body, 1<<20, &b); err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	sum = sha1.Sum(b.Data)
	if base64.StdEncoding.EncodeToString(sum[:]) == docs[0].Content[0].Attachment.Hash {
		t.Error("badhash on fhir+json: not altered")
	}
	// droppost: committed, but the answer is lost
	sb.FailNext(FaultDropPost, 1)
	uid := "1.2.250.1.999.8.1"
	if _, err := rawDo(gp, "POST", "", p.INS, provideBundle(p, uid, testCDA(p, uid), "", app.Visibility{})); err == nil {
		t.Error("droppost: got an answer")
	}
	if n := len(gp.searchAll(docsPath(p.INS, "identifier", "urn:oid:"+uid), p.INS)); n != 1 {
		t.Errorf("droppost: committed %d documents, want 1", n)
	}
	// latency
	sbl := start(t, Options{Patients: 1, Faults: Faults{Latency: 60 * time.Millisecond}})
	t0 := time.Now()
	resp, err := sbl.as(t, KeyGP).cl.Get(sbl.URL + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if time.Since(t0) < 60*time.Millisecond {
		t.Error("latency not applied")
	}
}

// rawDo is do without failing the test on transport errors.
func rawDo(a *actor, method, path string, ins app.INS, body []byte) (*http.Response, error) {
	req, _ := http.NewRequest(method, a.sb.URL+path, bytes.NewReader(body))
	req.Header.Set(fhir.AssertionHeader, a.assertion(ins))
	req.Header.Set("Content-Type", fhir.MediaFHIRJSON)
	return a.cl.Do(req)
}

// TestFaultDrawsDeterministic: the same seed gives the same faults for the
// same sequence of requests; rates are roughly honoured.
func TestFaultDrawsDeterministic(t *testing.T) {
	f, _ := ParseFaults("5xx=0.2,429=0.1,reset=0.1")
	seq := func(seed uint64) []Fault {
		fs := newFaultState(seed, f)
		var out []Fault
		for i := 0; i < 400; i++ {
			r, _ := http.NewRequest("GET", "https://x/fhir/DocumentReference?n="+itoa(i%40), nil)
			out = append(out, fs.draw(r))
		}
		return out
	}
	a, b, c := seq(1), seq(1), seq(2)
	n := 0
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different faults")
		}
		if a[i] != c[i] {
			same = false
		}
		if a[i] != "" {
			n++
		}
	}
	if same {
		t.Error("different seeds, same faults")
	}
	if n < 120-50 || n > 120+50 {
		t.Errorf("%d faults in 400 at 30%%", n)
	}
}

func TestThrottle(t *testing.T) {
	sb := start(t, Options{Patients: 1, Throttle: 200_000, Fixed: []FixedPatient{{Docs: 1, Size: 100_000}}})
	p := sb.fixed(t, 0)
	gp := sb.as(t, KeyGP)
	docs := gp.searchAll(docsPath(p.INS), p.INS)
	t0 := time.Now()
	r := gp.do("GET", "/"+docs[0].Content[0].Attachment.URL, p.INS, nil)
	n, _ := io.Copy(io.Discard, r.Body)
	r.Body.Close()
	if n < 90_000 {
		t.Fatalf("fixture too small: %d", n)
	}
	if el := time.Since(t0); el < 350*time.Millisecond {
		t.Errorf("100 kB at 200 kB/s in %s", el)
	}
	_ = errors.New
}
