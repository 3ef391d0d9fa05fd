package native

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/supernet"
)

// TestSignTest checks the per-channel threshold against the normalization
// itself on random channels (g negative, zero, tiny and huge included) at
// random values, at values next to the threshold and at the extremes.
func TestSignTest(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const channels = 400
	nm := &affine{m: make([]float64, channels), inv: make([]float64, channels), g: make([]float64, channels), beta: make([]float64, channels)}
	for c := range channels {
		nm.m[c] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4))
		nm.inv[c] = 1 / math.Sqrt(math.Abs(rng.NormFloat64())*math.Pow(10, float64(rng.IntN(9)-4))+1e-5)
		switch c % 5 {
		case 0:
			nm.g[c] = 0
		case 1:
			nm.g[c] = -math.Abs(rng.NormFloat64())
		default:
			nm.g[c] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3))
		}
		nm.beta[c] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-5))
		if c%7 == 0 {
			nm.beta[c] = 0
		}
	}
	extremes := []float32{0, float32(math.Copysign(0, -1)), math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1, -1}
	for c := range channels {
		a, b := signTest(nm, c)
		f := func(x float32) bool {
			return float32(((float64(x)-nm.m[c])*nm.inv[c])*nm.g[c]+nm.beta[c]) > 0
		}
		check := func(x float32) {
			got := math.Float32bits(a*x+b)>>31 == 1
			if got != f(x) {
				t.Fatalf("channel %d (m %g inv %g g %g beta %g): x = %g coded %v, want %v (a %g, b %g)", c, nm.m[c], nm.inv[c], nm.g[c], nm.beta[c], x, got, f(x), a, b)
			}
		}
		for _, x := range extremes {
			check(x)
		}
		// Around the threshold the test was built from, and around the
		// real-valued root of the normalization.
		root := float32(nm.m[c] - nm.beta[c]/(nm.inv[c]*nm.g[c]))
		for _, t0 := range []float32{-a * b, root} {
			if math.IsInf(float64(t0), 0) || math.IsNaN(float64(t0)) {
				continue
			}
			x := t0
			for range 4 {
				x = math.Nextafter32(x, float32(math.Inf(-1)))
			}
			for range 9 {
				check(x)
				x = math.Nextafter32(x, float32(math.Inf(1)))
			}
		}
		for range 200 {
			check(float32(nm.m[c] + rng.NormFloat64()/nm.inv[c]))
		}
	}
}

// TestPackSigns checks the packing against a plain loop on maps whose
// length is not a multiple of 64 and channel counts whose period is
// longer than a word.
func TestPackSigns(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, shape := range [][2]int{{24, 9}, {40, 7}, {136, 5}, {64, 3}, {8, 1}, {1152, 2}} {
		c, pixels := shape[0], shape[1]
		nm := &affine{m: make([]float64, c), inv: make([]float64, c), g: make([]float64, c), beta: make([]float64, c)}
		for j := range c {
			nm.m[j], nm.inv[j], nm.g[j], nm.beta[j] = rng.NormFloat64(), 1, rng.NormFloat64(), rng.NormFloat64()*0.1
		}
		raw := randSlice(rng, c*pixels)
		ta, tb := signTests(nm, c)
		if len(ta)%64 != 0 || len(ta)%c != 0 {
			t.Fatalf("%d channels: period %d is not a multiple of 64 and of the channels", c, len(ta))
		}
		got := make([]uint64, (len(raw)+63)/64)
		packSigns(raw, ta, tb, got)
		for u, x := range raw {
			j := u % c
			want := float32(((float64(x)-nm.m[j])*nm.inv[j])*nm.g[j]+nm.beta[j]) > 0
			if (got[u/64]>>(u%64))&1 == 1 != want {
				t.Fatalf("%d channels x %d pixels: unit %d coded %v, want %v", c, pixels, u, !want, want)
			}
		}
		if tail := len(raw) % 64; tail != 0 && got[len(got)-1]>>tail != 0 {
			t.Fatalf("%d channels x %d pixels: bits set past the last unit: %#x", c, pixels, got[len(got)-1])
		}
		// The portable loop gives the same words as the assembly.
		portable := make([]uint64, len(raw)/64)
		signWordsGo(raw, ta, tb, len(portable), portable)
		for w := range portable {
			if portable[w] != got[w] {
				t.Fatalf("%d channels: word %d is %#x portably, %#x by packSigns", c, w, portable[w], got[w])
			}
		}
	}
}

