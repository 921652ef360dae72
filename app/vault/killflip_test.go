package vault

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnetdesk/carnet/app"
)

// The kill -9 and bit-flip runs of the hostile review, kept as tests.

const passChangeEnv = "CARNET_VAULT_PASSCHANGE_CHILD"

var changePasses = [2][]byte{testPass, otherPass}

// TestCrashDuringPassphraseChange kills a child process that changes the
// passphrase back and forth (slot rewrite, counter, compaction, rename)
// with SIGKILL at a random moment, 75 times (15 with -short). After each
// kill the vault opens with one of the two passphrases and passes Check;
// it is never "older than the last one used" (the counter's mirror is
// written after the file), and no compaction copy survives the next open.
func TestCrashDuringPassphraseChange(t *testing.T) {
	runs := 75
	if testing.Short() {
		runs = 15
	}
	path := filepath.Join(t.TempDir(), "carnet.vault")
	v, err := Open(path, crashOptions())
	mustOK(t, err)
	mustOK(t, v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{}))
	mustOK(t, v.Write(ctx, patientBatch(synthPatient(70), 3, 4000)))
	mustOK(t, v.Close())
	opened := [2]int{}
	for run := 0; run < runs; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPassChangeChild$")
		cmd.Env = append(os.Environ(), passChangeEnv+"="+path)
		mustOK(t, cmd.Start())
		time.Sleep(time.Duration(5+rand.IntN(196)) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()

		v, err := Open(path, crashOptions())
		if err != nil {
			t.Fatalf("run %d: open: %v", run, err)
		}
		if left, _ := filepath.Glob(path + ".compact-*"); len(left) != 0 {
			t.Fatalf("run %d: compaction copies left after open: %v", run, left)
		}
		which := -1
		for i, p := range changePasses {
			if _, err := v.Unlock(ctx, append([]byte(nil), p...)); err == nil {
				which = i
				break
			} else if !strings.Contains(err.Error(), app.ErrWrongPassphrase.Error()) {
				t.Fatalf("run %d: unlock: %v", run, err)
			}
		}
		if which < 0 {
			t.Fatalf("run %d: neither passphrase opens the vault", run)
		}
		opened[which]++
		if rep, err := v.Check(ctx); err != nil || !rep.OK() {
			t.Fatalf("run %d: check: %v %v", run, err, rep.Problems)
		}
		mustOK(t, v.Close())
	}
	t.Logf("%d kills: opened %d times with the first passphrase, %d with the second, 0 damaged", runs, opened[0], opened[1])
}

// TestPassChangeChild is the child of TestCrashDuringPassphraseChange.
func TestPassChangeChild(t *testing.T) {
	path := os.Getenv(passChangeEnv)
	if path == "" {
		t.Skip("child process only")
	}
	v, err := Open(path, crashOptions())
	mustOK(t, err)
	cur := -1
	for i, p := range changePasses {
		if _, err := v.Unlock(ctx, append([]byte(nil), p...)); err == nil {
			cur = i
			break
		}
	}
	if cur < 0 {
		t.Fatal("no passphrase opens the vault")
	}
	for {
		next := 1 - cur
		if err := v.ChangePassphrase(ctx, append([]byte(nil), changePasses[cur]...), append([]byte(nil), changePasses[next]...)); err != nil {
			t.Fatal(err)
		}
		cur = next
	}
}

const flipEnv = "CARNET_VAULT_FLIP_CHILD"

// flipRuns is the number of corrupted copies TestBitFlips tries.
const flipRuns = 135

// TestBitFlips corrupts a real vault file with 1 to 4 random byte flips,
// 135 times, in a child process (bbolt may abort the process on a
// corrupted page structure, see TestRandomFileCorruption: such a run is
// counted, and the child restarted from the next run). Every run must end
// in a clear error or intact data: wrong data is never returned.
func TestBitFlips(t *testing.T) {
	outcomes := map[string]int{}
	start := 0
	for start < flipRuns {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBitFlipChild$")
		cmd.Env = append(os.Environ(), flipEnv+"="+strconv.Itoa(start), "CARNET_VAULT_FLIP_DIR="+t.TempDir())
		out, _ := cmd.CombinedOutput()
		next := start
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "WRONG") {
				t.Fatalf("wrong data returned from a corrupted file: %s", line)
			}
			if rest, ok := strings.CutPrefix(line, "RUN "); ok {
				i, outcome, _ := strings.Cut(rest, " ")
				n, err := strconv.Atoi(i)
				if err != nil {
					t.Fatalf("child: %q", line)
				}
				outcomes[outcome]++
				next = n + 1
			}
		}
		if next < flipRuns {
			if next == start && !strings.Contains(string(out), "fatal error") && !strings.Contains(string(out), "panic") && !strings.Contains(string(out), "SIG") {
				t.Fatalf("child made no progress from run %d: %s", start, out)
			}
			outcomes["process aborted (bbolt page structure)"]++
			next++
		}
		start = next
	}
	t.Logf("%d corrupted copies: %v", flipRuns, outcomes)
}

// TestBitFlipChild runs corrupted copies from run CARNET_VAULT_FLIP_CHILD
// on, printing one line per run.
func TestBitFlipChild(t *testing.T) {
	s := os.Getenv(flipEnv)
	if s == "" {
		t.Skip("child process only")
	}
	start, err := strconv.Atoi(s)
	mustOK(t, err)
	opt := testOptions()
	path := filepath.Join(os.Getenv("CARNET_VAULT_FLIP_DIR"), "carnet.vault")
	v, err := Open(path, opt)
	mustOK(t, err)
	mustOK(t, v.Create(ctx, append([]byte(nil), testPass...), app.CreateOptions{}))
	p := synthPatient(50)
	b := patientBatch(p, 5, 3000)
	mustOK(t, v.Write(ctx, b))
	mustOK(t, v.Close())
	orig, err := os.ReadFile(path)
	mustOK(t, err)
	for i := start; i < flipRuns; i++ {
		rng := rand.New(rand.NewPCG(uint64(i), 15))
		raw := bytes.Clone(orig)
		for j := 0; j < 1+rng.IntN(4); j++ {
			raw[rng.IntN(len(raw))] ^= byte(1 + rng.IntN(255))
		}
		mustOK(t, os.WriteFile(path, raw, 0o600))
		forgetMirror(t, opt, path) // each run starts from the same original
		fmt.Printf("RUN %d %s\n", i, flipOutcome(path, opt, p, b))
	}
}

// flipOutcome is corruptRun that prints WRONG instead of failing, so that
// the parent sees it.
func flipOutcome(path string, opt Options, p app.Patient, b *app.Batch) string {
	v, err := Open(path, opt)
	if err != nil {
		return "open:" + flipKind(err)
	}
	defer v.Close()
	if _, err := v.Unlock(ctx, append([]byte(nil), testPass...)); err != nil {
		return "unlock:" + flipKind(err)
	}
	for _, d := range b.Documents {
		got, err := v.Document(ctx, p.ID, d.ID)
		if err != nil {
			return "read:" + flipKind(err)
		}
		if !bytes.Equal(got, d.Bytes) {
			fmt.Println("WRONG document", d.ID)
			return "wrong"
		}
	}
	if rep, err := v.Check(ctx); err != nil || !rep.OK() {
		return "check:problems"
	}
	return "intact"
}

// flipKind names the kind of err in one word ("other" for an error of no
// kind).
func flipKind(err error) string {
	if k := app.KindOf(err); k != nil {
		return strings.ReplaceAll(k.Error(), " ", "_")
	}
	return "other"
}
