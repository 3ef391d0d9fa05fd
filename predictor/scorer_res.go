package predictor

import "slices"

// Resolutions returns the input sizes both models can predict: the
// intersection of what the latency model and the accuracy model each
// declare (through a Resolutions method), in ascending order. A model
// that declares none accepts any size. nil means no restriction.
//
// This keeps a search from wandering to sizes an accuracy predictor never
// saw: OFA's tutorial MLP encodes only 160..224 in steps of 16 and floors
// anything else into that grid.
func (s *Scorer) Resolutions() []int {
	type resolutioner interface{ Resolutions() []int }
	var out []int
	known := false
	for _, m := range []any{s.lat, s.acc} {
		r, ok := m.(resolutioner)
		if !ok || len(r.Resolutions()) == 0 {
			continue
		}
		rs := slices.Clone(r.Resolutions())
		slices.Sort(rs)
		if !known {
			out, known = rs, true
			continue
		}
		out = slices.DeleteFunc(out, func(v int) bool { _, found := slices.BinarySearch(rs, v); return !found })
	}
	return out
}
