package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

// rawSample is real `go test -run '^$' -bench . -benchmem -count 2` output
// (a throwaway package with the benchmark names of Carnet), plus a second
// package with a failing benchmark and a benchmark that logs a line.
const rawSample = `goos: linux
goarch: amd64
pkg: example.com/bs
cpu: AMD EPYC
BenchmarkVaultBulkWrite/plain-2         	   23030	      6612 ns/op	1548.80 MB/s	   10240 B/op	       1 allocs/op
BenchmarkVaultBulkWrite/plain-2         	    4683	      4717 ns/op	2170.69 MB/s	   10240 B/op	       1 allocs/op
BenchmarkVaultBulkWrite/sealed-2        	    4473	      5520 ns/op	1855.05 MB/s	       0 B/op	       0 allocs/op
BenchmarkVaultBulkWrite/sealed-2        	    4628	      5563 ns/op	1840.68 MB/s	       0 B/op	       0 allocs/op
BenchmarkRetrieve/raw-2                 	  325704	        78.51 ns/op	       0 B/op	       0 allocs/op
BenchmarkRetrieve/raw-2                 	  308396	        68.83 ns/op	       0 B/op	       0 allocs/op
BenchmarkRetrieve/carnet-2              	  349414	       103.4 ns/op	         3.000 requests/patient	       0 B/op	       0 allocs/op
BenchmarkRetrieve/carnet-2              	  336640	        94.07 ns/op	         3.000 requests/patient	       0 B/op	       0 allocs/op
PASS
ok  	example.com/bs	0.468s
goos: linux
goarch: amd64
pkg: example.com/other
cpu: AMD EPYC
BenchmarkUnlock-2   	       1	 712345678 ns/op	268500000 B/op	     120 allocs/op
BenchmarkUnlock-2   	       1	 698000000 ns/op	268500000 B/op	     120 allocs/op
BenchmarkUnlock-2   	       1	 705000000 ns/op	268500000 B/op	     120 allocs/op
BenchmarkDirectorySearch
    bench_test.go:12: built 10000 patients
BenchmarkDirectorySearch-2   	     100	   6100000 ns/op
BenchmarkPassphraseChange-2  	       1	 800000000 ns/op
--- FAIL: BenchmarkBroken
FAIL	example.com/other	3.2s
`

func TestParseLine(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		ok     bool
		bench  string
		iters  int64
		metric map[string]float64
	}{
		{"ns B allocs", "BenchmarkRetrieve/raw-2                 	  325704	        78.51 ns/op	       0 B/op	       0 allocs/op",
			true, "BenchmarkRetrieve/raw-2", 325704, map[string]float64{"ns/op": 78.51, "B/op": 0, "allocs/op": 0}},
		{"MB/s", "BenchmarkVaultBulkWrite/plain-2         	   23030	      6612 ns/op	1548.80 MB/s	   10240 B/op	       1 allocs/op",
			true, "BenchmarkVaultBulkWrite/plain-2", 23030, map[string]float64{"ns/op": 6612, "MB/s": 1548.80, "B/op": 10240, "allocs/op": 1}},
		{"custom metric", "BenchmarkRetrieve/carnet-2              	  349414	       103.4 ns/op	         3.000 requests/patient	       0 B/op	       0 allocs/op",
			true, "BenchmarkRetrieve/carnet-2", 349414, map[string]float64{"ns/op": 103.4, "requests/patient": 3, "B/op": 0, "allocs/op": 0}},
		{"no procs suffix", "BenchmarkKDF 	 2	 512000000 ns/op",
			true, "BenchmarkKDF", 2, map[string]float64{"ns/op": 512000000}},
		{"name alone (log follows)", "BenchmarkDirectorySearch", false, "", 0, nil},
		{"not a result", "BenchmarkX-2 says hello", false, "", 0, nil},
		{"odd fields", "BenchmarkX-2 10 5 ns/op 7", false, "", 0, nil},
		{"no ns/op", "BenchmarkX-2 10 5 MB/s", false, "", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseLine(tc.line)
			if ok != tc.ok {
				t.Fatalf("parseLine(%q) ok = %v, want %v", tc.line, ok, tc.ok)
			}
			if !ok {
				return
			}
			if got.Name != tc.bench || got.Iters != tc.iters {
				t.Errorf("name, iters = %q, %d, want %q, %d", got.Name, got.Iters, tc.bench, tc.iters)
			}
			if len(got.Metrics) != len(tc.metric) {
				t.Errorf("metrics = %v, want %v", got.Metrics, tc.metric)
			}
			for u, v := range tc.metric {
				if got.Metrics[u] != v {
					t.Errorf("metric %s = %v, want %v", u, got.Metrics[u], v)
				}
			}
		})
	}
}

