// Command benchreport turns the raw output of `go test -bench` into
// BENCHMARKS.md: one table per benchmark family with the median of each
// metric over the runs (ns/op, MB/s, B/op, allocs/op and custom metrics
// reported with b.ReportMetric), the ratio to a baseline measured in the
// same run, the goal and whether it is met, and the machine it ran on.
//
//	go run ./scripts/benchreport -in docs/bench/raw.txt -out BENCHMARKS.md
//
// Standard library only. `make bench` runs it.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// baselines pairs a benchmark with the benchmark it is compared to; both are
// measured in the same run. The -baseline flag adds or overrides pairs.
var baselines = map[string]string{
	"BenchmarkVaultBulkWrite/sealed":      "BenchmarkVaultBulkWrite/plain",
	"BenchmarkParseCDA/N3":                "BenchmarkParseCDA/xmltokens",
	"BenchmarkParseCDA/N1":                "BenchmarkParseCDA/xmltokens-N1",
	"BenchmarkRetrieve/carnet":            "BenchmarkRetrieve/raw",
	"BenchmarkSyncInitial/carnet":         "BenchmarkSyncInitial/raw",
	"BenchmarkSyncInitial/carnet-100Mbit": "BenchmarkSyncInitial/raw-100Mbit",
	"BenchmarkImport/carnet":              "BenchmarkImport/mbsync",
	"BenchmarkPassphraseChange":           "BenchmarkKDF",
	"BenchmarkRetrieve/xds":               "BenchmarkRetrieve/raw",
	"BenchmarkSyncInitial/xds-100Mbit":    "BenchmarkSyncInitial/raw-100Mbit",
}

// GoalKind says what a goal bounds.
type GoalKind int

// The kinds of goal.
const (
	GoalRatioMax  GoalKind = iota // ratio to the baseline ≤ Max
	GoalTimeMax                   // median ns/op ≤ Max
	GoalTimeRange                 // Min ≤ median ns/op ≤ Max
	GoalMetricMax                 // median of the custom metric Metric ≤ Max
)

// Goal is the target of one benchmark (or of every sub-benchmark of a name).
type Goal struct {
	Kind     GoalKind
	Min, Max float64 // a ratio, or nanoseconds
	Text     string  // how the issue words it, when not as a time ratio
	Metric   string  // GoalMetricMax: the b.ReportMetric unit ("MB-rss", "requests/patient")
}

// String describes the goal for the report.
func (g Goal) String() string {
	if g.Text != "" {
		return g.Text
	}
	switch g.Kind {
	case GoalRatioMax:
		return fmt.Sprintf("≤ %.2f× baseline", g.Max)
	case GoalTimeMax:
		return "≤ " + fmtNs(g.Max)
	case GoalTimeRange:
		return fmtNs(g.Min) + " – " + fmtNs(g.Max)
	case GoalMetricMax:
		return fmt.Sprintf("≤ %g %s", g.Max, g.Metric)
	}
	return "?"
}

const (
	ms = 1e6
	s  = 1e9
)

