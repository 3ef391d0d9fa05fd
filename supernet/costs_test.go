package supernet

import (
	"math"
	"strings"
	"testing"
)

// TestCostsMatchReference checks MACs and params against what OFA's
// count_flops_given_config and ofa.utils.profile reported for the fixture
// subnets.
func TestCostsMatchReference(t *testing.T) {
	ref := loadReference(t)
	s, _ := NewSpace(ref.WidthMult)
	for _, rc := range ref.Cases {
		got := s.Costs(rc.Config)
		if d := float64(got.MACs)/1e6 - rc.FlopsM; math.Abs(d) > 0.01 {
			t.Errorf("%s: MACs %.4fM, OFA says %.4fM", rc.Name, float64(got.MACs)/1e6, rc.FlopsM)
		}
		if d := float64(got.Params)/1e6 - rc.ParamsM; math.Abs(d) > 1e-6 {
			t.Errorf("%s: params %.6fM, OFA says %.6fM", rc.Name, float64(got.Params)/1e6, rc.ParamsM)
		}
	}
}

// TestCostsAnchors checks the published min/max numbers of both widths
// (docs/ofa-mbv3.md section 4).
func TestCostsAnchors(t *testing.T) {
	for _, tc := range []struct {
		w       float64
		max     bool
		r       int
		macsM   float64
		paramsM float64
	}{
		{1.0, true, 224, 566.17, 7.66},
		{1.0, true, 128, 188.25, 7.66},
		{1.0, false, 224, 121.28, 3.41},
		{1.0, false, 128, 41.48, 3.41},
		{1.2, true, 224, 843.10, 10.70},
		{1.2, true, 160, 433.56, 10.70},
		{1.2, false, 224, 193.08, 4.60},
		{1.2, false, 160, 100.32, 4.60},
	} {
		s, _ := NewSpace(tc.w)
		c := s.MinConfig(tc.r)
		if tc.max {
			c = s.MaxConfig(tc.r)
		}
		got := s.Costs(c)
		if m := float64(got.MACs) / 1e6; math.Abs(m-tc.macsM) > 0.005 {
			t.Errorf("w%g max=%v r=%d: MACs %.3fM, want %.2fM", tc.w, tc.max, tc.r, m, tc.macsM)
		}
		if p := float64(got.Params) / 1e6; math.Abs(p-tc.paramsM) > 0.005 {
			t.Errorf("w%g max=%v: params %.3fM, want %.2fM", tc.w, tc.max, p, tc.paramsM)
		}
	}
}

// TestCostsAgainstWeights counts parameters and exported weight bytes on
// actual nets, independently of Costs's arithmetic.
func TestCostsAgainstWeights(t *testing.T) {
	rng := newRand(11)
	for _, w := range []float64{1.0, 1.2} {
		s, _ := NewSpace(w)
		for range 10 {
			c := s.RandomConfig(rng)
			n := Init(s, c, 1)
			var params, folded int64
			for k, tn := range n.StateDict() {
				switch {
				case isRunningStat(k):
				case strings.HasSuffix(k, ".bn.weight"):
					params += int64(len(tn.Data))
					folded += int64(len(tn.Data)) // becomes the conv's bias
				case strings.HasSuffix(k, ".bn.bias"):
					params += int64(len(tn.Data))
				default:
					params += int64(len(tn.Data))
					folded += int64(len(tn.Data))
				}
			}
			got := s.Costs(c)
			if got.Params != params {
				t.Errorf("w%g %v: Params %d, nets hold %d", w, c, got.Params, params)
			}
			if got.WeightBytes != 4*folded {
				t.Errorf("w%g %v: WeightBytes %d, folded net holds %d", w, c, got.WeightBytes, 4*folded)
			}
			if got.PeakMemory <= got.WeightBytes+4*int64(3*c.R*c.R) {
				t.Errorf("w%g: PeakMemory %d not above weights plus input", w, got.PeakMemory)
			}
		}
	}
}

// TestPeakMemoryByHand checks the activation peak on w1.0's smallest net at
// 128, worked out by hand from the rule in Costs's doc: the peak is block
// 1's expand conv, whose input (16x64x64) and output (48x64x64) are both
// alive: 65536 + 196608 float32s.
func TestPeakMemoryByHand(t *testing.T) {
	s, _ := NewSpace(1.0)
	got := s.Costs(s.MinConfig(128))
	if act := got.PeakMemory - got.WeightBytes; act != 4*(65536+196608) {
		t.Errorf("activation peak %d bytes, want %d", act, 4*(65536+196608))
	}
	// A bigger config can only need more.
	if big := s.Costs(s.MaxConfig(224)); big.PeakMemory <= got.PeakMemory {
		t.Errorf("max net peak %d not above min net peak %d", big.PeakMemory, got.PeakMemory)
	}
}

func TestCostsDoNotAllocate(t *testing.T) {
	s, _ := NewSpace(1.2)
	c := s.RandomConfig(newRand(5))
	if a := testing.AllocsPerRun(100, func() { s.Costs(c) }); a != 0 {
		t.Errorf("Costs allocates %v times per call", a)
	}
}

func BenchmarkCosts(b *testing.B) {
	s, _ := NewSpace(1.0)
	rng := newRand(9)
	cs := make([]Config, 256)
	for i := range cs {
		cs[i] = s.RandomConfig(rng)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Costs(cs[i&255])
		i++
	}
}
