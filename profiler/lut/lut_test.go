package lut

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/profiler/timing"
	"github.com/edgefit/edgefit/supernet"
)

// sharedDir returns ../shared next to the repository root (the directory
// holding go.mod), where the OFA fixtures live, or skips the test.
func sharedDir(t testing.TB) string { return testfix.Shared(t) }

func note10(t testing.TB) *LUT {
	t.Helper()
	dir := filepath.Join(sharedDir(t), "ofa-upstream", "note10")
	lut, err := ImportOFADir("ofa-mbv3-w1.2", dir)
	if err != nil {
		t.Fatal(err)
	}
	return lut
}

func TestParseKeyInvertsKey(t *testing.T) {
	for _, w := range []float64{1.0, 1.2} {
		s, _ := supernet.NewSpace(w)
		n := 0
		for _, r := range []int{32, 128, 132, 160, 207, 224, 256} {
			for _, l := range s.DistinctLayers(r) {
				got, err := ParseKey(l.Key())
				if err != nil {
					t.Fatalf("w%g r=%d: %v", w, r, err)
				}
				l.Block = -1
				if got != l {
					t.Fatalf("ParseKey(%s)\n got %+v\nwant %+v", l.Key(), got, l)
				}
				n++
			}
		}
		if n != 7*96 {
			t.Errorf("w%g: checked %d layers, want %d", w, n, 7*96)
		}
	}
}

func TestParseKeyErrors(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"", "unknown layer kind"},
		{"Dense-input:1x1x3-output:4", "unknown layer kind"},
		{"Conv-input:160x160x3", "fields input, output"},
		{"Conv-output:80x80x24-input:160x160x3", "in this order"},
		{"Conv-input:160x160x3-output:81x81x24", "stride-2 conv on 160x160 gives 80x80"},
		{"Conv-input:160x150x3-output:80x80x24", "square"},
		{"Conv-input:160x160x3-output:80x80x024", "canonical form"},
		{"Conv-input:160x160x3-output:80x80x0", "whole number"},
		{"Conv-input:160x160x3-output:80x80x-1", "no ':'"},
		{"Conv-input:160x160-output:80x80x24", "not HxWxC"},
		{"Conv-input:160x160x3-input:160x160x3", "appears twice"},
		{"Conv_1-input:5x5x192-output:6x6x1152", "keeps the size"},
		{"AvgPool2D-input:5x5x1152-output:1x1x1000", "global average pooling"},
		{"Conv_2-input:2x2x1152-output:1x1x1536", "1x1 maps"},
		{"Logits-input:2x2x1536-output:1000", "1x1 map"},
		{"Logits-input:1x1x1536-output:1x1x1000", "whole number"},
		{"expanded_conv-input:10x10x136-output:10x10x136-expand:408-kernel:4-stride:1-idskip:1-se:1-hs:1", "even"},
		{"expanded_conv-input:10x10x136-output:10x10x136-expand:408-kernel:3-stride:1-idskip:0-se:1-hs:1", "idskip must be 1"},
		{"expanded_conv-input:10x10x136-output:5x5x136-expand:408-kernel:3-stride:2-idskip:1-se:1-hs:1", "idskip must be 1"},
		{"expanded_conv-input:10x10x136-output:4x4x192-expand:408-kernel:3-stride:2-idskip:0-se:1-hs:1", "gives 5x5"},
		{"expanded_conv-input:10x10x136-output:10x10x136-expand:408-kernel:3-stride:1-idskip:1-se:2-hs:1", "se is \"2\""},
		{"expanded_conv-input:10x10x136-output:10x10x136-expand:408-kernel:3-stride:1-idskip:1-se:1", "fields input, output, expand"},
	} {
		_, err := ParseKey(tc.key)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseKey(%q) = %v, want an error mentioning %q", tc.key, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), tc.key) {
			t.Errorf("error %q does not name the key", err)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	s, _ := supernet.NewSpace(1.2)
	for _, l := range s.DistinctLayers(160)[:8] {
		f.Add(l.Key())
	}
	f.Add("expanded_conv-input:5x5x192-output:5x5x192-expand:1152-kernel:7-stride:1-idskip:1-se:1-hs:1")
	f.Add("Logits-input:1x1x1536-output:1000")
	f.Add("Conv-input:+160x160x3-output:80x80x24")
	f.Add("expanded_conv-input:5x5x192-output:5x5x192-expand:1152-kernel:7-stride:1-idskip:1-se:1-hs:1-x:1")
	f.Fuzz(func(t *testing.T, key string) {
		l, err := ParseKey(key)
		if err != nil {
			return
		}
		if got := l.Key(); got != key {
			t.Fatalf("ParseKey(%q) gave a layer whose key is %q", key, got)
		}
		l2, err := ParseKey(l.Key())
		if err != nil || l2 != l {
			t.Fatalf("second parse differs: %v %+v %+v", err, l, l2)
		}
		if l.InSize < 1 || l.OutSize < 1 || l.OutSize > l.InSize || l.In < 1 || l.Out < 1 {
			t.Fatalf("implausible shape %+v", l)
		}
	})
}