func TestParse(t *testing.T) {
	run, err := Parse(strings.NewReader(rawSample))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(run.Samples), 13; got != want {
		t.Fatalf("samples = %d, want %d", got, want)
	}
	if run.CPU != "AMD EPYC" || run.GoOS != "linux" || run.GoArch != "amd64" {
		t.Errorf("header = %q %q %q", run.CPU, run.GoOS, run.GoArch)
	}
	if got := run.Samples[0]; got.Name != "BenchmarkVaultBulkWrite/plain" || got.Pkg != "example.com/bs" {
		t.Errorf("first sample = %q in %q, want the -2 suffix stripped, pkg example.com/bs", got.Name, got.Pkg)
	}
	if got := run.Samples[8]; got.Pkg != "example.com/other" || got.Name != "BenchmarkUnlock" {
		t.Errorf("sample 8 = %q in %q", got.Name, got.Pkg)
	}
	if len(run.Failed) != 2 {
		t.Errorf("failed lines = %q, want 2", run.Failed)
	}
}

func TestStripProcs(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{[]string{"BenchmarkA-2", "BenchmarkB/x-2"}, []string{"BenchmarkA", "BenchmarkB/x"}},
		// GOMAXPROCS=1: no suffix; a name ending in -digits must stay.
		{[]string{"BenchmarkA", "BenchmarkB/size-1024"}, []string{"BenchmarkA", "BenchmarkB/size-1024"}},
		{[]string{"BenchmarkB/size-1024-8", "BenchmarkA-8"}, []string{"BenchmarkB/size-1024", "BenchmarkA"}},
	}
	for _, tc := range tests {
		ss := make([]Sample, len(tc.in))
		for i, n := range tc.in {
			ss[i].Name = n
		}
		stripProcs(ss)
		for i := range ss {
			if ss[i].Name != tc.want[i] {
				t.Errorf("stripProcs(%q)[%d] = %q, want %q", tc.in, i, ss[i].Name, tc.want[i])
			}
		}
	}
}

func TestSummarise(t *testing.T) {
	run, err := Parse(strings.NewReader(rawSample))
	if err != nil {
		t.Fatal(err)
	}
	rs := Summarise(run, baselines, goals)
	by := map[string]*Result{}
	for _, r := range rs {
		by[r.Name] = r
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

	tests := []struct {
		name        string
		runs        int
		nsop, ratio float64 // ratio NaN: none
		status      string
	}{
		{"BenchmarkVaultBulkWrite/plain", 2, (6612 + 4717) / 2.0, math.NaN(), ""},
		{"BenchmarkVaultBulkWrite/sealed", 2, (5520 + 5563) / 2.0, ((5520 + 5563) / 2.0) / ((6612 + 4717) / 2.0), "pass"},
		{"BenchmarkRetrieve/carnet", 2, (103.4 + 94.07) / 2, ((103.4 + 94.07) / 2) / ((78.51 + 68.83) / 2), "MISS"}, // 1.34× the time of plain http.Get: below 0.9× its throughput
		{"BenchmarkUnlock", 3, 705000000, math.NaN(), "pass"},
		{"BenchmarkDirectorySearch", 1, 6100000, math.NaN(), "MISS"},
		{"BenchmarkPassphraseChange", 1, 800000000, math.NaN(), "n/a"}, // no BenchmarkKDF in this run
	}
	for _, tc := range tests {
		r := by[tc.name]
		if r == nil {
			t.Errorf("%s: missing", tc.name)
			continue
		}
		if r.Runs != tc.runs || !near(r.Median["ns/op"], tc.nsop) {
			t.Errorf("%s: runs, ns/op = %d, %v, want %d, %v", tc.name, r.Runs, r.Median["ns/op"], tc.runs, tc.nsop)
		}
		if math.IsNaN(tc.ratio) != math.IsNaN(r.Ratio) || (!math.IsNaN(tc.ratio) && !near(r.Ratio, tc.ratio)) {
			t.Errorf("%s: ratio = %v, want %v", tc.name, r.Ratio, tc.ratio)
		}
		if r.Status != tc.status {
			t.Errorf("%s: status = %q, want %q", tc.name, r.Status, tc.status)
		}
	}
	if got := by["BenchmarkRetrieve/carnet"].Median["requests/patient"]; got != 3 {
		t.Errorf("custom metric requests/patient = %v, want 3", got)
	}
	if got := by["BenchmarkVaultBulkWrite/sealed"].Median["MB/s"]; !near(got, (1855.05+1840.68)/2) {
		t.Errorf("MB/s median = %v", got)
	}
}

func TestGoalForSubBenchmark(t *testing.T) {
	g, ok := goalFor("BenchmarkDirectorySearch/1char", goals)
	if !ok || g.Kind != GoalTimeMax || g.Max != 5*ms {
		t.Errorf("goalFor(sub-benchmark) = %v, %v", g, ok)
	}
	if _, ok := goalFor("BenchmarkDirectorySearchX", goals); ok {
		t.Error("goalFor matched a name that only shares a prefix")
	}
}

func TestWrite(t *testing.T) {
	run, err := Parse(strings.NewReader(rawSample))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m := Machine{CPU: "AMD EPYC", Cores: "2", RAM: "23.4 GiB", Kernel: "6.1", Go: "go1.26.8", OSArch: "linux/amd64"}
	Write(&buf, run, Summarise(run, baselines, goals), m, time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC), "docs/bench/raw.txt")
	out := buf.String()
	for _, want := range []string{
		"# Benchmarks",
		"| CPU | AMD EPYC |",
		"2026-11-26 07:00 UTC",
		"| `BenchmarkVaultBulkWrite/sealed` | ≤ 1.10× baseline | 0.98× `BenchmarkVaultBulkWrite/plain` | pass |",
		"| `BenchmarkUnlock` | 500 ms – 1.00 s | 705 ms | pass |",
		"| `BenchmarkDirectorySearch` | ≤ 5.00 ms | 6.10 ms | **MISS** |",
		"baseline BenchmarkKDF not in this run",
		"## BenchmarkRetrieve",
		"requests/patient",
		"Some benchmark packages failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q\n%s", want, out)
		}
	}
}

