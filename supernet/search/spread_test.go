package search

import (
	"testing"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
)

func cand(r int, acc, lat float64) Candidate {
	return Candidate{Config: supernet.Config{R: r}, Estimate: predictor.Estimate{Accuracy: acc, LatencyMS: lat}}
}

func TestSpread(t *testing.T) {
	// A front of 10 points: accuracy rises with latency.
	var front []Candidate
	for i := range 10 {
		front = append(front, cand(100+i, 0.70+0.01*float64(i), 10+float64(i)))
	}
	top := []Candidate{front[9], front[8], cand(300, 0.785, 19.5), front[7]}
	res := &Result{Front: front, Top: top}
	rs := func(cs []Candidate) []int {
		var out []int
		for _, c := range cs {
			out = append(out, c.Config.R)
		}
		return out
	}
	for _, tc := range []struct {
		k    int
		want []int // resolutions stand for the subnets
	}{
		// k=3: the 6 most accurate front points (r 104..109) by latency,
		// positions 0, 2.5→3 (round half up of 5/2), 5: r 104, 107, 109.
		{3, []int{109, 107, 104}},
		{1, []int{109}},
		// k=4: positions round(j·7/3) of the 8 best (r 102..109): 0, 2, 5, 7.
		{4, []int{109, 107, 104, 102}},
		// More than the front holds: the front and the top list's extra, by accuracy.
		{11, []int{109, 300, 108, 107, 106, 105, 104, 103, 102, 101, 100}},
	} {
		got := rs(Spread(res, tc.k))
		if len(got) != len(tc.want) {
			t.Errorf("k=%d: %v, want %v", tc.k, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("k=%d: %v, want %v", tc.k, got, tc.want)
				break
			}
		}
	}
	// Without a front: the top list.
	if got := rs(Spread(&Result{Top: top}, 2)); len(got) != 2 || got[0] != 109 || got[1] != 300 {
		t.Errorf("without a front: %v", got)
	}
	if Spread(res, 0) != nil || Spread(nil, 3) != nil {
		t.Error("k=0 or no result gave candidates")
	}
}
