package vault

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/carnetdesk/carnet/app"
	"github.com/carnetdesk/carnet/crypto"
)

// BenchmarkMemoryResident reports the process's resident size (VmRSS) after
// a practitioner's day starts: unlocking a vault of 10,000 patients at the
// policy KDF (256 MiB of Argon2id) and opening 20 records with their
// documents, through app.Service. Goal ≤ 150 MB. The figure is the whole
// test process (Go runtime and test binary included), read from
// /proc/self/status; it is reported as the metric "MB-rss".
func BenchmarkMemoryResident(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("no /proc: resident size is measured on Linux")
	}
	p, err := crypto.Calibrate()
	if err != nil {
		b.Fatal(err)
	}
	opt := Options{KDF: &p, Keyring: newMemKeyring(), Logger: quietLogger()}
	v, path := newTestVault(b, opt)
	const patients, opened = 10000, 20
	batch := &app.Batch{}
	for i := 0; i < patients; i++ {
		pt := synthPatient(i)
		if i < opened {
			pb := patientBatch(pt, 10, 10*1024)
			batch.Patients = append(batch.Patients, pb.Patients...)
			batch.Manifests = append(batch.Manifests, pb.Manifests...)
			batch.Documents = append(batch.Documents, pb.Documents...)
			continue
		}
		batch.Patients = append(batch.Patients, pt)
	}
	mustOK(b, v.Write(ctx, batch))
	mustOK(b, v.Close())
	batch = nil
	runtime.GC()

	var rss float64
	for i := 0; i < b.N; i++ {
		v, err := Open(path, Options{KDF: &p, Keyring: opt.Keyring, Logger: quietLogger()})
		mustOK(b, err)
		svc := app.NewService(app.Deps{Store: v, Log: quietLogger()})
		if _, err := svc.Unlock(ctx, append([]byte(nil), testPass...)); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < opened; j++ {
			id := synthPatient(j).ID
			rec, err := svc.OpenPatient(ctx, id, app.AccessNormal, "")
			mustOK(b, err)
			for _, d := range rec.Manifest.Documents {
				if _, err := svc.Document(ctx, id, d.ID, app.Access{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		rss = residentMB(b)
		svc.Lock(app.LockByUser)
		mustOK(b, v.Close())
	}
	b.ReportMetric(rss, "MB-rss")
}

// residentMB returns VmRSS of this process in megabytes.
func residentMB(tb testing.TB) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb / 1024
		}
	}
	tb.Fatal("no VmRSS in /proc/self/status")
	return 0
}
