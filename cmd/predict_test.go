package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

// runIn is run with stdin.
func runIn(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Execute(context.Background(), args, IO{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return out.String(), errb.String(), err
}

// TestPredictMatchesSelect: predict gives, for the configs select chose,
// every number select reported, with OFA's accuracy predictor and with
// the MACs proxy, from select's config file, from stdin as JSON lines,
// and from an OFA net.config with --res.
func TestPredictMatchesSelect(t *testing.T) {
	shared, pred := note10Predictor(t)
	dir := t.TempDir()
	w12, _ := supernet.NewSpace(1.2)
	for _, acc := range []string{filepath.Join(shared, "ofa-upstream/acc_predictor.pth"), ""} {
		name := map[bool]string{true: "proxy", false: "ofa"}[acc == ""]
		t.Run(name, func(t *testing.T) {
			cfgPath := filepath.Join(dir, name+".json")
			args := []string{"select", "--predictor", pred, "--max-latency", "20ms", "--top", "4", "--pareto=false", "-o", cfgPath, "--json"}
			var accArgs []string
			if acc != "" {
				accArgs = []string{"--acc", acc}
			}
			out, _, err := run(t, append(args, accArgs...)...)
			if err != nil {
				t.Fatal(err)
			}
			top := decodeMap(t, out)["top"].([]any)

			// The config file select wrote.
			out, _, err = run(t, append([]string{"predict", "--predictor", pred, "--config", cfgPath, "--json"}, accArgs...)...)
			if err != nil {
				t.Fatal(err)
			}
			p := decodeMap(t, out)
			subs := p["subnets"].([]any)
			if len(subs) != 1 || p["accuracy_is_proxy"] != (acc == "") {
				t.Fatalf("predict of one config: %.400s", out)
			}
			sameNumbers(t, "the config file", subs[0], top[0])

			// Every top config at once, as JSON lines on stdin.
			var lines strings.Builder
			for _, c := range top {
				b, _ := json.Marshal(c.(map[string]any)["config"])
				lines.Write(append(b, '\n'))
			}
			out, _, err = runIn(t, lines.String(), append([]string{"predict", "--predictor", pred, "--config", "-", "--json"}, accArgs...)...)
			if err != nil {
				t.Fatal(err)
			}
			subs = decodeMap(t, out)["subnets"].([]any)
			if len(subs) != len(top) {
				t.Fatalf("%d subnets predicted from %d lines", len(subs), len(top))
			}
			for i := range top {
				sameNumbers(t, "stdin line "+string(rune('1'+i)), subs[i], top[i])
				if src := subs[i].(map[string]any)["source"]; src != "stdin#"+string(rune('1'+i)) {
					t.Errorf("subnet %d comes from %v", i, src)
				}
			}

			// OFA's net.config of the best, with its resolution.
			c := readConfigOf(t, cfgPath)
			nc, err := w12.NetConfig(c)
			if err != nil {
				t.Fatal(err)
			}
			ncPath := filepath.Join(dir, name+".net.config")
			if err := os.WriteFile(ncPath, nc, 0o644); err != nil {
				t.Fatal(err)
			}
			out, _, err = run(t, append([]string{"predict", "--predictor", pred, "--config", ncPath, "--res", jsonFloat(float64(c.R)), "--json"}, accArgs...)...)
			if err != nil {
				t.Fatal(err)
			}
			sameNumbers(t, "the net.config", decodeMap(t, out)["subnets"].([]any)[0], top[0])
		})
	}
}

// sameNumbers compares every field of a predicted subnet with select's
// candidate, exactly.
func sameNumbers(t *testing.T, what string, got, want any) {
	t.Helper()
	g, w := got.(map[string]any), want.(map[string]any)
	for k, v := range w {
		gb, _ := json.Marshal(g[k])
		wb, _ := json.Marshal(v)
		if !bytes.Equal(gb, wb) {
			t.Errorf("%s: predict says %s = %s, select %s", what, k, gb, wb)
		}
	}
	if g["latency_extrapolated"] != false {
		t.Errorf("%s: a config at a measured resolution is called extrapolated", what)
	}
}

func TestPredictErrors(t *testing.T) {
	_, pred := note10Predictor(t)
	w10, _ := supernet.NewSpace(1.0)
	other := filepath.Join(t.TempDir(), "w10.json")
	if err := os.WriteFile(other, supernet.MarshalConfigFile("ofa-mbv3-w1.0", w10.MinConfig(160)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no predictor", "", []string{"--config", other}, "--predictor is required"},
		{"no config", "", []string{"--predictor", pred}, "--config is required"},
		{"other space", "", []string{"--predictor", pred, "--config", other}, "is for ofa-mbv3-w1.0, but the latency predictor is for ofa-mbv3-w1.2"},
		{"empty stdin", "", []string{"--predictor", pred, "--config", "-"}, "no config found"},
		{"not JSON", "ks=3", []string{"--predictor", pred, "--config", "-"}, "not JSON"},
		{"bad value", strings.Replace(w10.MinConfig(160).String(), `"ks":[3`, `"ks":[9`, 1), []string{"--predictor", pred, "--config", "-"}, "ks[0] = 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runIn(t, tc.stdin, append([]string{"predict"}, tc.args...)...)
			if err == nil || ExitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v (exit %d), want a usage error mentioning %q", err, ExitCodeOf(err), tc.want)
			}
		})
	}
}