func TestFmtNs(t *testing.T) {
	tests := []struct {
		ns   float64
		want string
	}{
		{78.51, "78.5 ns"}, {6612, "6.61 µs"}, {2e6, "2.00 ms"}, {705e6, "705 ms"}, {1.2e9, "1.20 s"},
	}
	for _, tc := range tests {
		if got := fmtNs(tc.ns); got != tc.want {
			t.Errorf("fmtNs(%v) = %q, want %q", tc.ns, got, tc.want)
		}
	}
}

// Two packages with a benchmark of the same name: each ratio uses its own
// package's baseline; a metric goal gives a row of its own.
func TestSummariseSamePackageBaselineAndMetricGoal(t *testing.T) {
	raw := `pkg: example.org/a
BenchmarkRetrieve/raw-2   	10	100 ns/op
BenchmarkRetrieve/carnet-2	10	110 ns/op
pkg: example.org/b
BenchmarkRetrieve/raw-2   	10	200 ns/op
BenchmarkRetrieve/xds-2   	10	300 ns/op	1.2 x-raw
BenchmarkImport/mbsync-2  	1	1000 ns/op
BenchmarkImport/carnet-2  	1	900 ns/op	80 MB-peak
`
	run, err := Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]*Result{}
	for _, r := range summarise(run, baselines, goals, metricGoals) {
		by[r.Pkg+" "+r.Name] = r
	}
	if r := by["example.org/a BenchmarkRetrieve/carnet"]; r == nil || math.Abs(r.Ratio-1.1) > 1e-9 {
		t.Errorf("carnet ratio = %+v, want 1.1 against its own package's raw", r)
	}
	if r := by["example.org/b BenchmarkRetrieve/xds"]; r == nil || math.Abs(r.Ratio-1.5) > 1e-9 || r.Status != "MISS" {
		t.Errorf("xds = %+v, want 1.5× its own package's raw, MISS on its in-run x-raw", r)
	}
	if r := by["example.org/b BenchmarkImport/carnet"]; r == nil || r.Status != "pass" {
		t.Errorf("import time goal = %+v, want pass (0.9×)", r)
	}
	if r := by["example.org/b BenchmarkImport/carnet#MB-peak"]; r == nil || r.Status != "MISS" || r.Measured == "" {
		t.Errorf("import memory goal = %+v, want its own MISS row", r)
	}
}
