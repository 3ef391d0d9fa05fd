package lut

import (
	"math"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

// TestCompare scales a table by known factors and drops entries from each
// side: the counts, the ratio quantiles and the worst entries follow.
func TestCompare(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	a := tableOf(s, 160)
	b := tableOf(s, 160)
	n := len(a.Entries) // 96
	// b: every entry 1.1x, except entry 5 at 0.5x (the worst: |ln 0.5| >
	// |ln 1.1|) and entry 7 at 1.5x; the first entry only in a, and a's
	// last entry replaced by one at another resolution.
	for i := range b.Entries {
		f := 1.1
		switch i {
		case 5:
			f = 0.5
		case 7:
			f = 1.5
		}
		b.Entries[i].Stats.Median *= f
	}
	b.Entries = b.Entries[1:]
	b.Entries = append(b.Entries, tableOf(s, 176).Entries[0])
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	d := Compare(a, b, 2)
	if d.Common != n-1 || d.OnlyA != 1 || d.OnlyB != 1 {
		t.Fatalf("counts common %d only-a %d only-b %d, want %d 1 1", d.Common, d.OnlyA, d.OnlyB, n-1)
	}
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	if r := d.Ratio; r == nil || !near(r.Median, 1.1) || !near(r.P10, 1.1) || !near(r.P90, 1.1) || !near(r.Min, 0.5) || !near(r.Max, 1.5) {
		t.Errorf("ratio %+v", d.Ratio)
	}
	if len(d.Worst) != 2 || d.Worst[0].Key != a.Entries[5].Key || !near(d.Worst[0].Ratio, 0.5) || d.Worst[1].Key != a.Entries[7].Key ||
		!near(d.Worst[0].AMS, a.Latency(&a.Entries[5])) {
		t.Errorf("worst %+v", d.Worst)
	}
	if len(d.Notes) != 0 {
		t.Errorf("notes %v for tables of one kind", d.Notes)
	}
	b.Stat, b.Runtime.Threads = StatMean, 4
	for i := range b.Entries {
		b.Entries[i].Stats.Mean = b.Entries[i].Stats.Median
	}
	if d := Compare(a, b, 0); len(d.Notes) != 2 || d.Worst != nil && len(d.Worst) != 0 {
		t.Errorf("notes %v, worst %v", d.Notes, d.Worst)
	}
	if d := Compare(a, tableOf(s, 224), 3); d.Common != 0 || d.Ratio != nil || d.OnlyA != n || d.OnlyB != n {
		t.Errorf("disjoint tables: %+v", d)
	}
}
