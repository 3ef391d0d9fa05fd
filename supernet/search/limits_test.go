package search

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestRelativeLimits: a share is resolved against the largest subnet of
// the search (largest choices, largest resolution searched), the result
// meets the resolved limits, and it is a real choice, not the largest.
func TestRelativeLimits(t *testing.T) {
	sp := space(t, 1.0)
	sc := newSynth(sp)
	for _, tc := range []struct {
		name string
		lim  Limits
		res  []int
	}{
		{"latency 60%", Limits{Share: Shares{Latency: 0.6}}, nil},
		{"latency 60% at 128..160", Limits{Share: Shares{Latency: 0.6}}, []int{128, 144, 160}},
		{"MACs 50% and memory 80%", Limits{Share: Shares{MACs: 0.5, Memory: 0.8}}, nil},
		{"params 70% with an absolute latency", Limits{MaxLatencyMS: 1e9, Share: Shares{Params: 0.7}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.res
			if rs == nil {
				rs = sp.Resolutions
			}
			big := estimateOf(sc, sp.MaxConfig(rs[len(rs)-1]))
			res, err := Run(context.Background(), sp, sc, tc.lim, Options{Seed: 1, Population: 24, Generations: 10, TopK: 3, Resolutions: tc.res})
			if err != nil {
				t.Fatal(err)
			}
			got := res.Limits
			for _, m := range Metrics {
				f := tc.lim.Share.Of(m)
				if f == 0 {
					continue
				}
				v, ok := got.Get(m)
				if want := f * m.Of(&big); !ok || math.Abs(v-want) > 1+1e-9*want {
					t.Errorf("%s limit resolved to %v, want %v of %v = %v", m, v, f, m.Of(&big), want)
				}
				if got.Share.Of(m) != f {
					t.Errorf("the result lost the %s share", m)
				}
			}
			checkResult(t, sp, sc, got, res, 3)
			if res.Top[0].Config == sp.MaxConfig(rs[len(rs)-1]) {
				t.Errorf("a relative limit below 100%% chose the largest subnet")
			}
			if s := got.String(); !strings.Contains(s, "% of the largest subnet's") {
				t.Errorf("limits read %q", s)
			}
		})
	}
	if _, err := Run(context.Background(), sp, sc, Limits{Share: Shares{Latency: 1.5}}, Options{}); err == nil || !strings.Contains(err.Error(), "outside (0, 100%]") {
		t.Errorf("a share of 150%% gave %v", err)
	}
}

// TestLimitsJSON pins the limits' JSON keys: units in the keys, unset
// limits left out.
func TestLimitsJSON(t *testing.T) {
	for _, tc := range []struct {
		lim  Limits
		want string
	}{
		{Limits{}, `{}`},
		{Limits{MaxLatencyMS: 20, MaxMemory: 40e6}, `{"max_latency_ms":20,"max_memory_bytes":40000000}`},
		{Limits{MaxParams: 5e6, MaxMACs: 3e8}, `{"max_params":5000000,"max_macs":300000000}`},
		{Limits{MaxLatencyMS: 9, Share: Shares{Latency: 0.6, Memory: 0.5, Params: 0.25, MACs: 1}},
			`{"max_latency_ms":9,"max_latency_fraction":0.6,"max_memory_fraction":0.5,"max_params_fraction":0.25,"max_macs_fraction":1}`},
	} {
		b, err := json.Marshal(tc.lim)
		if err != nil || string(b) != tc.want {
			t.Errorf("%+v: %s, %v; want %s", tc.lim, b, err, tc.want)
		}
		var back Limits
		if err := json.Unmarshal(b, &back); err != nil || back != tc.lim {
			t.Errorf("%s read back as %+v, %v", b, back, err)
		}
	}
}
