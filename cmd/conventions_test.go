package cmd

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/timing"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
)

// TestLineHandler pins edgefit's one log line format.
func TestLineHandler(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(newLineHandler(&b, slog.LevelDebug))
	log.Info("reusing the table", "path", "/tmp/a b.lut.json", "entries", 96)
	log.Warn("governor is not performance", "governor", "ondemand")
	log.With("device", "local").WithGroup("ref").Debug("drifted", "ms", 0.25, "at", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	log.Error("gone", slog.Group("g", "k", ""))
	want := `edgefit: reusing the table path="/tmp/a b.lut.json" entries=96
edgefit: warning: governor is not performance governor=ondemand
edgefit: debug: drifted device=local ref.ms=0.25 ref.at=2026-01-02T03:04:05Z
edgefit: error: gone g.k=""
`
	if b.String() != want {
		t.Errorf("log lines:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	quiet := slog.New(newLineHandler(&b, slog.LevelWarn))
	quiet.Info("status")
	if b.Len() != 0 {
		t.Errorf("--log-level warn printed %q", b.String())
	}
}

// TestStderrInAPipe: without a terminal, stderr has edgefit's status
// lines only: no periodic progress ("searching: 24/240", "training the
// accuracy MLP: 3/6") and no other log format ("time=... level=INFO").
func TestStderrInAPipe(t *testing.T) {
	_, pred := note10Predictor(t)
	_, stderr, err := run(t, "select", "--predictor", pred, "--max-latency", "20ms", "--acc", accuracyCSVFor(t), "--top", "2")
	if err != nil {
		t.Fatal(err)
	}
	progress := regexp.MustCompile(`(?m)^[\w ]+: \d+/\d+`)
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "edgefit: ") || progress.MatchString(line) || strings.Contains(line, "level=") || strings.Contains(line, "time=") {
			t.Errorf("stderr line %q is not an edgefit status line", line)
		}
	}
}

// accuracyCSVFor is a small CSV of measured subnets of the w1.2 space (the
// accuracy fit reports progress too).
func accuracyCSVFor(t *testing.T) string {
	s, _ := supernet.NewSpace(1.2)
	return accuracyCSV(t, s, 30, []int{160, 192, 224})
}

// TestLimitFlags: units are required on latency and memory, with a
// suggestion; --max-flops is --max-macs; a share is a relative limit.
func TestLimitFlags(t *testing.T) {
	for _, tc := range []struct {
		flags limitFlags
		want  search.Limits
		err   string
	}{
		{limitFlags{Latency: "20ms", Memory: "40MB", Params: "5M", MACs: "300M"}, search.Limits{MaxLatencyMS: 20, MaxMemory: 40e6, MaxParams: 5e6, MaxMACs: 3e8}, ""},
		{limitFlags{Flops: "300M"}, search.Limits{MaxMACs: 3e8}, ""},
		{limitFlags{Flops: "300M", MACs: "300M"}, search.Limits{MaxMACs: 3e8}, ""},
		{limitFlags{Latency: "60%", Memory: "50%"}, search.Limits{Share: search.Shares{Latency: 0.6, Memory: 0.5}}, ""},
		{limitFlags{Latency: "20"}, search.Limits{}, "--max-latency: latency \"20\" has no unit: did you mean 20ms?"},
		{limitFlags{Memory: "40"}, search.Limits{}, "did you mean 40MB?"},
		{limitFlags{Flops: "300M", MACs: "200M"}, search.Limits{}, "--max-flops 300M and --max-macs 200M disagree"},
		{limitFlags{Params: "150%"}, search.Limits{}, "--max-params: share \"150%\" is not a percentage in (0, 100]"},
		{limitFlags{}, search.Limits{}, "no limit given: set at least one of --max-latency, --max-memory, --max-params, --max-macs"},
	} {
		got, err := tc.flags.parse()
		if tc.err != "" {
			if err == nil || ExitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: %v (exit %d), want a usage error with %q", tc.flags, err, ExitCodeOf(err), tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: %+v, %v; want %+v", tc.flags, got, err, tc.want)
		}
	}
}

// TestRunOldCacheFlag: run's --cache, now --lut-cache, is still taken:
// the run gets past its flags to the unreachable target.
func TestRunOldCacheFlag(t *testing.T) {
	dir := t.TempDir()
	_, _, err := run(t, "run", "ssh://nobody@127.0.0.1:1", "--cache", filepath.Join(dir, "c"), "-o", filepath.Join(dir, "out"), "--max-latency", "1s",
		"--ssh-config", "none", "--known-hosts", filepath.Join(dir, "kh"))
	if err == nil || ExitCodeOf(err) != ExitFailure || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("run --cache: %v (exit %d), want the unreachable target's failure", err, ExitCodeOf(err))
	}
}

// TestTextOutputs: what people read has no empty fields, no Go values
// and numbers with their digits: lut show's runtime line of an imported
// table (which knows no version, provider or threads), predictor eval's
// Spearman.
func TestTextOutputs(t *testing.T) {
	dir := t.TempDir()
	table := importNote10(t, dir)
	out, _, err := run(t, "lut", "show", table)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^runtime:\s+(.*)$`).FindStringSubmatch(out)
	if m == nil || m[1] == "" || regexp.MustCompile(` ,|, ,|,\s*$|\b0 thread`).MatchString(m[1]) {
		t.Errorf("lut show's runtime line %q has empty fields:\n%s", m, out)
	}

	// A held-out table whose subnets the predictor ranks perfectly.
	pred := fitPredictor(t, table)
	tbl, err := lut.Load(table)
	if err != nil {
		t.Fatal(err)
	}
	p, err := predictor.LoadLatencyPredictor(pred)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := supernet.NewSpace(1.2)
	for _, r := range []int{160, 192, 224} {
		for _, c := range []supernet.Config{s.MinConfig(r), s.MaxConfig(r)} {
			v := 1.03 * p.LatencyMS(c)
			tbl.Networks = append(tbl.Networks, lut.NetworkMeasurement{Config: c, Stats: timing.Stats{Median: v, Mean: v, N: 1}})
		}
	}
	held := filepath.Join(dir, "held.lut.json")
	if err := tbl.WriteFile(held); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "predictor", "eval", pred, held)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Spearman:\s+1\.0000$`).MatchString(out) {
		t.Errorf("predictor eval of a perfect ranking:\n%s", out)
	}
}