// goals holds the targets from the issues. A key matches a benchmark of the
// same name and all its sub-benchmarks.
var goals = map[string]Goal{
	"BenchmarkVaultBulkWrite/sealed": {Kind: GoalRatioMax, Max: 1.10},
	"BenchmarkVaultOpenPatient":      {Kind: GoalTimeMax, Max: 2 * ms},
	"BenchmarkUnlock":                {Kind: GoalTimeRange, Min: 0.5 * s, Max: 1.0 * s},
	"BenchmarkDirectorySearch":       {Kind: GoalTimeMax, Max: 5 * ms},
	"BenchmarkPassphraseChange":      {Kind: GoalRatioMax, Max: 1.2},
	// Throughput goals on the same bytes: a ratio of times, inverted.
	"BenchmarkParseCDA/N3":                {Kind: GoalRatioMax, Max: 1 / 0.7, Text: "throughput ≥ 0.7× the bare token walk (time ≤ 1.43×)"},
	"BenchmarkParseCDA/N1":                {Kind: GoalRatioMax, Max: 1 / 0.7, Text: "throughput ≥ 0.7× the bare token walk (time ≤ 1.43×)"},
	"BenchmarkConsolidate":                {Kind: GoalTimeMax, Max: 5 * ms},
	"BenchmarkOpenPatientView":            {Kind: GoalTimeMax, Max: 300 * ms},
	"BenchmarkSearchKeystroke":            {Kind: GoalTimeMax, Max: 50 * ms},
	"BenchmarkPreopView":                  {Kind: GoalTimeMax, Max: 150 * ms},
	"BenchmarkMemoryResident":             {Kind: GoalMetricMax, Max: 150, Metric: "MB-rss"},
	"BenchmarkSyncIdle":                   {Kind: GoalMetricMax, Max: 2, Metric: "requests/patient"},
	"BenchmarkSyncInitial/carnet-100Mbit": {Kind: GoalMetricMax, Max: 1 / 0.9, Metric: "x-raw", Text: xRawSync},
	"BenchmarkImport/carnet":              {Kind: GoalRatioMax, Max: 1.0, Text: "throughput ≥ mbsync's, every identity check on (time ≤ 1.00×)"},
	"BenchmarkRetrieve/carnet":            {Kind: GoalRatioMax, Max: 1 / 0.9, Text: "throughput ≥ 0.9× plain http.Get (time ≤ 1.11×)"},
	// The production DMP interface (XDS.b, MTOM, VIHF).
	"BenchmarkRetrieve/xds":            {Kind: GoalMetricMax, Max: 1 / 0.9, Metric: "x-raw", Text: "throughput ≥ 0.9× the same requests posted and read whole, measured right after each pass on the same sandbox (x-raw ≤ 1.11)"},
	"BenchmarkSyncInitial/xds-100Mbit": {Kind: GoalMetricMax, Max: 1 / 0.9, Metric: "x-raw", Text: xRawSync},
	"BenchmarkSignaturesPerSync":       {Kind: GoalMetricMax, Max: 20, Metric: "signatures/sync", Text: "≤ 1 VIHF signature per patient context (a sync of 20 patients: ≤ 20)"},
	"BenchmarkSyncInitial/xds":         {Kind: GoalMetricMax, Max: 1, Metric: "signatures/patient", Text: "≤ 1 VIHF signature per patient"},
	// Offline for real; the medical synthesis.
	"BenchmarkOpenCachedOffline": {Kind: GoalTimeMax, Max: 300 * ms, Text: "click to the rendered cached record, service black-holed: ≤ 300 ms"},
	"BenchmarkDraftSynthesis":    {Kind: GoalTimeMax, Max: 100 * ms, Text: "drafting a VSM from 200 documents: ≤ 100 ms"},

	// Offline for real: latency and start (issue 16).
	"BenchmarkSyncLatency/3s":      {Kind: GoalMetricMax, Max: 1.5, Metric: "x-raw", Text: "20 patients × 30 documents through a 3 s round-trip proxy: ≤ 1.5× a plain concurrent download of the same documents through it"},
	"BenchmarkSyncLatency/idle-3s": {Kind: GoalMetricMax, Max: 4, Metric: "rtts", Text: "an idle sync of 20 patients through a 3 s round-trip proxy: ≤ 4 round trips"},
	"BenchmarkStartup":             {Kind: GoalTimeMax, Max: 1.5 * s, Text: "process start to the unlock screen drawn (Xvfb), warm: ≤ 1.5 s"},
}

// xRawSync is the goal of the throttled initial syncs: the ratio is
// measured in the run (x-raw: each sync, then a plain concurrent download
// of the same bytes from the same sandbox), so both see the same load.
const xRawSync = "throughput ≥ 0.9× a plain concurrent download at 100 Mbit/s, measured right after each sync (x-raw ≤ 1.11)"

// metricGoals are goals on a custom metric of a benchmark that also has a
// goal in goals: each gives a row of its own, named NAME#METRIC.
var metricGoals = map[string]Goal{
	"BenchmarkImport/carnet":           {Kind: GoalMetricMax, Max: 64, Metric: "MB-peak", Text: "peak resident memory of 200 × 340 KB ≤ 64 MB"},
	"BenchmarkSyncInitial/xds-100Mbit": {Kind: GoalMetricMax, Max: 1, Metric: "signatures/patient", Text: "≤ 1 VIHF signature per patient"},
}

// Sample is one result line of `go test -bench`.
type Sample struct {
	Pkg     string
	Name    string // without the -GOMAXPROCS suffix
	Iters   int64
	Metrics map[string]float64 // unit -> value: "ns/op", "MB/s", "B/op", "allocs/op", custom units
}

// Run is everything read from one raw file.
type Run struct {
	Samples []Sample
	CPU     string   // the "cpu:" header line
	GoOS    string   // "goos:"
	GoArch  string   // "goarch:"
	Failed  []string // "FAIL" lines, "--- FAIL" lines
}

