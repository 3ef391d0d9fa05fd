package supernet

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func jsonValue(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, b)
	}
	return v
}

// TestNetConfigMatchesOFA checks both directions against the net.config
// OFA's get_active_net_config() wrote for each reference subnet.
func TestNetConfigMatchesOFA(t *testing.T) {
	ref := loadReference(t)
	s, _ := NewSpace(ref.WidthMult)
	for _, rc := range ref.Cases {
		t.Run(rc.Name, func(t *testing.T) {
			got, err := s.NetConfig(rc.Config)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := jsonValue(t, got), jsonValue(t, rc.NetConfig); !reflect.DeepEqual(g, w) {
				t.Errorf("net.config differs from OFA's:\n got %s\nwant %s", compact(t, got), compact(t, rc.NetConfig))
			}
			if !strings.Contains(string(got), `"eps": 1e-05`) {
				t.Error("eps not written as OFA writes it")
			}
			s2, c, err := ConfigFromNetConfig(rc.NetConfig)
			if err != nil {
				t.Fatal(err)
			}
			want := rc.Config.Canonical(s)
			want.R = 0
			if s2.Name != s.Name || s2.Classes != 1000 || c != want {
				t.Errorf("read back %s/%d %v, want %v", s2.Name, s2.Classes, c, want)
			}
		})
	}
}

func compact(t testing.TB, b []byte) string {
	out, err := json.Marshal(jsonValue(t, b))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// legacyNetConfig rewrites a current net.config in the spelling of OFA's
// older zoo files.
func legacyNetConfig(t testing.TB, b []byte) []byte {
	t.Helper()
	var n map[string]any
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	for _, bl := range n["blocks"].([]any) {
		m := bl.(map[string]any)
		m["name"] = "MobileInvertedResidualBlock"
		conv := m["conv"].(map[string]any)
		delete(m, "conv")
		conv["name"] = "MBInvertedConvLayer"
		conv["mid_channels"] = nil
		delete(conv, "groups")
		m["mobile_inverted_conv"] = conv
		if sc, ok := m["shortcut"].(map[string]any); ok {
			sc["in_channels"] = []any{sc["in_channels"]}
			sc["out_channels"] = []any{sc["out_channels"]}
		}
	}
	n["classifier"].(map[string]any)["dropout_rate"] = 0.1
	out, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNetConfigRoundTrip(t *testing.T) {
	rng := newRand(21)
	for _, w := range []float64{1.0, 1.2} {
		s, _ := NewSpace(w)
		for i := range 50 {
			c := s.RandomConfig(rng)
			if i == 0 {
				c = s.MinConfig(c.R)
			} else if i == 1 {
				c = s.MaxConfig(c.R)
			}
			b, err := s.NetConfig(c)
			if err != nil {
				t.Fatal(err)
			}
			want := c.Canonical(s)
			want.R = 0
			for _, doc := range [][]byte{b, legacyNetConfig(t, b)} {
				s2, got, err := ConfigFromNetConfig(doc)
				if err != nil {
					t.Fatalf("w%g: %v\n%s", w, err, doc)
				}
				if got != want || s2.Name != s.Name {
					t.Fatalf("w%g: read %s %v, want %v", w, s2.Name, got, want)
				}
			}
		}
	}
}

func TestConfigFromNetConfigErrors(t *testing.T) {
	s, _ := NewSpace(1.0)
	good, err := s.NetConfig(s.MaxConfig(224))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(n map[string]any)) []byte {
		var n map[string]any
		json.Unmarshal(good, &n)
		f(n)
		b, _ := json.Marshal(n)
		return b
	}
	block := func(n map[string]any, j int) map[string]any {
		return n["blocks"].([]any)[j].(map[string]any)["conv"].(map[string]any)
	}
	for _, tc := range []struct {
		name string
		doc  []byte
		want string
	}{
		{"not JSON", []byte("{"), "JSON"},
		{"proxyless", []byte(`{"name":"ProxylessNASNets"}`), "ProxylessNAS"},
		{"no name", []byte(`{}`), "name"},
		{"width", edit(func(n map[string]any) { n["first_conv"].(map[string]any)["out_channels"] = 40 }), "first_conv has 40"},
		{"kernel", edit(func(n map[string]any) { block(n, 3)["kernel_size"] = 9 }), "kernel_size 9"},
		{"expand", edit(func(n map[string]any) { block(n, 3)["expand_ratio"] = 4.5 }), "expand_ratio 4.5"},
		{"mid", edit(func(n map[string]any) { block(n, 3)["mid_channels"] = 100 }), "mid_channels 100"},
		{"act", edit(func(n map[string]any) { block(n, 10)["act_func"] = "relu" }), "act_func relu"},
		{"se", edit(func(n map[string]any) { block(n, 1)["use_se"] = true }), "use_se"},
		{"stride", edit(func(n map[string]any) { block(n, 2)["stride"] = 2 }), "stride 2"},
		{"shortcut", edit(func(n map[string]any) { n["blocks"].([]any)[2].(map[string]any)["shortcut"] = nil }), "shortcut"},
		{"depth 1", edit(func(n map[string]any) {
			bl := n["blocks"].([]any)
			n["blocks"] = append(bl[:2:2], bl[5:]...)
		}), "stage 0"},
		{"depth 5", edit(func(n map[string]any) {
			bl := n["blocks"].([]any)
			n["blocks"] = append(append(bl[:3:3], bl[2]), bl[3:]...)
		}), "more than 4"},
		{"extra block", edit(func(n map[string]any) {
			bl := n["blocks"].([]any)
			n["blocks"] = append(bl, bl[1])
		}), "does not fit"},
		{"first block", edit(func(n map[string]any) { block(n, 0)["kernel_size"] = 5 }), "block 0"},
		{"classifier", edit(func(n map[string]any) { n["classifier"].(map[string]any)["in_features"] = 1000 }), "classifier"},
		{"no blocks", edit(func(n map[string]any) { n["blocks"] = []any{} }), "no blocks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ConfigFromNetConfig(tc.doc)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	if _, err := s.NetConfig(Config{R: 224}); err == nil {
		t.Error("NetConfig accepted an invalid config")
	}
}

func FuzzConfigFromNetConfig(f *testing.F) {
	for _, w := range []float64{1.0, 1.2} {
		s, _ := NewSpace(w)
		for _, c := range []Config{s.MinConfig(224), s.MaxConfig(224)} {
			b, _ := s.NetConfig(c)
			f.Add(b)
			f.Add(legacyNetConfig(f, b))
		}
	}
	f.Add([]byte(`{"name":"MobileNetV3","first_conv":{"out_channels":[16]},"blocks":[{"conv":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, c, err := ConfigFromNetConfig(data)
		if err != nil {
			return
		}
		// Whatever reads must be a valid subnet that writes and reads back
		// to itself.
		c.R = 224
		if err := s.Validate(c); err != nil {
			t.Fatalf("read an invalid config: %v", err)
		}
		b, err := s.NetConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		s2, c2, err := ConfigFromNetConfig(b)
		if err != nil {
			t.Fatalf("rewritten net.config does not read: %v", err)
		}
		c2.R = 224
		if c2 != c || s2.Name != s.Name || s2.Classes != s.Classes {
			t.Fatalf("round trip changed %v into %v", c, c2)
		}
		_ = s.Costs(c)
	})
}
