package profiler

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/devices/devicetest"
	"github.com/edgefit/edgefit/internal/ortlib"
	"github.com/edgefit/edgefit/profiler/agent/agenttest"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/timing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	agenttest.Cleanup()
	os.Exit(code)
}

// agentPath is the edgefit-agent built for this machine by requireAgent.
var agentPath string

// requireAgent skips a test that profiles in -short mode or without ONNX
// Runtime, and builds the agent once.
func requireAgent(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("profiles with the real agent; skipped in -short mode")
	}
	requireORT(t)
	agentPath = agenttest.Build(t, runtime.GOOS, runtime.GOARCH)
}

// quickOptions profile one small resolution briefly: enough to exercise
// every path without spending minutes.
func quickOptions(journal string) Options {
	o := DefaultOptions("ofa-mbv3-w1.0")
	o.Resolutions = []int{128}
	o.Networks = 2
	o.Journal = journal
	o.Agent.Agent = agentPath
	o.BatchModels = 20
	o.Measure = Measurement{Warmup: 1, MinRuns: 5, MaxRuns: 8, MaxTime: 200 * time.Millisecond, MaxCooldown: -1,
		// Other work shares this machine: hold the reference loosely so
		// that noise does not triple the test's time. TestDrift checks it.
		DriftThreshold: 0.3}
	return o
}

// checkJournal asserts that the journal at path measured every id of the
// table exactly once and nothing else.
func checkJournal(t *testing.T, path string, table *lut.LUT) *Journal {
	t.Helper()
	j, err := LoadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if j.Duplicates != 0 {
		t.Errorf("journal measured %d items twice", j.Duplicates)
	}
	count := map[string]int{}
	for _, rec := range j.Records {
		if id := rec.id(); id != "" {
			count[id]++
		}
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("%s measured %d times", id, n)
		}
	}
	if table != nil {
		want := len(table.Entries) + len(table.Networks)
		if len(count) != want {
			t.Errorf("journal has %d measurements, table %d", len(count), want)
		}
		for _, e := range table.Entries {
			if count[itemID(recEntry, e.Resolution, e.Key)] != 1 {
				t.Errorf("table entry %d/%s not measured once in the journal", e.Resolution, e.Key)
			}
		}
	}
	return j
}

func TestRunLocal(t *testing.T) {
	requireAgent(t)
	dir := t.TempDir()
	o := quickOptions(filepath.Join(dir, "local.lut.json.journal"))
	var last Progress
	calls := 0
	o.Progress = func(p Progress) { last = p; calls++ }
	tg := devices.NewLocal()
	table, err := Run(context.Background(), tg, o)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := o.validateStatic()
	if got, want := len(table.Entries), len(sp.DistinctLayers(128)); got != want {
		t.Errorf("%d entries, want %d", got, want)
	}
	if len(table.Networks) != 2 {
		t.Errorf("%d networks, want 2", len(table.Networks))
	}
	if miss, _ := table.Missing(128); len(miss) != 0 {
		t.Errorf("missing %d layers", len(miss))
	}
	if table.Runtime.Name != "onnxruntime" || table.Runtime.Version == "" || table.Runtime.Threads != 1 || table.Runtime.Provider != "cpu" || table.Runtime.Batch != 1 {
		t.Errorf("runtime %+v", table.Runtime)
	}
	if len(table.FingerprintBefore) == 0 || len(table.FingerprintAfter) == 0 {
		t.Error("fingerprints missing")
	}
	if table.Settings.MinRuns != 5 || !table.Settings.Shuffled || table.Settings.Extra["reference"] == "" {
		t.Errorf("settings %+v", table.Settings)
	}
	for _, e := range table.Entries {
		if e.Stats.N < 5 || e.Stats.N > 8 || !(e.Stats.Median > 0) || e.Stats.P10 > e.Stats.Median || e.Stats.Median > e.Stats.P90 {
			t.Errorf("entry %s stats %+v", e.Key, e.Stats)
			break
		}
	}
	if calls < 2 || last.Done != last.Total || last.Total != len(table.Entries)+2 {
		t.Errorf("progress: %d calls, last %+v", calls, last)
	}
	checkJournal(t, o.Journal, table)

	// The same command again measures nothing and gives the same table.
	o.Progress = nil
	start := time.Now()
	again, err := Run(context.Background(), tg, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Entries) != len(table.Entries) || again.Entries[0].Stats != table.Entries[0].Stats {
		t.Error("rerun of a finished journal changed the table")
	}
	checkJournal(t, o.Journal, again)
	t.Logf("profile of %d models; rerun from the journal took %v", len(table.Entries)+2, time.Since(start))

	// Another setting with the same journal is refused, naming it.
	o.Threads = 2
	_, err = Run(context.Background(), tg, o)
	var sc *SettingsChangedError
	if !errors.As(err, &sc) || !strings.Contains(err.Error(), "threads was 1, now 2") {
		t.Errorf("changed threads: err = %v", err)
	}
}

