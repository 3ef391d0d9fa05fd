package native

import (
	"math/rand/v2"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

// TestSubnetMemoryBytes: the byte count from the layer shapes alone is
// MemoryBytes of an initialized net of the same subnet, for the smallest
// and largest subnets and random ones of both spaces at several
// resolutions and batch sizes; a bad config is refused.
func TestSubnetMemoryBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, name := range []string{"w1.0", "w1.2"} {
		s := spaceNamed(t, name)
		for _, r := range []int{32, 161, 260} {
			cfgs := []supernet.Config{s.MinConfig(r), s.MaxConfig(r)}
			for range 2 {
				c := s.RandomConfig(rng)
				c.R = r
				cfgs = append(cfgs, c)
			}
			for _, c := range cfgs {
				net := supernet.Init(s, c, 1)
				for _, n := range []int{1, 64, 200} {
					want, err := MemoryBytes(net, n)
					if err != nil {
						t.Fatal(err)
					}
					got, err := SubnetMemoryBytes(s, c, n)
					if err != nil {
						t.Fatal(err)
					}
					if got != want {
						t.Errorf("%s %s, %d images: SubnetMemoryBytes %d, MemoryBytes %d", name, c, n, got, want)
					}
				}
			}
		}
		bad := s.MaxConfig(224)
		bad.KS[0] = 4
		if _, err := SubnetMemoryBytes(s, bad, 1); err == nil {
			t.Errorf("%s: kernel 4 accepted", name)
		}
		bad = s.MaxConfig(16)
		if _, err := SubnetMemoryBytes(s, bad, 1); err == nil {
			t.Errorf("%s: resolution 16 accepted", name)
		}
	}
	if _, err := SubnetMemoryBytes(nil, supernet.Config{}, 1); err == nil {
		t.Error("no space accepted")
	}
}
