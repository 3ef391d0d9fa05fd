package profiler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgefit/edgefit/devices"
)

// agentDir holds the edgefit-agent built for the tests that profile.
var agentDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if agentDir != "" {
		os.RemoveAll(agentDir)
	}
	os.Exit(code)
}

var agentOnce struct {
	sync.Once
	err error
}

// requireAgent skips a test that profiles when ONNX Runtime is missing,
// and builds the agent once (unless EDGEFIT_AGENT names one).
func requireAgent(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("profiles with the real agent; skipped in -short mode")
	}
	requireORT(t)
	agentOnce.Do(func() {
		if os.Getenv(EnvAgent) != "" {
			return
		}
		dir, err := os.MkdirTemp("", "edgefit-agent-test-")
		if err != nil {
			agentOnce.err = err
			return
		}
		agentDir = dir
		bin := filepath.Join(dir, "edgefit-agent")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/edgefit/edgefit/cmd/edgefit-agent")
		if out, err := cmd.CombinedOutput(); err != nil {
			agentOnce.err = fmt.Errorf("go build edgefit-agent: %v\n%s", err, out)
			return
		}
		os.Setenv(EnvAgent, bin)
	})
	if agentOnce.err != nil {
		t.Fatal(agentOnce.err)
	}
}

// quickOptions profile one small resolution briefly: enough to exercise
// every path without spending minutes.
func quickOptions(journal string) Options {
	o := DefaultOptions("ofa-mbv3-w1.0")
	o.Resolutions = []int{128}
	o.Networks = 2
	o.Journal = journal
	o.BatchModels = 20
	o.Measure = Measurement{Warmup: 1, MinRuns: 5, MaxRuns: 8, MaxTime: 200 * time.Millisecond, MaxCooldown: -1}
	return o
}

// checkJournal asserts that the journal at path measured every id of the
// table exactly once and nothing else.
func checkJournal(t *testing.T, path string, lut *LUT) *Journal {
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
	if lut != nil {
		want := len(lut.Entries) + len(lut.Networks)
		if len(count) != want {
			t.Errorf("journal has %d measurements, table %d", len(count), want)
		}
		for _, e := range lut.Entries {
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
	lut, err := Run(context.Background(), tg, o)
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := o.validateStatic()
	if got, want := len(lut.Entries), len(sp.DistinctLayers(128)); got != want {
		t.Errorf("%d entries, want %d", got, want)
	}
	if len(lut.Networks) != 2 {
		t.Errorf("%d networks, want 2", len(lut.Networks))
	}
	if miss, _ := lut.Missing(128); len(miss) != 0 {
		t.Errorf("missing %d layers", len(miss))
	}
	if lut.Runtime.Name != "onnxruntime" || lut.Runtime.Version == "" || lut.Runtime.Threads != 1 || lut.Runtime.Provider != "cpu" || lut.Runtime.Batch != 1 {
		t.Errorf("runtime %+v", lut.Runtime)
	}
	if len(lut.FingerprintBefore) == 0 || len(lut.FingerprintAfter) == 0 {
		t.Error("fingerprints missing")
	}
	if lut.Settings.MinRuns != 5 || !lut.Settings.Shuffled || lut.Settings.Extra["reference"] == "" {
		t.Errorf("settings %+v", lut.Settings)
	}
	for _, e := range lut.Entries {
		if e.Stats.N < 5 || e.Stats.N > 8 || !(e.Stats.Median > 0) || e.Stats.P10 > e.Stats.Median || e.Stats.Median > e.Stats.P90 {
			t.Errorf("entry %s stats %+v", e.Key, e.Stats)
			break
		}
	}
	if calls < 2 || last.Done != last.Total || last.Total != len(lut.Entries)+2 {
		t.Errorf("progress: %d calls, last %+v", calls, last)
	}
	checkJournal(t, o.Journal, lut)

	// The same command again measures nothing and gives the same table.
	o.Progress = nil
	start := time.Now()
	again, err := Run(context.Background(), tg, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Entries) != len(lut.Entries) || again.Entries[0].Stats != lut.Entries[0].Stats {
		t.Error("rerun of a finished journal changed the table")
	}
	checkJournal(t, o.Journal, again)
	t.Logf("profile of %d models; rerun from the journal took %v", len(lut.Entries)+2, time.Since(start))

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
	lut, err := p.Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkJournal(t, o.Journal, lut)
	if len(lut.Networks) != 2 {
		t.Errorf("%d networks", len(lut.Networks))
	}
}
