package dmptest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

func listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dmptest: listen: %w", err)
	}
	return l, nil
}

// quietLog drops the server's log lines (injected resets are expected).
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// Config is what `carnet sandbox` needs.
type Config struct {
	Listen   string // "127.0.0.1:8443"
	Patients int
	Seed     uint64
	DataDir  string // "": records in memory, credentials in a temporary dir
	Faults   string // ParseFaults spec
	Throttle string // ParseBandwidth value
	NoGzip   bool   // no gzip of FHIR JSON answers
}

// Start starts the sandbox described by cfg and writes its credentials:
// into DataDir (reusing its CA) or a fresh temporary dir. For demo mode and
// Main.
func Start(cfg Config) (*Sandbox, string, error) {
	opt := Options{Seed: cfg.Seed, Patients: cfg.Patients, NoCompression: cfg.NoGzip}
	if cfg.Faults != "" {
		f, err := ParseFaults(cfg.Faults)
		if err != nil {
			return nil, "", err
		}
		opt.Faults = f
	}
	if cfg.Throttle != "" {
		bw, err := ParseBandwidth(cfg.Throttle)
		if err != nil {
			return nil, "", err
		}
		opt.Throttle = bw
	}
	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "carnet-sandbox-")
		if err != nil {
			return nil, "", fmt.Errorf("dmptest: %w", err)
		}
		dir = d
	} else {
		opt.DataDir = dir
	}
	ca, err := loadOrCreateCA(dir)
	if err != nil {
		return nil, "", err
	}
	host, _, _ := net.SplitHostPort(cfg.Listen)
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if host != "" && host != "localhost" && host != "127.0.0.1" && host != "::1" {
		hosts = append(hosts, host)
	}
	pki, err := NewPKI(ca, hosts...)
	if err != nil {
		return nil, "", err
	}
	if err := pki.WriteFiles(dir, cfg.Seed); err != nil {
		return nil, "", err
	}
	addr := cfg.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	sb, err := startWith(opt, addr, pki)
	if err != nil {
		return nil, "", err
	}
	return sb, dir, nil
}

// Main is `carnet sandbox`: it parses args, starts the sandbox, prints the
// XDS.b/SOAP services URL and the FHIR base URL, the CA file and each practitioner's PKCS#12 file and PIN, and
// serves until interrupted. It returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8443", "address to listen on (loopback)")
	fs.IntVar(&cfg.Patients, "patients", 1000, "number of synthetic patients")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the synthetic population and of the faults")
	fs.StringVar(&cfg.DataDir, "data", "", "directory for credentials and persistent records (default: in memory, credentials in a temporary dir)")
	fs.StringVar(&cfg.Faults, "faults", "", "fault injection, e.g. 5xx=0.1,429=0.05,reset=0.05,truncate=0.02,badhash=0.02,droppost=0.05,latency=20ms")
	fs.StringVar(&cfg.Throttle, "throttle", "", "response bandwidth limit, e.g. 100Mbit")
	fs.BoolVar(&cfg.NoGzip, "no-gzip", false, "do not gzip FHIR JSON answers (document content is never compressed)")
	latency := fs.Duration("latency", 0, "delay every answer by this much, as a slow network would (e.g. 3s)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // the usage was asked for
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sandbox: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	sb, dir, err := Start(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "sandbox: %v\n", err)
		return 1
	}
	defer sb.Close()
	sb.SetLatency(*latency)
	fmt.Fprintf(stdout, "Carnet sandbox DMP — test data only, not the real service\n")
	fmt.Fprintf(stdout, "xds url      %s   ([dmp] protocol = \"xds\", the default: XDS.b/SOAP)\n", strings.TrimSuffix(sb.URL, sb.BasePath())+XDSBasePath)
	fmt.Fprintf(stdout, "fhir url     %s   ([dmp] protocol = \"fhir\": the PDSm FHIR draft)\n", sb.URL)
	fmt.Fprintf(stdout, "patients     %d (seed %d)\n", cfg.Patients, cfg.Seed)
	fmt.Fprintf(stdout, "test CA      %s/ca.pem\n", dir)
	fmt.Fprintf(stdout, "credentials (PKCS#12, PIN):\n")
	keys := make([]string, 0, len(sb.PKI.Credentials))
	for k := range sb.PKI.Credentials {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := sb.PKI.Credentials[k]
		fmt.Fprintf(stdout, "  %-13s %s  PIN %s  %s (RPPS %s)\n", k, c.Practitioner.P12Path, c.Practitioner.PIN, c.Practitioner.Name, c.Practitioner.RPPS)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Fprintln(stdout, "sandbox: stopped")
	return 0
}