// Parse reads `go test -bench` output. Benchmark names lose their
// -GOMAXPROCS suffix when every result line carries the same numeric suffix
// (go test omits it when GOMAXPROCS is 1).
func Parse(r io.Reader) (*Run, error) {
	run := &Run{}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \r")
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimSpace(strings.TrimPrefix(line, "pkg: "))
		case strings.HasPrefix(line, "cpu: "):
			run.CPU = strings.TrimSpace(strings.TrimPrefix(line, "cpu: "))
		case strings.HasPrefix(line, "goos: "):
			run.GoOS = strings.TrimSpace(strings.TrimPrefix(line, "goos: "))
		case strings.HasPrefix(line, "goarch: "):
			run.GoArch = strings.TrimSpace(strings.TrimPrefix(line, "goarch: "))
		case strings.HasPrefix(line, "FAIL") || strings.HasPrefix(strings.TrimSpace(line), "--- FAIL"):
			run.Failed = append(run.Failed, strings.TrimSpace(line))
		case strings.HasPrefix(line, "Benchmark"):
			if smp, ok := parseLine(line); ok {
				smp.Pkg = pkg
				run.Samples = append(run.Samples, smp)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	stripProcs(run.Samples)
	return run, nil
}

// parseLine reads "BenchmarkName-2  100  123 ns/op  4.5 MB/s ...". Lines that
// are not results (a benchmark's log output, "BenchmarkX" alone) are skipped.
func parseLine(line string) (Sample, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return Sample{}, false
	}
	iters, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return Sample{}, false
	}
	smp := Sample{Name: f[0], Iters: iters, Metrics: map[string]float64{}}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Sample{}, false
		}
		smp.Metrics[f[i+1]] = v
	}
	if _, ok := smp.Metrics["ns/op"]; !ok {
		return Sample{}, false
	}
	return smp, true
}

// stripProcs removes the common "-N" suffix of the names, if all have one.
func stripProcs(ss []Sample) {
	if len(ss) == 0 {
		return
	}
	suffix := ""
	for i, smp := range ss {
		j := strings.LastIndexByte(smp.Name, '-')
		if j < 0 {
			return
		}
		n := smp.Name[j:]
		if _, err := strconv.Atoi(n[1:]); err != nil {
			return
		}
		if i == 0 {
			suffix = n
		} else if n != suffix {
			return
		}
	}
	for i := range ss {
		ss[i].Name = strings.TrimSuffix(ss[i].Name, suffix)
	}
}

// Result is the median of every metric of one benchmark.
type Result struct {
	Pkg, Name string
	Runs      int
	Median    map[string]float64
	Baseline  string  // name of the baseline, if any
	Ratio     float64 // median ns/op over the baseline's; NaN if none
	Goal      *Goal
	Status    string // "pass", "MISS", "n/a" or ""
	Measured  string // what the goal was checked against
}

// Summarise groups the samples by benchmark, takes medians, and applies the
// baselines and goals.
func Summarise(run *Run, base map[string]string, gs map[string]Goal) []*Result {
	return summarise(run, base, gs, nil)
}

func summarise(run *Run, base map[string]string, gs, mgs map[string]Goal) []*Result {
	type key struct{ pkg, name string }
	vals := map[key]map[string][]float64{}
	var order []key
	for _, smp := range run.Samples {
		k := key{smp.Pkg, smp.Name}
		m, ok := vals[k]
		if !ok {
			m = map[string][]float64{}
			vals[k] = m
			order = append(order, k)
		}
		for u, v := range smp.Metrics {
			m[u] = append(m[u], v)
		}
	}
	var out []*Result
	byName := map[string]*Result{}
	byPkgName := map[key]*Result{}
	for _, k := range order {
		r := &Result{Pkg: k.pkg, Name: k.name, Median: map[string]float64{}, Ratio: math.NaN()}
		for u, vs := range vals[k] {
			r.Median[u] = median(vs)
			if u == "ns/op" {
				r.Runs = len(vs)
			}
		}
		out = append(out, r)
		byPkgName[k] = r
		if _, dup := byName[r.Name]; !dup {
			byName[r.Name] = r
		}
	}
	var extra []*Result
	for _, r := range out {
		if b, ok := base[r.Name]; ok {
			r.Baseline = b
			br, ok := byPkgName[key{r.Pkg, b}] // the same package's baseline first
			if !ok {
				br, ok = byName[b]
			}
			if ok && br.Median["ns/op"] > 0 {
				r.Ratio = r.Median["ns/op"] / br.Median["ns/op"]
			}
		}
		if g, ok := goalFor(r.Name, gs); ok {
			r.Goal = &g
			r.Status, r.Measured = check(r, g)
		}
		if g, ok := mgs[r.Name]; ok {
			m := &Result{Pkg: r.Pkg, Name: r.Name + "#" + g.Metric, Runs: r.Runs, Median: r.Median, Ratio: math.NaN(), Goal: &g}
			m.Status, m.Measured = check(m, g)
			extra = append(extra, m)
		}
	}
	return append(out, extra...)
}

