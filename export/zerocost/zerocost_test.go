package zerocost

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/internal/testfix/ofafixture"
	"github.com/edgefit/edgefit/supernet"
)

func space(t testing.TB, name string) *supernet.Space {
	t.Helper()
	s, err := supernet.SpaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// det3 is the determinant of a 3×3 matrix by cofactor expansion.
func det3(m [3][3]float64) float64 {
	return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
}

// pack packs rows of 0/1 codes, one row per image, 64 to a word.
func pack(codes [][]bool) ([]uint64, int) {
	words := (len(codes[0]) + 63) / 64
	out := make([]uint64, len(codes)*words)
	for i, row := range codes {
		for u, on := range row {
			if on {
				out[i*words+u/64] |= 1 << (u % 64)
			}
		}
	}
	return out, words
}

func bools(s string) []bool {
	out := make([]bool, len(s))
	for i := range s {
		out[i] = s[i] == '1'
	}
	return out
}

// TestKernelByHand: three images coded 11010, 11100 and 00011 agree on
// 3, 2 and 0 of the 5 units, so K = [[5 3 2] [3 5 0] [2 0 5]], whose
// determinant is 5·25 − 3·15 + 2·(−10) = 60.
func TestKernelByHand(t *testing.T) {
	k := NewKernel(3)
	codes, words := pack([][]bool{bools("11010"), bools("11100"), bools("00011")})
	if err := k.Add(codes, words, 5); err != nil {
		t.Fatal(err)
	}
	want := [3][3]int64{{5, 3, 2}, {3, 5, 0}, {2, 0, 5}}
	for i := range 3 {
		for j := range 3 {
			if got := k.Agreement(i, j); got != want[i][j] {
				t.Errorf("K[%d][%d] = %d, want %d", i, j, got, want[i][j])
			}
		}
	}
	got, ok := k.LogDet()
	if !ok {
		t.Fatal("factorization failed")
	}
	// The ridge adds 5e-6 to the diagonal: det grows by about
	// 5e-6·(25+25+21) ≈ 3.6e-4, log det by 6e-6.
	d := 5 * Ridge
	ridged := det3([3][3]float64{{5 + d, 3, 2}, {3, 5 + d, 0}, {2, 0, 5 + d}})
	if math.Abs(got-math.Log(ridged)) > 1e-12 {
		t.Errorf("log det = %.15g, want log %.12g = %.15g", got, ridged, math.Log(ridged))
	}
	if math.Abs(got-math.Log(60)) > 1e-5 {
		t.Errorf("log det = %.10g, want about log 60 = %.10g", got, math.Log(60))
	}
}

// luLogDet is log|det a| by Gaussian elimination with partial pivoting,
// an algorithm independent of the Cholesky factorization under test.
func luLogDet(a []float64, n int) float64 {
	a = append([]float64(nil), a...)
	ld := 0.0
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r*n+c]) > math.Abs(a[p*n+c]) {
				p = r
			}
		}
		if p != c {
			for j := range n {
				a[c*n+j], a[p*n+j] = a[p*n+j], a[c*n+j]
			}
		}
		piv := a[c*n+c]
		ld += math.Log(math.Abs(piv))
		for r := c + 1; r < n; r++ {
			f := a[r*n+c] / piv
			for j := c; j < n; j++ {
				a[r*n+j] -= f * a[c*n+j]
			}
		}
	}
	return ld
}

// TestKernelRandomLayers adds layers whose unit counts do not fill their
// last word and compares every entry with a count over booleans and the
// log-determinant with LU elimination.
func TestKernelRandomLayers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 20
	k := NewKernel(n)
	agree := make([]int64, n*n)
	var units int64
	for _, size := range []int{5, 64, 65, 1000, 4097, 70000} {
		codes := make([][]bool, n)
		p := rng.Float64()
		for i := range codes {
			codes[i] = make([]bool, size)
			for u := range codes[i] {
				codes[i][u] = rng.Float64() < p
			}
		}
		packed, words := pack(codes)
		if err := k.Add(packed, words, size); err != nil {
			t.Fatal(err)
		}
		units += int64(size)
		for i := range n {
			for j := range n {
				for u := range size {
					if codes[i][u] == codes[j][u] {
						agree[i*n+j]++
					}
				}
			}
		}
	}
	if k.Units() != units {
		t.Fatalf("%d units, want %d", k.Units(), units)
	}
	m := make([]float64, n*n)
	for i := range n {
		for j := range n {
			if got := k.Agreement(i, j); got != agree[i*n+j] {
				t.Fatalf("K[%d][%d] = %d, want %d", i, j, got, agree[i*n+j])
			}
			m[i*n+j] = float64(agree[i*n+j])
		}
		m[i*n+i] += Ridge * float64(units)
	}
	got, _ := k.LogDet()
	if want := luLogDet(m, n); math.Abs(got-want) > 1e-9*math.Abs(want) {
		t.Errorf("log det %.12g, LU gives %.12g", got, want)
	}
	if err := k.Add(make([]uint64, 3), 1, 10); err == nil {
		t.Error("a layer of the wrong size was accepted")
	}
}

