package search

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

// TestKnapsackExact compares the dynamic program with brute force on
// small random instances: its unbounded proposal must fit the slack with
// the exact weights and reach the brute-force optimum (weights here are
// multiples of the unit, so rounding loses nothing), and each bounded
// proposal must change at most its bound of groups.
func TestKnapsackExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const groups, per = 4, 4
	for trial := range 300 {
		gain := make([]float64, groups*per)
		delta := make([]float64, groups*per)
		cur := make([]int, groups)
		for g := range groups {
			cur[g] = rng.IntN(per)
			for a := range per {
				i := g*per + a
				if a != cur[g] {
					gain[i] = rng.Float64()*2 - 0.7
					delta[i] = float64(rng.IntN(21) - 10)
				}
			}
		}
		slack := float64(rng.IntN(12))
		props := knapsack(groups, per, cur, gain, delta, slack, 1)
		// Brute force over all per^groups picks.
		best := 0.0
		pick := make([]int, groups)
		var rec func(g int, w, v float64)
		rec = func(g int, w, v float64) {
			if g == groups {
				if w <= slack && v > best {
					best = v
				}
				return
			}
			for a := range per {
				pick[g] = a
				rec(g+1, w+delta[g*per+a], v+gain[g*per+a])
			}
		}
		rec(0, 0, 0)
		if best <= 0 {
			if len(props) != 0 {
				t.Fatalf("trial %d: proposals %v where nothing improves", trial, props)
			}
			continue
		}
		reached := false
		for _, p := range props {
			w, v, changed := 0.0, 0.0, 0
			for g, a := range p.pick {
				w += delta[g*per+a]
				v += gain[g*per+a]
				if a != cur[g] {
					changed++
				}
			}
			if w > slack+1e-9 {
				t.Fatalf("trial %d: proposal %v weighs %v over slack %v", trial, p, w, slack)
			}
			if p.bound > 0 && changed > p.bound {
				t.Fatalf("trial %d: proposal bounded by %d changes %d groups", trial, p.bound, changed)
			}
			if p.bound == 0 && math.Abs(v-best) < 1e-9 {
				reached = true
			}
		}
		if !reached {
			t.Fatalf("trial %d: no proposal reaches the optimum %v: %v", trial, best, props)
		}
	}
}

// TestSurrogateLearnsAdditive: on an accuracy that is a sum over one-hot
// features, the ridge surrogate ranks held-out subnets almost perfectly.
func TestSurrogateLearnsAdditive(t *testing.T) {
	sp := space(t, 1.2)
	sp, _ = sp.WithResolutions([]int{160, 176, 192, 208, 224})
	m := newSurrogate(sp)
	rng := rand.New(rand.NewPCG(4, 4))
	weights := make([]float64, m.dim)
	for i := range weights {
		weights[i] = rng.NormFloat64() * 0.01
	}
	truth := func(c *supernet.Config) float64 {
		v := 0.8
		for _, f := range m.features(c, nil) {
			v += weights[f]
		}
		return v
	}
	for range 2000 {
		c := sp.RandomConfig(rng)
		m.add(&c, truth(&c))
		m.fit() // warm-started refits, as in a search
	}
	var pred, want []float64
	for range 500 {
		c := sp.RandomConfig(rng)
		pred = append(pred, m.predict(&c))
		want = append(want, truth(&c))
	}
	if rho := spearman(pred, want); rho < 0.97 {
		t.Errorf("surrogate rank correlation %.3f on an additive target, want ≥ 0.97", rho)
	}
}

func spearman(a, b []float64) float64 {
	rank := func(v []float64) []float64 {
		idx := make([]int, len(v))
		for i := range idx {
			idx[i] = i
		}
		for i := 1; i < len(idx); i++ {
			for j := i; j > 0 && v[idx[j]] < v[idx[j-1]]; j-- {
				idx[j], idx[j-1] = idx[j-1], idx[j]
			}
		}
		r := make([]float64, len(v))
		for k, i := range idx {
			r[i] = float64(k)
		}
		return r
	}
	ra, rb := rank(a), rank(b)
	n := float64(len(a))
	d := 0.0
	for i := range ra {
		d += (ra[i] - rb[i]) * (ra[i] - rb[i])
	}
	return 1 - 6*d/(n*(n*n-1))
}

func TestConfigTable(t *testing.T) {
	sp := space(t, 1.0)
	rng := rand.New(rand.NewPCG(5, 5))
	tab := newConfigTable(4)
	want := map[supernet.Config]int{}
	for i := range 5000 {
		c := sp.RandomConfig(rng)
		if i%3 == 0 && len(tab.ents) > 0 {
			c = tab.ents[rng.IntN(len(tab.ents))].c // overwrite an old key
		}
		tab.put(&c, i)
		want[c] = i
	}
	if tab.len() != len(want) {
		t.Fatalf("table holds %d configs, want %d", tab.len(), len(want))
	}
	for c, v := range want {
		if got, ok := tab.get(&c); !ok || got != v {
			t.Fatalf("get = %d, %v; want %d", got, ok, v)
		}
	}
	// Collisions chain: force every entry under one hash.
	tab = &configTable{head: map[uint64]int32{}}
	a, b := sp.MinConfig(128), sp.MaxConfig(224)
	for _, c := range []supernet.Config{a, b} {
		next := int32(-1)
		if i, ok := tab.head[7]; ok {
			next = i
		}
		tab.head[7] = int32(len(tab.ents))
		tab.ents = append(tab.ents, tableEntry{c: c, v: len(tab.ents), next: next})
	}
	if i := tab.find(&a, 7); i != 0 {
		t.Errorf("chained lookup found %d, want 0", i)
	}
	if i := tab.find(&b, 7); i != 1 {
		t.Errorf("chained lookup found %d, want 1", i)
	}
	c := sp.MinConfig(224)
	if i := tab.find(&c, 7); i != -1 {
		t.Errorf("absent config found at %d", i)
	}
}