// TestRunResume cancels a profile after its second batch and reruns it:
// the rerun measures only what is missing, and no item twice.
func TestRunResume(t *testing.T) {
	requireAgent(t)
	dir := t.TempDir()
	o := quickOptions(filepath.Join(dir, "x.lut.json.journal"))
	o.BatchModels = 12
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stoppedAt := 0
	o.Progress = func(p Progress) {
		if p.Batch == 2 {
			stoppedAt = p.Done
			cancel()
		}
	}
	tg := devices.NewLocal()
	_, err := Run(ctx, tg, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: err = %v, want context.Canceled", err)
	}
	j := checkJournal(t, o.Journal, nil)
	e, n := j.Measured()
	if e+n != stoppedAt || stoppedAt == 0 {
		t.Fatalf("journal holds %d measurements after cancelling at %d", e+n, stoppedAt)
	}

	// Resume: the plan knows what is done.
	o.Progress = nil
	p, err := NewPlan(context.Background(), tg, o)
	if err != nil {
		t.Fatal(err)
	}
	if p.Done != stoppedAt || p.Remaining() != p.Entries+p.NetworksAll-stoppedAt {
		t.Errorf("plan: done %d remaining %d of %d", p.Done, p.Remaining(), p.Entries+p.NetworksAll)
	}
	table, err := p.Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkJournal(t, o.Journal, table)
	if len(table.Networks) != 2 {
		t.Errorf("%d networks", len(table.Networks))
	}
}