func goalFor(name string, gs map[string]Goal) (Goal, bool) {
	if g, ok := gs[name]; ok {
		return g, true
	}
	// The longest key that is a parent of name.
	best := ""
	for k := range gs {
		if strings.HasPrefix(name, k+"/") && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return Goal{}, false
	}
	return gs[best], true
}

func check(r *Result, g Goal) (status, measured string) {
	ns := r.Median["ns/op"]
	switch g.Kind {
	case GoalRatioMax:
		if math.IsNaN(r.Ratio) {
			if r.Baseline == "" {
				return "n/a", "no baseline configured"
			}
			return "n/a", "baseline " + r.Baseline + " not in this run"
		}
		return passMiss(r.Ratio <= g.Max), fmt.Sprintf("%.2f× `%s`", r.Ratio, r.Baseline)
	case GoalTimeMax:
		return passMiss(ns <= g.Max), fmtNs(ns)
	case GoalTimeRange:
		return passMiss(ns >= g.Min && ns <= g.Max), fmtNs(ns)
	case GoalMetricMax:
		v, ok := r.Median[g.Metric]
		if !ok {
			return "n/a", "no " + g.Metric + " reported"
		}
		return passMiss(v <= g.Max), fmt.Sprintf("%.3g %s", v, g.Metric)
	}
	return "", ""
}

func passMiss(ok bool) string {
	if ok {
		return "pass"
	}
	return "MISS"
}