// smallLUT returns a valid table of every layer of the w1.0 space at r.
func smallLUT(r int) *LUT {
	s, _ := supernet.NewSpace(1.0)
	t := &LUT{Version: Version, Space: s.Name, Target: "local", Runtime: Runtime{Name: "onnxruntime", Version: "1.24.1", Provider: "cpu", Threads: 1, Batch: 1},
		Settings: MeasurementSettings{Warmup: 10, MinRuns: 20, MaxRuns: 200, TargetCIPercent: 1}, Unit: "ms", Stat: StatMedian,
		FingerprintBefore: json.RawMessage(`{"governor":"performance"}`)}
	for i, l := range s.DistinctLayers(r) {
		st := timing.Summarize([]float64{0.1 + float64(i)*0.01, 0.11 + float64(i)*0.01, 0.12 + float64(i)*0.01})
		t.Entries = append(t.Entries, NewEntry(l, r, st))
	}
	t.Networks = []NetworkMeasurement{{Config: s.MaxConfig(r), Stats: timing.Summarize([]float64{5, 5.5, 6})}}
	return t
}

func TestLUTWriteLoad(t *testing.T) {
	lut := smallLUT(224)
	path := filepath.Join(t.TempDir(), "dev"+Suffix)
	if err := lut.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got.index, lut.index = nil, nil
	// A table keeps median, mean, p10, p90, std, n and cov; not min, max
	// or the confidence interval.
	for i := range lut.Entries {
		st := &lut.Entries[i].Stats
		st.Min, st.Max, st.CI95 = 0, 0, 0
	}
	for i := range lut.Networks {
		st := &lut.Networks[i].Stats
		st.Min, st.Max, st.CI95 = 0, 0, 0
	}
	for _, raw := range []*json.RawMessage{&got.FingerprintBefore, &lut.FingerprintBefore} {
		var b bytes.Buffer
		json.Compact(&b, *raw)
		*raw = b.Bytes()
	}
	if !reflect.DeepEqual(got, lut) {
		t.Errorf("round trip changed the table")
	}
	if rs := got.Resolutions(); !reflect.DeepEqual(rs, []int{224}) {
		t.Errorf("Resolutions() = %v", rs)
	}
	s, _ := supernet.NewSpace(1.0)
	l := s.Layers(s.MaxConfig(224), nil)[5]
	e, ok := got.Lookup(224, l.Key())
	if !ok || e.Key != l.Key() || got.Latency(e) != e.Stats.Median {
		t.Errorf("Lookup(%s) = %v, %v", l.Key(), e, ok)
	}
	if _, ok := got.Lookup(160, l.Key()); ok {
		t.Errorf("Lookup found an entry at a resolution the table lacks")
	}
	if miss, err := got.Missing(224); err != nil || len(miss) != 0 {
		t.Errorf("Missing(224) = %d layers, %v", len(miss), err)
	}
	if miss, _ := got.Missing(160); len(miss) != 96 {
		t.Errorf("Missing(160) = %d layers, want 96", len(miss))
	}
	// No temporary files are left behind.
	if names, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(names) != 0 {
		t.Errorf("temporary files left: %v", names)
	}
}

func TestLUTValidateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*LUT)
		wants []string
	}{
		{"unknown space", func(l *LUT) { l.Space = "ofa-resnet50" }, []string{"unknown search space", "ofa-mbv3-w1.0"}},
		{"space alias", func(l *LUT) { l.Space = "w1.0" }, []string{`must be spelled "ofa-mbv3-w1.0"`}},
		{"version", func(l *LUT) { l.Version = 3 }, []string{"version 3"}},
		{"unit", func(l *LUT) { l.Unit = "us" }, []string{"milliseconds"}},
		{"statistic", func(l *LUT) { l.Stat = "p50" }, []string{`"median" or "mean"`}},
		{"no entries", func(l *LUT) { l.Entries = nil }, []string{"no entries"}},
		{"NaN", func(l *LUT) { l.Entries[3].Stats.Median = math.NaN() }, []string{"entry 3", l3key(), "NaN"}},
		{"Inf", func(l *LUT) { l.Entries[3].Stats.P90 = math.Inf(1) }, []string{"entry 3", "p90", "+Inf"}},
		{"negative", func(l *LUT) { l.Entries[3].Stats.Std = -1 }, []string{"entry 3", "std latency is -1"}},
		{"zero", func(l *LUT) { l.Entries[3].Stats.Median = 0 }, []string{"entry 3", "must be positive"}},
		{"no runs", func(l *LUT) { l.Entries[3].Stats.N = 0 }, []string{"entry 3", "n = 0"}},
		{"duplicate", func(l *LUT) { l.Entries = append(l.Entries, l.Entries[3]) }, []string{"entry 96", "duplicate of entry 3"}},
		{"bad key", func(l *LUT) { l.Entries[3].Key = "Conv-input:1x1x3" }, []string{"entry 3", "Conv-input:1x1x3"}},
		{"fields", func(l *LUT) { l.Entries[3].Layer.Kernel++ }, []string{"entry 3", "do not match the key"}},
		{"size", func(l *LUT) { l.Entries[0].Resolution = 160 }, []string{"entry 0", "cannot occur in a network of resolution 160"}},
		{"resolution", func(l *LUT) { l.Entries[0].Resolution = 0 }, []string{"entry 0", "outside 32..1024"}},
		{"network config", func(l *LUT) { l.Networks[0].Config.KS[4] = 4 }, []string{"network 0", "ks[4] = 4"}},
		{"network stats", func(l *LUT) { l.Networks[0].Stats.Median = -2 }, []string{"network 0", "-2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lut := smallLUT(224)
			tc.edit(lut)
			err := lut.Validate()
			if err == nil {
				t.Fatal("Validate accepted the table")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if err := lut.WriteFile(filepath.Join(t.TempDir(), "x.lut.json")); err == nil {
				t.Errorf("WriteFile wrote an invalid table")
			}
		})
	}
}

func l3key() string {
	s, _ := supernet.NewSpace(1.0)
	return s.DistinctLayers(224)[3].Key()
}

