package lut

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/profiler/timing"
	"github.com/edgefit/edgefit/supernet"
)

// TestImportRefusesTheOtherSpace imports OFA's Note10 tables, which are
// for ofa-mbv3-w1.2 (their first conv has 24 channels, 16·1.2 rounded to a
// multiple of 8), under ofa-mbv3-w1.0: the import is refused, naming w1.2.
func TestImportRefusesTheOtherSpace(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "ofa-upstream", "note10")
	_, err := ImportOFADir("ofa-mbv3-w1.0", dir)
	var sm *SpaceMismatchError
	if !errors.As(err, &sm) {
		t.Fatalf("importing the w1.2 Note10 tables as w1.0: %v, want a *SpaceMismatchError", err)
	}
	if !slices.Equal(sm.Fits, []string{"ofa-mbv3-w1.2"}) || sm.Declared != "ofa-mbv3-w1.0" || sm.Total != 480 {
		t.Errorf("mismatch %+v, want 480 entries that fit ofa-mbv3-w1.2", sm)
	}
	for _, want := range []string{"names space ofa-mbv3-w1.0", "layers of ofa-mbv3-w1.2", "at r=160"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if !strings.Contains(sm.Hint(), "--space ofa-mbv3-w1.2") {
		t.Errorf("hint %q", sm.Hint())
	}
	// The keys that the w1.0 space lacks are most of them: its first conv
	// at 160 is 3->16 channels, a key the Note10 table does not hold.
	w10, _ := supernet.NewSpace(1.0)
	first := w10.DistinctLayers(160)[0].Key()
	if first != "Conv-input:160x160x3-output:80x80x16" {
		t.Fatalf("w1.0 first conv key %s", first)
	}
	if sm.Foreign < 400 {
		t.Errorf("only %d of 480 keys flagged as foreign", sm.Foreign)
	}
	if _, err := ImportOFADir("ofa-mbv3-w1.2", dir); err != nil {
		t.Errorf("the right space: %v", err)
	}
}

// TestValidateRefusesMixedSpaces builds a table from the w1.0 space's
// layers, then relabels it, then mixes in a w1.2 layer.
func TestValidateRefusesMixedSpaces(t *testing.T) {
	w10, _ := supernet.NewSpace(1.0)
	w12, _ := supernet.NewSpace(1.2)
	tbl := tableOf(w10, 176)
	if err := tbl.Validate(); err != nil {
		t.Fatal(err)
	}
	tbl.Space = w12.Name
	var sm *SpaceMismatchError
	if err := tbl.Validate(); !errors.As(err, &sm) || !slices.Equal(sm.Fits, []string{w10.Name}) {
		t.Fatalf("a w1.0 table labelled w1.2: %v", err)
	}
	tbl.Space = w10.Name
	tbl.Entries = append(tbl.Entries, tableOf(w12, 176).Entries[0])
	err := tbl.Validate()
	if !errors.As(err, &sm) || len(sm.Fits) != 0 || sm.Foreign != 1 || !strings.Contains(err.Error(), "nor of any one known space") {
		t.Fatalf("a table mixing w1.0 and w1.2 keys: %v", err)
	}
}

// tableOf is a valid table of every distinct layer of s at r.
func tableOf(s *supernet.Space, r int) *LUT {
	t := &LUT{Version: Version, Space: s.Name, Target: "test", Runtime: Runtime{Name: "test", Batch: 1}, Unit: "ms", Stat: StatMedian}
	for i, l := range s.DistinctLayers(r) {
		v := 0.1 + float64(i)/100
		t.Entries = append(t.Entries, NewEntry(l, r, timing.Summarize([]float64{v, 1.1 * v, 1.2 * v})))
	}
	return t
}