func median(vs []float64) float64 {
	c := append([]float64(nil), vs...)
	sort.Float64s(c)
	n := len(c)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// fmtNs prints a duration in nanoseconds with a readable unit.
func fmtNs(ns float64) string {
	switch {
	case ns >= s:
		return trim(ns/s) + " s"
	case ns >= ms:
		return trim(ns/ms) + " ms"
	case ns >= 1e3:
		return trim(ns/1e3) + " µs"
	}
	return trim(ns) + " ns"
}

// trim prints 3 significant digits.
func trim(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// num prints a metric value compactly.
func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// Machine describes where the benchmarks ran.
type Machine struct {
	CPU, Cores, RAM, Kernel, Go, OSArch string
}

func readMachine(run *Run) Machine {
	m := Machine{CPU: run.CPU, Cores: strconv.Itoa(runtime.NumCPU()), OSArch: run.GoOS + "/" + run.GoArch}
	if m.OSArch == "/" {
		m.OSArch = runtime.GOOS + "/" + runtime.GOARCH
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				f := strings.Fields(l)
				if len(f) >= 2 {
					if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
						m.RAM = fmt.Sprintf("%.1f GiB", kb/1024/1024)
					}
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Go = runtime.Version()
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		m.Go = strings.TrimSpace(string(out))
	}
	return m
}

// Write renders the report.
func Write(w io.Writer, run *Run, rs []*Result, m Machine, date time.Time, rawPath string) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# Benchmarks\n\n")
	p("Generated by `make bench` on %s from `%s` (median of each metric over the runs;\n", date.UTC().Format("2006-01-02 15:04 MST"), rawPath)
	p("ratios compare medians of ns/op measured in the same run). Regenerate: `make bench`.\n\n")
	p("## Machine\n\n| | |\n|---|---|\n")
	p("| CPU | %s |\n| cores | %s |\n| RAM | %s |\n| kernel | %s |\n| Go | %s (%s) |\n\n", orDash(m.CPU), m.Cores, orDash(m.RAM), orDash(m.Kernel), m.Go, m.OSArch)

	if len(run.Failed) > 0 {
		p("**Some benchmark packages failed:**\n\n```\n%s\n```\n\n", strings.Join(run.Failed, "\n"))
	}
	if len(rs) == 0 {
		p("No benchmark results in the raw output.\n")
		return
	}

	p("## Goals\n\n| benchmark | goal | measured | status |\n|---|---|---|---|\n")
	any := false
	for _, r := range rs {
		if r.Goal == nil {
			continue
		}
		any = true
		st := r.Status
		if st == "MISS" {
			st = "**MISS**"
		}
		p("| `%s` | %s | %s | %s |\n", r.Name, r.Goal, r.Measured, st)
	}
	if !any {
		p("| – | no benchmark with a goal ran | | |\n")
	}
	p("\n")

	// Families, in order of first appearance.
	type fam struct {
		pkg, name string
		rs        []*Result
	}
	var fams []*fam
	idx := map[string]*fam{}
	for _, r := range rs {
		fn, _, _ := strings.Cut(r.Name, "/")
		k := r.Pkg + " " + fn
		f, ok := idx[k]
		if !ok {
			f = &fam{pkg: r.Pkg, name: fn}
			idx[k] = f
			fams = append(fams, f)
		}
		f.rs = append(f.rs, r)
	}
	std := map[string]bool{"ns/op": true, "MB/s": true, "B/op": true, "allocs/op": true}
	for _, f := range fams {
		p("## %s\n\n`%s`\n\n", f.name, f.pkg)
		var custom []string
		seen := map[string]bool{}
		for _, r := range f.rs {
			for u := range r.Median {
				if !std[u] && !seen[u] {
					seen[u] = true
					custom = append(custom, u)
				}
			}
		}
		sort.Strings(custom)
		p("| benchmark | runs | time/op | ns/op | MB/s | B/op | allocs/op |")
		for _, u := range custom {
			p(" %s |", u)
		}
		p(" ratio | goal | status |\n|---|--:|--:|--:|--:|--:|--:|")
		for range custom {
			p("--:|")
		}
		p("--:|---|---|\n")
		for _, r := range f.rs {
			p("| `%s` | %d | %s | %s | %s | %s | %s |", r.Name, r.Runs, fmtNs(r.Median["ns/op"]), num(math.Round(r.Median["ns/op"])),
				metric(r, "MB/s"), metric(r, "B/op"), metric(r, "allocs/op"))
			for _, u := range custom {
				p(" %s |", metric(r, u))
			}
			ratio := "–"
			if !math.IsNaN(r.Ratio) {
				ratio = fmt.Sprintf("%.2f× `%s`", r.Ratio, strings.TrimPrefix(r.Baseline, f.name))
			} else if r.Baseline != "" {
				ratio = "no `" + r.Baseline + "`"
			}
			goal, st := "–", "–"
			if r.Goal != nil {
				goal, st = r.Goal.String(), r.Status
				if st == "MISS" {
					st = "**MISS**"
				}
			}
			p(" %s | %s | %s |\n", ratio, goal, st)
		}
		p("\n")
	}
}

func metric(r *Result, u string) string {
	v, ok := r.Median[u]
	if !ok {
		return "–"
	}
	return num(v)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

type pairs map[string]string

func (p pairs) String() string { return fmt.Sprint(map[string]string(p)) }
func (p pairs) Set(v string) error {
	a, b, ok := strings.Cut(v, "=")
	if !ok || a == "" || b == "" {
		return fmt.Errorf("want NAME=BASELINE, got %q", v)
	}
	p[a] = b
	return nil
}

func main() {
	in := flag.String("in", "docs/bench/raw.txt", "raw `go test -bench` output")
	out := flag.String("out", "BENCHMARKS.md", "report to write (- for stdout)")
	base := pairs{}
	for k, v := range baselines {
		base[k] = v
	}
	flag.Var(base, "baseline", "extra NAME=BASELINE pair (repeatable)")
	flag.Parse()

	f, err := os.Open(*in)
	if err != nil {
		log.Fatal(err)
	}
	run, err := Parse(f)
	f.Close()
	if err != nil {
		log.Fatalf("%s: %v", *in, err)
	}
	rs := summarise(run, base, goals, metricGoals)

	var w io.Writer = os.Stdout
	var file *os.File
	if *out != "-" {
		file, err = os.Create(*out)
		if err != nil {
			log.Fatal(err)
		}
		w = file
	}
	bw := bufio.NewWriter(w)
	Write(bw, run, rs, readMachine(run), time.Now(), *in)
	if err := bw.Flush(); err != nil {
		log.Fatal(err)
	}
	if file != nil {
		if err := file.Close(); err != nil {
			log.Fatal(err)
		}
	}
	miss := 0
	for _, r := range rs {
		if r.Status == "MISS" {
			miss++
		}
	}
	fmt.Fprintf(os.Stderr, "benchreport: %d benchmarks, %d goal(s) missed\n", len(rs), miss)
}