// nativeCodes runs ActivationCodes and keeps a copy of every layer.
func nativeCodes(t *testing.T, ks *kernelSet, net *supernet.Net, in []float32, n int) []Codes {
	t.Helper()
	c := newCalibratorKernels(t, net, n, ks)
	defer c.Close()
	var out []Codes
	err := c.ActivationCodes(context.Background(), in, n, func(co *Codes) error {
		cp := *co
		cp.Bits = append([]uint64(nil), co.Bits...)
		out = append(out, cp)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestActivationCodesMatchReference compares the engine's codes with the
// plain Go reference's, unit by unit, for the smallest and largest subnets
// of both spaces and every kernel set: identical with the exact sets; the
// fused multiply-add sets round differently and may flip a unit whose
// input is within rounding of zero.
func TestActivationCodesMatchReference(t *testing.T) {
	for _, sp := range []string{"w1.0", "w1.2"} {
		s := spaceNamed(t, sp)
		for _, cfg := range []supernet.Config{s.MinConfig(40), s.MaxConfig(48)} {
			net := supernet.Init(s, cfg, 3)
			const n = 3
			in := images(n, cfg.R, 2)
			ref, err := export.ForwardCodes(net, in)
			if err != nil {
				t.Fatal(err)
			}
			if want := export.CodeLayers(s, cfg); len(ref) != len(want) {
				t.Fatalf("reference gives %d layers, CodeLayers %d", len(ref), len(want))
			}
			for _, ks := range kernelSets() {
				got := nativeCodes(t, ks, net, in, n)
				if len(got) != len(ref) {
					t.Fatalf("%s %s kernels %s: %d code layers, reference %d", sp, cfg, ks.name, len(got), len(ref))
				}
				flips, total := 0, 0
				for li, r := range ref {
					g := got[li]
					if g.Name != r.Name || g.Units() != r.Units() || g.N != n {
						t.Fatalf("layer %d: engine %s (%d units, %d images), reference %s (%d units)", li, g.Name, g.Units(), g.N, r.Name, r.Units())
					}
					hw := r.H * r.W
					for i := range n {
						bits := g.Image(i)
						for u := range r.Units() {
							ch, p := u/hw, u%hw
							v := p*r.C + ch
							if (bits[v/64]>>(v%64))&1 == 1 != r.Codes[i][u] {
								flips++
								if ks.exact {
									t.Errorf("%s %s kernels %s: %s image %d unit (c %d, pixel %d) differs from the reference", sp, cfg, ks.name, r.Name, i, ch, p)
								}
							}
						}
						if tail := r.Units() % 64; tail != 0 && bits[len(bits)-1]>>tail != 0 {
							t.Fatalf("%s: bits set past the last unit", r.Name)
						}
					}
					total += n * r.Units()
				}
				if flips > total/10000 {
					t.Errorf("%s %s kernels %s: %d of %d units differ from the reference", sp, cfg, ks.name, flips, total)
				}
			}
		}
	}
}

// TestActivationCodesStop: an error from the callback ends the run and is
// returned; the calibrator stays usable.
func TestActivationCodesStop(t *testing.T) {
	s := spaceNamed(t, "w1.0")
	net := supernet.Init(s, s.MinConfig(32), 1)
	c, err := NewCalibrator(net, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in := images(2, 32, 1)
	stop := errors.New("enough")
	calls := 0
	if err := c.ActivationCodes(context.Background(), in, 2, func(*Codes) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("got %v after %d calls, want the callback's error after 1", err, calls)
	}
	if _, err := c.BatchStats(context.Background(), in, 2); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.ActivationCodes(ctx, in, 2, func(*Codes) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: got %v", err)
	}
}

// BenchmarkPackSigns packs the signs of a 56×56×144 map (the size of an
// expand output of w1.2 at 224) with the assembly kernel and, as the
// baseline in the same run, the portable loop.
func BenchmarkPackSigns(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const c, pixels = 144, 56 * 56
	nm := &affine{m: make([]float64, c), inv: make([]float64, c), g: make([]float64, c), beta: make([]float64, c)}
	for j := range c {
		nm.m[j], nm.inv[j], nm.g[j], nm.beta[j] = rng.NormFloat64(), 1, rng.NormFloat64(), 0
	}
	raw := randSlice(rng, c*pixels)
	ta, tb := signTests(nm, c)
	dst := make([]uint64, len(raw)/64)
	for _, k := range []struct {
		name string
		pack func(raw, a, b []float32, words int, dst []uint64)
	}{{"kernel", signWords}, {"go", signWordsGo}} {
		b.Run(k.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(raw)))
			for b.Loop() {
				k.pack(raw, ta, tb, len(dst), dst)
			}
		})
	}
}

// TestReuseOther: a calibrator that takes over another's buffers, dirty with a
// different net's activations and smaller or larger than it needs, gives
// the same statistics, codes and logits as a fresh one; the old one is
// closed.
func TestReuseOther(t *testing.T) {
	s := spaceNamed(t, "w1.2")
	nets := []*supernet.Net{supernet.Init(s, s.MaxConfig(48), 1), supernet.Init(s, s.MinConfig(40), 2), supernet.Init(s, s.MaxConfig(56), 3)}
	const n = 3
	var prev *Calibrator
	for i, net := range nets {
		in := images(n, net.Config.R, uint64(i))
		fresh := runCodesAndStats(t, newCalibratorKernels(t, net, n, nil), in, n)
		c, err := NewCalibratorOptions(net, n, Options{Reuse: prev})
		if err != nil {
			t.Fatal(err)
		}
		if prev != nil {
			if _, err := prev.BatchStats(context.Background(), in, n); err == nil {
				t.Fatalf("net %d: the calibrator taken over still runs", i)
			}
		}
		got := runCodesAndStats(t, c, in, n)
		for j := range fresh {
			if got[j] != fresh[j] {
				t.Fatalf("net %d: reused buffers give another result (value %d: %v, fresh %v)", i, j, got[j], fresh[j])
			}
		}
		prev = c
	}
	prev.Close()
}

// runCodesAndStats runs BatchStats, ActivationCodes and Forward on c and
// returns everything they computed as one list of numbers.
func runCodesAndStats(t *testing.T, c *Calibrator, in []float32, n int) []float64 {
	t.Helper()
	ctx := context.Background()
	var out []float64
	stats, err := c.BatchStats(ctx, in, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stats {
		out = append(append(out, s.Mean...), s.Var...)
	}
	err = c.ActivationCodes(ctx, in, n, func(co *Codes) error {
		for _, w := range co.Bits {
			out = append(out, float64(w>>32), float64(w&(1<<32-1)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	logits, err := c.Forward(ctx, in, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range logits {
		out = append(out, float64(v))
	}
	return out
}
