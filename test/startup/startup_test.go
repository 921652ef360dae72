// Package startup measures Carnet's start: the real binary, under Xvfb,
// from the process start to its unlock screen drawn.
package startup

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// need skips (or, with CARNET_REQUIRE_XVFB=1, fails) without the X tools.
func need(tb testing.TB) {
	tb.Helper()
	for _, t := range []string{"Xvfb", "xdotool", "import"} {
		if _, err := exec.LookPath(t); err != nil {
			if os.Getenv("CARNET_REQUIRE_XVFB") != "" {
				tb.Fatalf("%s is required: %v", t, err)
			}
			tb.Skipf("%s not installed (Debian: xvfb xdotool imagemagick)", t)
		}
	}
}

// rig is a private Xvfb, the binary built from the module, and a vault
// created by `carnet vault init` (the unlock screen's subject).
type rig struct {
	bin, dir, display string
	env               []string
}

func newRig(tb testing.TB) *rig {
	tb.Helper()
	need(tb)
	dir := tb.TempDir()
	r := &rig{bin: filepath.Join(dir, "carnet"), dir: dir}
	build := exec.Command("go", "build", "-o", r.bin, "github.com/carnetdesk/carnet")
	build.Env = os.Environ()
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	for _, d := range []string{"home", "config", "data", "cache", "vault"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	// A private display (startXvfb); one that lost the race for its
	// number to another X server is started again elsewhere.
	for try := 1; ; try++ {
		if r.startXvfb(tb) {
			break
		}
		if try == 10 {
			tb.Fatal("no Xvfb display of ours answered after 10 starts")
		}
	}
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("une phrase de passe assez longue"), 0o600); err != nil {
		tb.Fatal(err)
	}
	init := exec.Command(r.bin, "vault", "init", "--data", filepath.Join(dir, "vault"), "--passphrase-file", pass, "--no-keyring", "--insecure-test-kdf")
	init.Env = r.env
	if out, err := init.CombinedOutput(); err != nil {
		tb.Fatalf("vault init: %v\n%s", err, out)
	}
	return r
}

