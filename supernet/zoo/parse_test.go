package zoo

import (
	"strings"
	"testing"
)

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-0/1", 0, 1, true},
		{"bytes 5-9/*", 5, -1, true},
		{"bytes */1492497", 0, 1492497, true},
		{"bytes */*", 0, 0, false},
		{"bytes 10-5/20", 0, 0, false},
		{"bytes 10-20/20", 0, 0, false},
		{"bytes -1-5/20", 0, 0, false},
		{"items 0-1/2", 0, 0, false},
		{"bytes 0-1", 0, 0, false},
		{"", 0, 0, false},
	} {
		start, total, ok := parseContentRange(tc.in)
		if ok != tc.ok || (ok && (start != tc.start || total != tc.total)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v; want %d, %d, %v", tc.in, start, total, ok, tc.start, tc.total, tc.ok)
		}
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 100-199/200", "bytes */5", "bytes 0-0/*", "bytes 9223372036854775807-0/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, total, ok := parseContentRange(s)
		if ok && (start < 0 || (total >= 0 && start >= total && !strings.Contains(s, "*/"))) {
			t.Errorf("parseContentRange(%q) accepted start %d total %d", s, start, total)
		}
	})
}

func TestCheckMLPShapes(t *testing.T) {
	ofa := map[string][]int{
		"0.weight": {400, 128}, "0.bias": {400},
		"2.weight": {400, 400}, "2.bias": {400},
		"4.weight": {400, 400}, "4.bias": {400},
		"6.weight": {1, 400}, "6.bias": {1},
	}
	if err := checkMLPShapes(ofa, 128); err != nil {
		t.Fatalf("OFA's shapes: %v", err)
	}
	spoil := func(f func(m map[string][]int)) map[string][]int {
		m := map[string][]int{}
		for k, v := range ofa {
			m[k] = v
		}
		f(m)
		return m
	}
	for _, tc := range []struct {
		name   string
		shapes map[string][]int
		want   string
	}{
		{"NAS predictor keys", map[string][]int{"layers.0.0.weight": {400, 82}}, "unexpected tensor"},
		{"wrong inputs", spoil(func(m map[string][]int) { m["0.weight"] = []int{400, 82} }), "want [N 128]"},
		{"chain broken", spoil(func(m map[string][]int) { m["4.weight"] = []int{400, 300} }), "layer 4"},
		{"no bias", spoil(func(m map[string][]int) { delete(m, "2.bias") }), "no bias"},
		{"two outputs", spoil(func(m map[string][]int) { m["6.weight"] = []int{2, 400}; m["6.bias"] = []int{2} }), "2 outputs"},
		{"stray bias", spoil(func(m map[string][]int) { m["8.bias"] = []int{1} }), "exactly a weight and a bias"},
		{"empty", map[string][]int{}, "no layer weights"},
	} {
		err := checkMLPShapes(tc.shapes, 128)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
}