func TestReadRefusesBadJSON(t *testing.T) {
	var good bytes.Buffer
	if err := smallLUT(160).Encode(&good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"version":1,`, "not valid JSON"},
		{strings.Replace(good.String(), `"unit"`, `"units"`, 1), `unknown field "units"`},
		{good.String() + "{}", "extra data"},
		{strings.Replace(good.String(), `"version": 2`, `"version": "2"`, 1), "version"},
	} {
		_, err := Read(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Read error %v, want it to mention %q", err, tc.want)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.lut.json")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	small := smallLUT(128)
	small.Entries = small.Entries[:4]
	small.Encode(&b)
	f.Add(b.Bytes())
	f.Add([]byte(`{"version":1,"space":"ofa-mbv3-w1.2","unit":"ms","statistic":"mean","runtime":{"name":"x","batch":1},` +
		`"entries":[{"key":"Logits-input:1x1x1536-output:1000","resolution":160,"layer":{"kind":"Logits","in_size":1,"out_size":1,"in_channels":1536,"out_channels":1000},"stats":{"median":0,"mean":0.6,"std":0.07,"n":3}}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"entries":[{"key":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lut, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		// A table that loads must re-encode and load to the same table.
		var out bytes.Buffer
		if err := lut.Encode(&out); err != nil {
			t.Fatalf("valid table does not encode: %v", err)
		}
		again, err := Read(&out)
		if err != nil {
			t.Fatalf("re-encoded table does not load: %v", err)
		}
		for i := range lut.Entries {
			e := &lut.Entries[i]
			if v := lut.Latency(e); !(v > 0) || math.IsInf(v, 0) {
				t.Fatalf("entry %d latency %v passed validation", i, v)
			}
			if _, err := ParseKey(e.Key); err != nil {
				t.Fatalf("entry %d key passed validation: %v", i, err)
			}
			if g, ok := again.Lookup(e.Resolution, e.Key); !ok || g.Stats != e.Stats {
				t.Fatalf("entry %d changed in a round trip", i)
			}
		}
	})
}

// TestVersion1StillReads: a table written before the one JSON schema
// (version 1: statistics without units in the keys, target_ci_percent,
// extra numbers as strings, fractions without the suffix) reads as the
// same table; writing it gives the current form.
func TestVersion1StillReads(t *testing.T) {
	tbl := smallLUT(160)
	tbl.Settings.Extra = map[string]string{"drift_noise": "0.0288", "drift_threshold": "0.03", "seed": "1", "runner": "agent", "reference": "96/Conv-x"}
	for i := range tbl.Entries { // what the file holds of each statistic
		st := &tbl.Entries[i].Stats
		st.Min, st.Max, st.CI95 = 0, 0, 0
	}
	tbl.Networks[0].Stats.Min, tbl.Networks[0].Stats.Max, tbl.Networks[0].Stats.CI95 = 0, 0, 0
	var cur bytes.Buffer
	if err := tbl.Encode(&cur); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"version": 2`, `"median_ms"`, `"std_ms"`, `"target_ci_fraction": 0.01`, `"drift_noise_fraction": 0.0288`,
		`"drift_threshold_fraction": 0.03`, `"seed": 1`, `"runner": "agent"`} {
		if !strings.Contains(cur.String(), want) {
			t.Errorf("the table's JSON lacks %s", want)
		}
	}
	old := strings.NewReplacer(`"version": 2`, `"version": 1`, `"median_ms"`, `"median"`, `"mean_ms"`, `"mean"`, `"p10_ms"`, `"p10"`,
		`"p90_ms"`, `"p90"`, `"std_ms"`, `"std"`, `"target_ci_fraction": 0.01`, `"target_ci_percent": 1`,
		`"drift_noise_fraction": 0.0288`, `"drift_noise": "0.0288"`, `"drift_threshold_fraction": 0.03`, `"drift_threshold": "0.03"`,
		`"seed": 1`, `"seed": "1"`).Replace(cur.String())
	if strings.Contains(old, "_ms") || strings.Contains(old, "fraction") {
		t.Fatalf("the version 1 text still holds new keys:\n%.600s", old)
	}
	for name, text := range map[string]string{"version 2": cur.String(), "version 1": old} {
		back, err := Read(strings.NewReader(text))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if back.Settings.TargetCIPercent != 1 || !maps.Equal(back.Settings.Extra, tbl.Settings.Extra) || !reflect.DeepEqual(back.Entries, tbl.Entries) ||
			!reflect.DeepEqual(back.Networks, tbl.Networks) {
			t.Errorf("%s read back as settings %+v", name, back.Settings)
		}
		var again bytes.Buffer
		if err := back.Encode(&again); err != nil || again.String() != cur.String() {
			t.Errorf("%s written again differs (%v)", name, err)
		}
	}
}