// TestLogDetSingular: identical codes make K singular; the score stays
// finite and never falls below the floor, which every image coded alike
// reaches.
func TestLogDetSingular(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codes []string
	}{
		{"two equal", []string{"1100110", "1100110", "0011100", "1010101"}},
		{"all equal", []string{"1011", "1011", "1011", "1011"}},
		{"complements", []string{"10", "01", "10", "01"}},
	} {
		rows := make([][]bool, len(tc.codes))
		for i, s := range tc.codes {
			rows[i] = bools(s)
		}
		k := NewKernel(len(rows))
		packed, words := pack(rows)
		if err := k.Add(packed, words, len(tc.codes[0])); err != nil {
			t.Fatal(err)
		}
		got, ok := k.LogDet()
		if !ok || math.IsInf(got, 0) || math.IsNaN(got) {
			t.Fatalf("%s: score %v (ok %v), want finite", tc.name, got, ok)
		}
		floor := k.Floor()
		if got < floor-1e-9 {
			t.Errorf("%s: score %v below the floor %v", tc.name, got, floor)
		}
		if tc.name == "all equal" && math.Abs(got-floor) > 1e-6 {
			t.Errorf("all images alike: score %v, want the floor %v", got, floor)
		}
		if got > Bound(k.Images(), k.Units()) {
			t.Errorf("%s: score %v above the bound", tc.name, got)
		}
	}
}

// TestScoreSmallNetByHand is the end-to-end check: the smallest w1.0
// subnet at 32 pixels on three synthetic images, with seeded untrained
// weights and with the fixture checkpoint's, whose codes come from the
// plain Go reference forward pass (export.ForwardCodes), the kernel
// counted unit by unit over booleans and its determinant by cofactors.
func TestScoreSmallNetByHand(t *testing.T) {
	s := space(t, "ofa-mbv3-w1.0")
	c := s.MinConfig(32)
	im, err := SyntheticImages(3, 7)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := im.Batch(context.Background(), 32)
	if err != nil {
		t.Fatal(err)
	}
	for _, trained := range []bool{false, true} {
		opts := Options{Images: im, Seed: 11}
		net := supernet.Init(s, c, 11)
		if trained {
			opts.Checkpoint = fixtureCheckpoint(t)
			if net, err = supernet.Extract(opts.Checkpoint, c); err != nil {
				t.Fatal(err)
			}
		}
		m, err := New(s, opts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Score(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := export.ForwardCodes(net, batch)
		if err != nil {
			t.Fatal(err)
		}
		var k [3][3]float64
		units := 0
		for _, l := range layers {
			units += l.Units()
			for i := range 3 {
				for j := range 3 {
					for u := range l.Codes[i] {
						if l.Codes[i][u] == l.Codes[j][u] {
							k[i][j]++
						}
					}
				}
			}
		}
		if int64(units) != got.Units || int64(units) != Units(s, c) {
			t.Fatalf("units: score has %d, Units %d, reference %d", got.Units, Units(s, c), units)
		}
		for i := range 3 {
			k[i][i] += Ridge * float64(units)
		}
		want := math.Log(math.Abs(det3(k)))
		if math.Abs(got.Score-want) > 1e-9*math.Abs(want) {
			t.Fatalf("trained %v: score %.12g, hand-computed %.12g (K = %v)", trained, got.Score, want, k)
		}
		if trained != strings.Contains(m.Source(), "with the weights of") {
			t.Errorf("trained %v: source %q", trained, m.Source())
		}
		t.Logf("trained %v: N = %d units, K = %v, score %.6f, normalized %.4f", trained, units, k, got.Score, got.Normalized)
	}
}

// fixtureCheckpoint loads the OFA-format w1.0 fixture written by upstream OFA.
func fixtureCheckpoint(t testing.TB) *supernet.Checkpoint {
	t.Helper()
	return ofafixture.Checkpoint(t)
}

// pictureFolder writes n pictures of various sizes into a new folder,
// some in a subfolder.
func pictureFolder(t testing.TB, n int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(n), 4))
	for i := range n {
		d := dir
		if i%3 == 2 {
			d = filepath.Join(dir, "sub")
		}
		ext := ".jpg"
		if i%5 == 4 {
			ext = ".png"
		}
		testfix.WritePicture(t, filepath.Join(d, fmt.Sprintf("p%03d%s", i, ext)), 120+rng.IntN(260), 120+rng.IntN(260), uint64(i))
	}
	return dir
}

