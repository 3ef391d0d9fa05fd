package lut

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type ofaRecord struct {
	Count int     `yaml:"count"`
	Mean  float64 `yaml:"mean"`
	Std   float64 `yaml:"std"`
}

func readOFAYAML(t *testing.T, path string) map[string]ofaRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]ofaRecord
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func TestImportExportNote10(t *testing.T) {
	lut := note10(t)
	if got := lut.Resolutions(); len(got) != 5 || got[0] != 160 || got[4] != 224 {
		t.Fatalf("resolutions %v", got)
	}
	if len(lut.Entries) != 5*96 {
		t.Fatalf("%d entries, want 480", len(lut.Entries))
	}
	for _, r := range lut.Resolutions() {
		if miss, err := lut.Missing(r); err != nil || len(miss) != 0 {
			t.Errorf("r=%d: %d layers of the w1.2 space missing (%v)", r, len(miss), err)
		}
	}
	e, ok := lut.Lookup(160, "Conv-input:160x160x3-output:80x80x24")
	if !ok || e.Stats.Mean != 0.495562248995984 || e.Stats.N != 498 || e.Stats.Std != 0.010239557348882489 || lut.Latency(e) != e.Stats.Mean {
		t.Errorf("first conv at 160: %+v", e)
	}

	// Export, then compare every key and number of both YAML files exactly.
	src := filepath.Join(sharedDir(t), "ofa-upstream", "note10")
	out := t.TempDir()
	paths, err := ExportOFA(lut, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 5 {
		t.Fatalf("wrote %v", paths)
	}
	for _, r := range lut.Resolutions() {
		name := OFAFileName(r)
		want, got := readOFAYAML(t, filepath.Join(src, name)), readOFAYAML(t, filepath.Join(out, name))
		if len(got) != len(want) {
			t.Errorf("%s: %d keys, want %d", name, len(got), len(want))
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || g != w {
				t.Errorf("%s: %s = %+v, want %+v", name, k, g, w)
			}
		}
		// PyYAML's formatting is reproduced too: the files are identical.
		a, _ := os.ReadFile(filepath.Join(src, name))
		b, _ := os.ReadFile(filepath.Join(out, name))
		if !bytes.Equal(a, b) {
			t.Errorf("%s: exported text differs from OFA's", name)
		}
	}
	// And the exported files import to the same table.
	again, err := ImportOFADir(lut.Space, out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range lut.Entries {
		if again.Entries[i] != lut.Entries[i] {
			t.Fatalf("entry %d changed: %+v vs %+v", i, again.Entries[i], lut.Entries[i])
		}
	}
}

func TestPyFloat(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0.495562248995984, "0.495562248995984"},
		{2, "2.0"},
		{0, "0.0"},
		{1e-5, "1.0e-05"},
		{1.5e-7, "1.5e-07"},
		{0.0001, "0.0001"},
		{123456789012345.6, "123456789012345.6"},
		{1e16, "1.0e+16"},
		{2.5e22, "2.5e+22"},
	} {
		got := pyFloat(tc.v)
		if got != tc.want {
			t.Errorf("pyFloat(%v) = %q, want %q", tc.v, got, tc.want)
		}
		if back, err := strconv.ParseFloat(got, 64); err != nil || back != tc.v {
			t.Errorf("pyFloat(%v) does not round-trip: %v %v", tc.v, back, err)
		}
	}
	// Shortest round-trip digits for arbitrary values.
	for _, v := range []float64{math.Pi, 1 / 3.0, 7.000000000000001, 1e-300, math.MaxFloat64} {
		if back, _ := strconv.ParseFloat(pyFloat(v), 64); back != v {
			t.Errorf("pyFloat(%v) = %s does not round-trip", v, pyFloat(v))
		}
	}
}

func TestImportOFARefuses(t *testing.T) {
	const good = "Logits-input:1x1x1536-output:1000:\n  count: 499\n  mean: 0.656440881763527\n  std: 0.07729654276272765\n"
	for _, tc := range []struct{ name, space, yaml, want string }{
		{"space", "ofa-mbv3-w2.0", good, "unknown search space"},
		{"not yaml", "ofa-mbv3-w1.2", "a: [", "not valid YAML"},
		{"list", "ofa-mbv3-w1.2", "- 1\n", "want a YAML mapping"},
		{"empty", "ofa-mbv3-w1.2", "{}\n", "no entries"},
		{"bad key", "ofa-mbv3-w1.2", good + "Conv-input:160x160x3-output:81x81x24:\n  count: 1\n  mean: 1.0\n  std: 0.0\n", "line 5"},
		{"dup key", "ofa-mbv3-w1.2", good + good, "already appeared on line 1"},
		{"unknown field", "ofa-mbv3-w1.2", strings.Replace(good, "std", "var", 1), `unknown field "var"`},
		{"missing field", "ofa-mbv3-w1.2", strings.Replace(good, "  count: 499\n", "", 1), `"count" is missing`},
		{"text mean", "ofa-mbv3-w1.2", strings.Replace(good, "0.656440881763527", "fast", 1), `mean "fast"`},
		{"negative mean", "ofa-mbv3-w1.2", strings.Replace(good, "0.656440881763527", "-0.6", 1), `mean "-0.6"`},
		{"nan mean", "ofa-mbv3-w1.2", strings.Replace(good, "0.656440881763527", ".nan", 1), `mean ".nan"`},
		{"zero mean", "ofa-mbv3-w1.2", strings.Replace(good, "0.656440881763527", "0.0", 1), "mean latency is 0"},
		{"zero count", "ofa-mbv3-w1.2", strings.Replace(good, "499", "0", 1), "count"},
		{"wrong size", "ofa-mbv3-w1.2", "Conv-input:224x224x3-output:112x112x24:\n  count: 1\n  mean: 1.0\n  std: 0.0\n", "cannot occur in a network of resolution 160"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ImportOFA(tc.space, map[int]io.Reader{160: strings.NewReader(tc.yaml)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := ImportOFA("ofa-mbv3-w1.2", nil); err == nil {
		t.Error("no tables accepted")
	}
	if _, err := ImportOFADir("ofa-mbv3-w1.2", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no {r}_lookup_table.yaml") {
		t.Errorf("empty dir: %v", err)
	}
}