// TestRunSSH profiles through a real OpenSSH server on loopback: agent and
// library deployed over SFTP, batches pushed as tar archives.
func TestRunSSH(t *testing.T) {
	requireAgent(t)
	sshd := devicetest.StartSSHD(t)
	ctx := context.Background()
	tg, err := devices.Open(ctx, sshd.URL, sshd.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	o := quickOptions(filepath.Join(t.TempDir(), "ssh.lut.json.journal"))
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	table, err := Run(ctx, tg, o)
	if err != nil {
		t.Fatal(err)
	}
	if table.Target != sshd.URL || len(table.Networks) != 2 {
		t.Errorf("target %q, %d networks", table.Target, len(table.Networks))
	}
	if miss, _ := table.Missing(128); len(miss) != 0 {
		t.Errorf("missing %d layers", len(miss))
	}
	checkJournal(t, o.Journal, table)
	path := filepath.Join(t.TempDir(), "ssh.lut.json")
	if err := table.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := lut.Load(path); err != nil {
		t.Fatal(err)
	}
}

// TestRunBrokenRuntime: an ONNX Runtime library that does not load is a
// RuntimeError before anything is measured, and no journal is left.
func TestRunBrokenRuntime(t *testing.T) {
	requireAgent(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "libonnxruntime.so.1")
	if err := os.WriteFile(bad, []byte("not a shared library"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := quickOptions(filepath.Join(dir, "x.lut.json.journal"))
	o.Agent.ORTLib = bad
	_, err := Run(context.Background(), devices.NewLocal(), o)
	var re *RuntimeError
	if !errors.As(err, &re) || re.Hint() == "" {
		t.Fatalf("err = %v, want *RuntimeError", err)
	}
	t.Logf("error: %v\nhint: %s", err, re.Hint())
	if _, err := os.Stat(o.Journal); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal written despite the failure: %v", err)
	}
}

// TestRunDeviceFull profiles into a 1 MiB tmpfs on the "device": the push
// of the first batch fills it, which must read as a full device, with the
// journal (baseline) intact and resumable.
func TestRunDeviceFull(t *testing.T) {
	requireAgent(t)
	if os.Geteuid() != 0 {
		t.Skip("mounting a tiny tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	o := quickOptions(filepath.Join(t.TempDir(), "x.lut.json.journal"))
	o.DeviceDir = mnt
	_, err := Run(context.Background(), devices.NewLocal(), o)
	var full *DeviceFullError
	if !errors.As(err, &full) || full.Host || !strings.Contains(err.Error(), "no space left on device local") {
		t.Fatalf("err = %v, want a *DeviceFullError for the device", err)
	}
	t.Logf("error: %v\nhint: %s", err, full.Hint())
	j := checkJournal(t, o.Journal, nil)
	if j.Header.Journal == "" {
		t.Error("journal lost its header")
	}
}

// TestRunCorruptJournal: a damaged line in the middle of the journal stops
// the run with an error naming it, and the journal is left untouched.
func TestRunCorruptJournal(t *testing.T) {
	requireAgent(t)
	dir := t.TempDir()
	o := quickOptions(filepath.Join(dir, "x.lut.json.journal"))
	o.Networks = 0
	o.Resolutions = []int{96}
	if _, err := Run(context.Background(), devices.NewLocal(), o); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(o.Journal)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	lines[5] = `{"kind":"entry","r":96,` + "\n" // half a record, newline intact
	bad := []byte(strings.Join(lines, ""))
	if err := os.WriteFile(o.Journal, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), devices.NewLocal(), o)
	var je *JournalError
	if !errors.As(err, &je) || je.Line != 6 || je.Intact < 90 {
		t.Fatalf("err = %v, want a *JournalError at line 6 with the rest intact", err)
	}
	t.Logf("error: %v\nhint: %s", err, je.Hint())
	after, _ := os.ReadFile(o.Journal)
	if string(after) != string(bad) {
		t.Error("the failed run changed the journal")
	}
	// --restart sets it aside rather than deleting it.
	o.Restart = true
	if _, err := Run(context.Background(), devices.NewLocal(), o); err != nil {
		t.Fatal(err)
	}
	aside, _ := filepath.Glob(o.Journal + ".old-*")
	if len(aside) != 1 {
		t.Fatalf("set-aside journals: %v", aside)
	}
	if kept, _ := os.ReadFile(aside[0]); string(kept) != string(bad) {
		t.Error("the set-aside journal differs from the original")
	}
}

// slowRunner measures for real and then scales every result by
// factor(batch, attempt), as a device whose clock dropped would show. (A
// busy loop on the same core cannot stand in: runs are shorter than a
// scheduler time slice, so the median of a time-shared core barely moves.)
// Batch 0 is the baseline; a call with the same models as the one before
// is another attempt at the same batch. It remembers, per call, the factor
// and the last reference median it returned.
type slowRunner struct {
	runner
	factor         func(batch, attempt int) float64
	calls          []slowCall
	last           string
	batch, attempt int
}

type slowCall struct {
	factor, refMedian float64
}

func (s *slowRunner) Measure(ctx context.Context, models []runModel) ([]runResult, error) {
	var names []string
	for _, m := range models {
		names = append(names, m.Name)
	}
	if key := strings.Join(names, ","); key != s.last || len(s.calls) == 0 {
		if len(s.calls) > 0 {
			s.batch++
		}
		s.last, s.attempt = key, 1
	} else {
		s.attempt++
	}
	f := s.factor(s.batch, s.attempt)
	res, err := s.runner.Measure(ctx, models)
	for i := range res {
		st := &res[i].Stats
		st.Median, st.Mean, st.P10, st.P90, st.Std = st.Median*f, st.Mean*f, st.P10*f, st.P90*f, st.Std*f
	}
	c := slowCall{factor: f}
	if n := 3; len(res) >= n { // the default reference sessions close every call
		c.refMedian = timing.Median(sessionMedians(res[len(res)-n:]))
	}
	s.calls = append(s.calls, c)
	return res, err
}

func withSlowdown(t *testing.T, factor func(batch, attempt int) float64) **slowRunner {
	orig := runnerFactories[RunnerAgent]
	var sr *slowRunner
	runnerFactories[RunnerAgent] = func(ctx context.Context, p *Plan) (runner, error) {
		r, err := orig(ctx, p)
		if err != nil {
			return nil, err
		}
		sr = &slowRunner{runner: r, factor: factor}
		return sr, nil
	}
	t.Cleanup(func() { runnerFactories[RunnerAgent] = orig })
	return &sr
}

// TestRunDrift slows batch 2 down threefold, as when a phone throttles (so
// that the load of other work on this machine cannot hide it), in its first
// attempt or in all of them.
func TestRunDrift(t *testing.T) {
	requireAgent(t)
	for _, tc := range []struct {
		name                string
		slow                func(batch, attempt int) bool
		remeasured, rebased int     // at least
		keptFactor          float64 // of the call whose batch 2 was kept
	}{
		// A passing slowdown during batch 2: measured again, not kept.
		{"transient", func(b, a int) bool { return b == 2 && a == 1 }, 1, 0, 1},
		// A lasting one (batch 2 and both retries), then back to normal:
		// batch 2 is kept slow after its retries; batch 3 is then fast
		// against it, and is kept after its retries too.
		{"lasting", func(b, a int) bool { return b == 2 }, 4, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srp := withSlowdown(t, func(b, a int) float64 {
				if tc.slow(b, a) {
					return 3
				}
				return 1
			})
			o := quickOptions(filepath.Join(t.TempDir(), "x.lut.json.journal"))
			o.Resolutions, o.Networks = []int{96}, 0
			o.BatchModels = 30
			o.Measure.DriftThreshold = 0.2
			p, err := NewPlan(context.Background(), devices.NewLocal(), o)
			if err != nil {
				t.Fatal(err)
			}
			table, err := p.Execute(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if p.Remeasured < tc.remeasured || p.Rebaselined < tc.rebased {
				t.Errorf("remeasured %d batches, rebaselined %d times; want at least %d and %d", p.Remeasured, p.Rebaselined, tc.remeasured, tc.rebased)
			}
			j := checkJournal(t, o.Journal, table)
			rebase, found := 0, false
			for _, rec := range j.Records {
				if rec.Kind != recReference {
					continue
				}
				if rec.Note == "rebaseline" {
					rebase++
				}
				if rec.Batch != 2 {
					continue
				}
				for _, c := range (*srp).calls {
					if c.refMedian == rec.Stats.Median {
						found = true
						if c.factor != tc.keptFactor {
							t.Errorf("batch 2 kept from a call slowed %gx, want %gx", c.factor, tc.keptFactor)
						}
					}
				}
			}
			if !found {
				t.Error("batch 2's reference matches no runner call")
			}
			if rebase != p.Rebaselined {
				t.Errorf("journal records %d rebaselines, plan %d", rebase, p.Rebaselined)
			}
		})
	}
}

// TestRunADB profiles through the real adb client against the fake phone
// of devices/adbfake (which runs host binaries, so the Linux agent stands
// in for an NDK build): the mobile class's defaults and adb's push and
// shell paths end to end.
func TestRunADB(t *testing.T) {
	requireAgent(t)
	adb := devicetest.StartADB(t, nil)
	ctx := context.Background()
	tg, err := devices.Open(ctx, adb.URL, adb.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	lib, err := ortlib.CachedPath(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	o := quickOptions(filepath.Join(t.TempDir(), "adb.lut.json.journal"))
	o.Networks = 1
	o.Agent.ORTLib = lib
	p, err := NewPlan(ctx, tg, o)
	if err != nil {
		t.Fatal(err)
	}
	if p.Class != ClassMobile {
		t.Errorf("class %q, want %q", p.Class, ClassMobile)
	}
	table, err := p.Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if miss, _ := table.Missing(128); len(miss) != 0 || len(table.Networks) != 1 {
		t.Errorf("missing %d layers, %d networks", len(miss), len(table.Networks))
	}
	checkJournal(t, o.Journal, table)
}