// TestScoreFiniteEverySubnet scores the smallest subnet at the lowest
// resolution, the largest at the highest and random ones of both spaces,
// at initialization on the synthetic batch and with pictures read from a
// folder: every score is finite, within [Floor, Bound], and normalized
// into [0, 1].
func TestScoreFiniteEverySubnet(t *testing.T) {
	folder, err := OpenImages(context.Background(), pictureFolder(t, DefaultImages), 0)
	if err != nil {
		t.Fatal(err)
	}
	synth, err := SyntheticImages(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for _, name := range []string{"ofa-mbv3-w1.0", "ofa-mbv3-w1.2"} {
		s := space(t, name)
		rs := s.Resolutions
		cfgs := []supernet.Config{s.MinConfig(rs[0]), s.MaxConfig(rs[len(rs)-1])}
		for range 2 {
			c := s.RandomConfig(rng)
			cfgs = append(cfgs, c)
		}
		for _, im := range []*Images{synth, folder} {
			m, err := New(s, Options{Images: im, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cfgs {
				r, err := m.Score(context.Background(), c)
				if err != nil {
					t.Fatal(err)
				}
				floor, bound := Floor(im.N(), r.Units), Bound(im.N(), r.Units)
				if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) || r.Score < floor || r.Score > bound {
					t.Errorf("%s %s on %s: score %v outside [%v, %v]", name, c, im.Describe(), r.Score, floor, bound)
				}
				if !(r.Normalized >= 0 && r.Normalized <= 1) {
					t.Errorf("%s %s: normalized %v", name, c, r.Normalized)
				}
				t.Logf("%s r=%d %s: N=%d score %.2f (bound %.2f) normalized %.4f in %.2fs", name, c.R, strings.SplitN(im.Describe(), " (", 2)[0], r.Units, r.Score, bound, r.Normalized, r.Seconds)
			}
		}
	}
}

// TestScoreCache: a subnet is computed once; equivalent configs (inactive
// blocks differing) share the entry; Accuracy reads the cache.
func TestScoreCache(t *testing.T) {
	s := space(t, "ofa-mbv3-w1.0")
	im, err := SyntheticImages(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(s, Options{Images: im, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := s.MinConfig(128)
	first, err := m.Score(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if first.Seconds <= 0 {
		t.Errorf("a computed score took %v s", first.Seconds)
	}
	twin := c
	twin.KS[3], twin.E[3] = 7, 6 // block 3 is inactive at depth 2
	again, err := m.Score(context.Background(), twin)
	if err != nil {
		t.Fatal(err)
	}
	if again.Score != first.Score || again.Seconds != 0 {
		t.Errorf("cached score %v (%v s), first %v", again.Score, again.Seconds, first.Score)
	}
	out := make([]float64, 2)
	m.Accuracy([]supernet.Config{c, twin}, out)
	if out[0] != first.Normalized || out[1] != first.Normalized {
		t.Errorf("Accuracy %v, want %v twice", out, first.Normalized)
	}
	if n, _ := m.Stats(); n != 1 {
		t.Errorf("%d subnets computed, want 1", n)
	}
	if got := im.cached(); len(got) != 1 || got[0] != 128 {
		t.Errorf("batches cached at %v, want [128]", got)
	}
	// A different subnet is computed, and differs.
	other, err := m.Score(context.Background(), s.MaxConfig(128))
	if err != nil {
		t.Fatal(err)
	}
	if other.Score == first.Score || other.Seconds == 0 {
		t.Errorf("max subnet: score %v in %v s, same as the min subnet's", other.Score, other.Seconds)
	}
}

// TestAccuracyErrors: a config the space cannot run is NaN and recorded;
// a cancelled context gives NaN without an error.
func TestAccuracyErrors(t *testing.T) {
	s := space(t, "ofa-mbv3-w1.0")
	im, err := SyntheticImages(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m, err := New(s, Options{Images: im, Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	bad := s.MinConfig(128)
	bad.KS[0] = 4
	out := make([]float64, 1)
	m.Accuracy([]supernet.Config{bad}, out)
	if !math.IsNaN(out[0]) || m.Err() == nil {
		t.Errorf("kernel 4: accuracy %v, error %v", out[0], m.Err())
	}
	cancel()
	m2, _ := New(s, Options{Images: im, Context: ctx})
	m2.Accuracy([]supernet.Config{s.MinConfig(128)}, out)
	if !math.IsNaN(out[0]) || m2.Err() != nil {
		t.Errorf("cancelled: accuracy %v, error %v; want NaN and no error", out[0], m2.Err())
	}
}

// TestImagesBadInput: what the image batch refuses and says.
func TestImagesBadInput(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir()
	if _, err := OpenImages(ctx, empty, 0); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty folder: %v", err)
	}
	one := t.TempDir()
	testfix.WritePicture(t, filepath.Join(one, "a.jpg"), 64, 64, 1)
	if _, err := OpenImages(ctx, one, 0); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("one image: %v", err)
	}
	if _, err := SyntheticImages(1, 1); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("one synthetic image: %v", err)
	}
	if _, err := OpenImages(ctx, filepath.Join(empty, "missing"), 0); err == nil {
		t.Error("a missing folder was accepted")
	}
	bad := t.TempDir()
	testfix.WritePicture(t, filepath.Join(bad, "a.jpg"), 64, 64, 1)
	if err := os.WriteFile(filepath.Join(bad, "b.jpg"), []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenImages(ctx, bad, 0); err == nil || !strings.Contains(err.Error(), "b.jpg") {
		t.Errorf("a text file named .jpg: %v", err)
	}
	few := pictureFolder(t, 5)
	im, err := OpenImages(ctx, few, 0)
	if err != nil {
		t.Fatal(err)
	}
	if im.N() != 5 || !strings.Contains(im.Describe(), "fewer than the 64 asked for") {
		t.Errorf("5 images: N %d, %q", im.N(), im.Describe())
	}
	im, err = OpenImages(ctx, few, 3)
	if err != nil || im.N() != 3 || !strings.Contains(im.Describe(), "first 3 images of "+few) {
		t.Errorf("first 3 of 5: %v, %d", err, im.N())
	}
	syn, err := SyntheticImages(0, 9)
	if err != nil || syn.N() != DefaultImages || !syn.Synthetic() || !strings.Contains(syn.Describe(), "synthetic batch of 64") {
		t.Errorf("synthetic: %v %q", err, syn.Describe())
	}
	m, err := New(space(t, "ofa-mbv3-w1.2"), Options{Images: syn})
	if err != nil {
		t.Fatal(err)
	}
	if src := m.Source(); !strings.HasPrefix(src, SourcePrefix) || !strings.Contains(src, "synthetic batch") || !strings.Contains(src, "untrained") || !m.AccuracyIsProxy() {
		t.Errorf("source %q does not say proxy, synthetic and untrained", src)
	}
}

// TestSyntheticDeterministic: the same seed gives the same batch, another
// seed another; images differ from each other.
func TestSyntheticDeterministic(t *testing.T) {
	ctx := context.Background()
	batch := func(seed uint64) []float32 {
		im, err := SyntheticImages(3, seed)
		if err != nil {
			t.Fatal(err)
		}
		b, err := im.Batch(ctx, 64)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := batch(1), batch(1), batch(2)
	per := 3 * 64 * 64
	same, diff, apart := true, false, false
	for i := range a {
		same = same && a[i] == b[i]
		diff = diff || a[i] != c[i]
		apart = apart || (i < per && a[i] != a[i+per])
	}
	if !same || !diff || !apart {
		t.Errorf("same seed same batch %v, other seed differs %v, images differ %v", same, diff, apart)
	}
}

// TestCheckpointSpace: a checkpoint of another space, no images and
// more images than the engine holds are refused.
func TestCheckpointSpace(t *testing.T) {
	im, _ := SyntheticImages(2, 1)
	if _, err := New(space(t, "ofa-mbv3-w1.2"), Options{Images: im, Checkpoint: fixtureCheckpoint(t)}); err == nil || !strings.Contains(err.Error(), "ofa-mbv3-w1.0") {
		t.Errorf("w1.0 checkpoint for w1.2: %v", err)
	}
	if _, err := New(space(t, "ofa-mbv3-w1.0"), Options{}); err == nil {
		t.Error("no images accepted")
	}
	many, _ := SyntheticImages(1000, 1)
	if _, err := New(space(t, "ofa-mbv3-w1.2"), Options{Images: many}); err == nil || !strings.Contains(err.Error(), "use fewer images") {
		t.Errorf("1000 images: %v", err)
	}
}