// startXvfb starts a private Xvfb and sets r.display and r.env; false when
// the display is not ours. Displays are picked at random among high
// numbers, and the screen's width is unique to this start: X servers of
// other processes (their abstract sockets are shared even when /tmp is
// not) are told apart by their geometry.
func (r *rig) startXvfb(tb testing.TB) bool {
	tb.Helper()
	n := 200 + rand.IntN(700)
	width := 1200 + rand.IntN(200)
	geom := fmt.Sprintf("%dx800x24", width)
	xvfb := exec.Command("Xvfb", fmt.Sprintf(":%d", n), "-screen", "0", geom, "-nolisten", "tcp", "-br", "-noreset")
	if err := xvfb.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = xvfb.Wait(); close(exited) }()
	tb.Cleanup(func() { _ = xvfb.Process.Kill(); <-exited })
	r.display = fmt.Sprintf(":%d", n)
	dir := r.dir
	r.env = append(filterEnv(os.Environ(), "DISPLAY", "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY", "LANG"),
		"DISPLAY="+r.display, "HOME="+filepath.Join(dir, "home"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"), "LANG=fr_FR.UTF-8")
	want := fmt.Sprintf("%d 800", width)
	for i := 0; i < 50; i++ {
		select {
		case <-exited:
			return false // the display was taken
		default:
		}
		check := exec.Command("xdotool", "getdisplaygeometry")
		check.Env = r.env
		if out, err := check.Output(); err == nil {
			if strings.TrimSpace(string(out)) == want {
				return true
			}
			break // another server answers on this display
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = xvfb.Process.Kill()
	return false
}

func filterEnv(env []string, drop ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, d := range drop {
			if strings.HasPrefix(kv, d+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// window returns the id of a visible window named Carnet…, or "".
func (r *rig) window() string {
	cmd := exec.Command("xdotool", "search", "--onlyvisible", "--name", "^Carnet")
	cmd.Env = r.env
	out, _ := cmd.Output()
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// drawn reports whether the window shows more than a flat background:
// the unlock screen has text, an entry and a button (hundreds of colours
// with anti-aliasing); an undrawn window has one or two.
func (r *rig) drawn(wid string) bool {
	cmd := exec.Command("import", "-window", wid, "png:-")
	cmd.Env = r.env
	out, err := cmd.Output()
	if err != nil {
		return false
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		return false
	}
	return colours(img, 16) > 8
}

// colours counts distinct colours, up to limit.
func colours(img image.Image, limit int) int {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			seen[[3]uint32{cr, cg, cb}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// start runs the desktop app on the vault and returns the time from the
// process start to its unlock screen drawn; the app is then stopped.
func (r *rig) start(tb testing.TB) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a hang guard only
	defer cancel()
	app := exec.Command(r.bin, "--data", filepath.Join(r.dir, "vault"))
	app.Env = r.env
	var log bytes.Buffer
	app.Stdout, app.Stderr = &log, &log
	t0 := time.Now()
	if err := app.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- app.Wait() }()
	defer func() {
		_ = app.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = app.Process.Kill()
			<-exited
		}
	}()
	for {
		select {
		case err := <-exited:
			exited <- err
			tb.Fatalf("the app exited before its window: %v\n%s", err, log.String())
		case <-ctx.Done():
			tb.Fatalf("no unlock screen drawn in 3 minutes\n%s", log.String())
		default:
		}
		if wid := r.window(); wid != "" {
			at := time.Now()
			if r.drawn(wid) {
				// The capture began when the screen was drawn already.
				return at.Sub(t0)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStartupUnlockScreen: the real binary on a real vault shows its
// unlock screen under Xvfb, and stops on SIGTERM.
func TestStartupUnlockScreen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the binary")
	}
	r := newRig(t)
	t.Logf("unlock screen drawn %s after the process start (cold)", r.start(t))
}

// BenchmarkStartup: process start to the unlock screen drawn (the real
// binary, Xvfb, a vault created by `carnet vault init`), warm: one start
// before the timer fills the page cache. Goal ≤ 1.5 s. The figure is the
// start of the first screen capture that shows the drawn screen, so it
// may exceed the true time by one polling step (a window search and a
// capture, about 50 ms).
func BenchmarkStartup(b *testing.B) {
	r := newRig(b)
	r.start(b) // warm
	var total time.Duration
	n := 0
	// The timer runs through each whole start and stop, so that b.Loop
	// sizes the run on the real cost of an iteration (with the timer
	// stopped it saw none and kept adding starts until the test timeout);
	// the figure reported is the mean start alone.
	for b.Loop() {
		total += r.start(b)
		n++
	}
	mean := total / time.Duration(n)
	b.ReportMetric(float64(mean.Nanoseconds()), "ns/op") // the start, not the stop
	b.ReportMetric(float64(mean.Milliseconds()), "ms/start")
}

// TestHeadlessNoGUINoise: the commands a clinic's IT schedules print no
// GUI noise under LANG=C (Fyne's "Error parsing user locale C"), and
// --help exits with status 0.
func TestHeadlessNoGUINoise(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	r := newRig(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"--help"}, 0},
		{[]string{"sync", "--help"}, 0},
		{[]string{"version"}, 0},
		{[]string{"sync", "--data", filepath.Join(r.dir, "vault"), "--config", filepath.Join(r.dir, "absent.toml")}, 1},
		{[]string{"vault", "check", "--data", filepath.Join(r.dir, "vault"), "--passphrase-file", filepath.Join(r.dir, "pass"), "--no-keyring"}, 0},
	} {
		cmd := exec.Command(r.bin, tc.args...)
		cmd.Env = append(filterEnv(r.env, "LANG", "LC_ALL", "DISPLAY"), "LANG=C", "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("carnet %v: status %d, want %d\n%s", tc.args, code, tc.code, out)
		}
		if strings.Contains(string(out), "Fyne") || strings.Contains(string(out), "locale") {
			t.Errorf("carnet %v printed GUI noise:\n%s", tc.args, out)
		}
	}
}
