package cmd

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/profiler"
	"github.com/edgefit/edgefit/profiler/lut"
)

// note10Table imports OFA's Note10 tables through the CLI and loads them.
func note10Table(t *testing.T) (string, *lut.LUT) {
	t.Helper()
	p := importNote10(t, t.TempDir())
	tbl, err := lut.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, tbl
}

func showJSON(t *testing.T, path string) (lutShow, string) {
	t.Helper()
	out, _, err := run(t, "lut", "show", path, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var s lutShow
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%.400s", err, out)
	}
	text, _, err := run(t, "lut", "show", path)
	if err != nil {
		t.Fatal(err)
	}
	return s, text
}

// TestLUTShowChecks: the missing keys are the ones removed, the low-n
// entries the ones given few runs, the resolution range the table's; a
// journal beside the table whose second session measured the reference
// 20% slower makes show report mixed speeds.
func TestLUTShowChecks(t *testing.T) {
	_, tbl := note10Table(t)
	var removed []string
	var kept []lut.Entry
	for i, e := range tbl.Entries {
		switch {
		case e.Resolution == 192 && i%10 == 3:
			removed = append(removed, e.Key)
			continue
		case e.Resolution == 224 && i%25 == 0:
			e.Stats.N = 2
		}
		kept = append(kept, e)
	}
	tbl.Entries = kept
	tbl.Settings.MinRuns = 10
	path := filepath.Join(t.TempDir(), "partial.lut.json")
	if err := tbl.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	s, text := showJSON(t, path)
	if s.ResolutionMin != 160 || s.ResolutionMax != 224 || s.LowNThreshold != 10 {
		t.Errorf("range %d..%d, low-n threshold %d", s.ResolutionMin, s.ResolutionMax, s.LowNThreshold)
	}
	for _, r := range s.Resolutions {
		want := []string(nil)
		if r.Resolution == 192 {
			want = removed
		}
		got := slices.Clone(r.MissingKeys)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || r.Missing != len(want) {
			t.Errorf("r=%d: missing %v, want %v", r.Resolution, got, want)
		}
	}
	lowN := 0
	for _, e := range tbl.Entries {
		if e.Stats.N == 2 {
			lowN++
		}
	}
	if len(s.LowN) != lowN || lowN == 0 || s.LowN[0].N != 2 || s.LowN[0].Resolution != 224 {
		t.Errorf("low-n %+v, want the %d entries with n=2", s.LowN, lowN)
	}
	if s.Sessions != nil {
		t.Errorf("sessions %+v without a journal", s.Sessions)
	}
	for _, w := range []string{"measured resolutions: 160 to 224", "missing at r=192 (" + strconv.Itoa(len(removed)) + "): ", "low-n entries (n < 10): " + strconv.Itoa(lowN), "no journal beside the table"} {
		if !strings.Contains(text, w) {
			t.Errorf("show lacks %q:\n%s", w, text)
		}
	}

	// A journal of two sessions, the second on a device 20% slower.
	session := func(at string) string {
		return `{"kind":"session","fingerprint":{"target":"local","os":"linux","kernel":"6","arch":"amd64","machine":"x86_64","cores":1},"at":"` + at + `"}`
	}
	ref := func(ms string, note string) string {
		if note != "" {
			note = `,"note":"` + note + `"`
		}
		return `{"kind":"reference","stats":{"median":` + ms + `,"mean":` + ms + `,"std":0,"n":1},"drift":1` + note + `,"at":"2026-01-01T00:00:00Z"}`
	}
	entry := func(e lut.Entry) string {
		ms := strconv.FormatFloat(e.Stats.Mean, 'g', -1, 64)
		return `{"kind":"entry","r":` + strconv.Itoa(e.Resolution) + `,"key":"` + e.Key + `","stats":{"median":` + ms + `,"mean":` + ms + `,"std":0,"n":10},"at":"2026-01-01T00:00:00Z"}`
	}
	lines := []string{
		`{"journal":"edgefit-profile-journal","version":1,"created":"2026-01-01T00:00:00Z","target":"local","identity":{"space":"ofa-mbv3-w1.2","resolutions":[160],"batch":1,"threads":1,"provider":"cpu","runner":"agent","networks":0,"seed":1,"measure":{"warmup":1,"min_runs":10,"max_runs":20,"target_ci":0.02,"max_time_s":1,"sample_ms":1}},"identity_digest":"sha256:test"}`,
		session("2026-01-01T00:00:00Z"), ref("0.5", "baseline"), entry(tbl.Entries[0]), ref("0.5", ""),
		session("2026-01-02T00:00:00Z"), ref("0.6", "baseline"), entry(tbl.Entries[1]), ref("0.6", ""),
	}
	if err := os.WriteFile(profiler.JournalPath(path), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, text = showJSON(t, path)
	if s.Sessions == nil || !s.Sessions.MixedSpeeds || len(s.Sessions.Sessions) != 2 || s.Journal != profiler.JournalPath(path) {
		t.Fatalf("sessions %+v", s.Sessions)
	}
	if !strings.Contains(text, "MIXED") || !strings.Contains(text, "20.0% slower than session 1") {
		t.Errorf("show should report the mixed speeds:\n%s", text)
	}
}

// TestLUTDiff compares the Note10 table with a copy 25% slower except for
// one entry twice as fast and one entry dropped.
func TestLUTDiff(t *testing.T) {
	a, tbl := note10Table(t)
	fast := tbl.Entries[7]
	for i := range tbl.Entries {
		f := 1.25
		if i == 7 {
			f = 0.5
		}
		tbl.Entries[i].Stats.Mean *= f
	}
	tbl.Entries = tbl.Entries[1:]
	b := filepath.Join(t.TempDir(), "slower.lut.json")
	if err := tbl.WriteFile(b); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "lut", "diff", a, b, "--json", "--worst", "3")
	if err != nil {
		t.Fatal(err)
	}
	checkSchema(t, "lut diff --json", []byte(out), `{"a":"","b":"","common":0,"only_in_a":0,"only_in_b":0,"ratio":{"median":0,"p10":0,"p90":0,"min":0,"max":0},"worst":[{"key":"","resolution":0,"a_ms":0,"b_ms":0,"ratio":0}]}`)
	var d lutDiff
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	if d.Common != 479 || d.OnlyA != 1 || d.OnlyB != 0 || d.Ratio == nil || !near(d.Ratio.Median, 1.25) || !near(d.Ratio.Min, 0.5) || !near(d.Ratio.Max, 1.25) {
		t.Fatalf("diff %+v ratio %+v", d, d.Ratio)
	}
	if len(d.Worst) != 3 || d.Worst[0].Key != fast.Key || d.Worst[0].Resolution != fast.Resolution || !near(d.Worst[0].Ratio, 0.5) {
		t.Errorf("worst %+v, want %s at r=%d first", d.Worst, fast.Key, fast.Resolution)
	}
	for _, k := range []string{`"only_in_a": 1`, `"a_ms"`, `"b_ms"`, `"p90"`} {
		if !strings.Contains(out, k) {
			t.Errorf("--json lacks %s", k)
		}
	}
	text, _, err := run(t, "lut", "diff", a, b)
	if err != nil || !strings.Contains(text, "479 in both, 1 only in a, 0 only in b") || !strings.Contains(text, "median 1.250") || !strings.Contains(text, fast.Key) {
		t.Errorf("diff table: %v\n%s", err, text)
	}
	if _, _, err := run(t, "lut", "diff", a); ExitCodeOf(err) != ExitUsage {
		t.Errorf("one table: %v", err)
	}
}
