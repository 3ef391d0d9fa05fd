package cmd

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/internal/testfix"
)

// quickZeroCost are select flags that keep a zero-cost search short: three
// images at 128, a small population, no front.
var quickZeroCost = []string{"--acc", "zero-cost", "--data-images", "3", "--population", "4", "--generations", "2", "--pareto=false", "--res", "160", "--max-latency", "20ms"}

// TestSelectZeroCostSynthetic: without --data the search runs on a
// synthetic batch and says so, before searching (stderr) and in the
// result, which is labelled a proxy in the table and the JSON.
func TestSelectZeroCostSynthetic(t *testing.T) {
	_, pred := note10Predictor(t)
	stdout, stderr, err := run(t, append([]string{"select", "--predictor", pred, "--top", "2"}, quickZeroCost...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "zero-cost NASWOT proxy on a synthetic batch of 3 seeded images") {
		t.Errorf("stderr does not say a synthetic batch is used:\n%s", stderr)
	}
	for _, want := range []string{"proxy score", "PROXY, not an accuracy: zero-cost NASWOT score", "synthetic batch of 3 seeded images", "untrained seeded initialization"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, err = run(t, append([]string{"select", "--predictor", pred, "--json"}, quickZeroCost...)...)
	if err != nil {
		t.Fatal(err)
	}
	var sel edgefit.Selection
	if err := json.Unmarshal([]byte(stdout), &sel); err != nil {
		t.Fatal(err)
	}
	if !sel.AccuracyProxy || !edgefit.IsZeroCostSource(sel.AccuracySource) || len(sel.Top) == 0 || sel.Top[0].Config.R != 160 {
		t.Errorf("selection: proxy %v, source %q, top %v", sel.AccuracyProxy, sel.AccuracySource, sel.Top)
	}
}

// TestSelectZeroCostData: with --data the output names the folder; the
// flags' bad uses are usage errors that say what to do.
func TestSelectZeroCostData(t *testing.T) {
	_, pred := note10Predictor(t)
	dir := t.TempDir()
	for i := range 3 {
		testfix.WritePicture(t, filepath.Join(dir, fmt.Sprintf("im%d.png", i)), 40, 30, uint64(i))
	}
	stdout, _, err := run(t, append([]string{"select", "--predictor", pred, "--data", dir}, quickZeroCost...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "the first 3 images of "+dir) || strings.Contains(stdout, "synthetic") {
		t.Errorf("output does not name the folder:\n%s", stdout)
	}
	one := t.TempDir()
	testfix.WritePicture(t, filepath.Join(one, "a.png"), 40, 30, 1)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"data without zero-cost", []string{"--data", dir, "--max-latency", "20ms"}, "--acc zero-cost"},
		{"one image asked for", append(append([]string(nil), quickZeroCost...), "--data-images", "1"), "at least 2"},
		{"empty folder", append(append([]string(nil), quickZeroCost...), "--data", t.TempDir()), "empty"},
		{"one image in the folder", append(append([]string(nil), quickZeroCost...), "--data", one, "--data-images", "0"), "at least 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, append([]string{"select", "--predictor", pred, "--pareto=false"}, tc.args...)...)
			if err == nil || ExitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v (exit %d), want a usage error mentioning %q", err, ExitCodeOf(err), tc.want)
			}
		})
	}
}

// TestPredictorCorrelate runs the proxy against OFA's tutorial predictor
// through the command line, as a table and as JSON.
func TestPredictorCorrelate(t *testing.T) {
	tut := filepath.Join(sharedDir(t), "ofa-upstream/acc_predictor.pth")
	args := []string{"predictor", "correlate", "--acc", tut, "--space", "ofa-mbv3-w1.2", "--subnets", "5", "--data-images", "3", "--res", "160"}
	stdout, _, err := run(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Spearman's ρ (proxy vs accuracy)", "Kendall's τ-b", "baseline, Spearman's ρ of MACs", "predicted accuracy", "synthetic batch of 3"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, err = run(t, append(args, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	checkSchema(t, "predictor correlate --json", []byte(stdout), `{"space":"","real_source":"","real_is_measured":false,"proxy_source":"","subnets":0,"rows":[{"config":`+configKeys+`,"accuracy":0,"proxy_score":0,"proxy":0,"units":0,"macs":0}],"proxy_seconds_per_subnet":0,"wall_seconds":0,"spearman_rho":0,"kendall_tau":0,"macs_spearman_rho":0}`)
	var c struct {
		Subnets  int      `json:"subnets"`
		Spearman *float64 `json:"spearman_rho"`
		Rows     []struct {
			Config struct {
				R int `json:"r"`
			} `json:"config"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(stdout), &c); err != nil {
		t.Fatal(err)
	}
	if c.Subnets != 5 || len(c.Rows) != 5 || c.Spearman == nil || c.Rows[0].Config.R != 160 {
		t.Errorf("correlate --json: %s", stdout)
	}
	for _, bad := range [][]string{{"predictor", "correlate", "--space", "ofa-mbv3-w1.2"}, {"predictor", "correlate", "--acc", tut}} {
		if _, _, err := run(t, bad...); ExitCodeOf(err) != ExitUsage {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}
