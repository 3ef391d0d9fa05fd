package supernet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// TestExtractMatchesOFA compares every tensor of every reference subnet
// with the statistics OFA's own get_active_subnet().state_dict() produced.
// The fixture's kernel-transform matrices are perturbed away from the
// identity, so skipping or misordering the transform fails here.
func TestExtractMatchesOFA(t *testing.T) {
	ref := loadReference(t)
	ck := fixtureCheckpoint(t)
	for _, rc := range ref.Cases {
		t.Run(rc.Name, func(t *testing.T) {
			n, err := Extract(ck, rc.Config)
			if err != nil {
				t.Fatal(err)
			}
			got := n.StateDict()
			var missing, extra []string
			for k := range rc.SubnetTensors {
				if _, ok := got[k]; !ok {
					missing = append(missing, k)
				}
			}
			for k := range got {
				if _, ok := rc.SubnetTensors[k]; !ok {
					extra = append(extra, k)
				}
			}
			sort.Strings(missing)
			sort.Strings(extra)
			if len(missing)+len(extra) > 0 {
				t.Fatalf("state_dict keys differ from OFA's: missing %v, extra %v", missing, extra)
			}
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			bad := 0
			for _, k := range keys {
				if msg := compareStat(got[k], rc.SubnetTensors[k]); msg != "" {
					t.Errorf("%s: %s", k, msg)
					if bad++; bad > 10 {
						t.Fatal("too many mismatches")
					}
				}
			}
			checkNetLayers(t, n)
		})
	}
}

// compareStat checks a tensor against OFA's shape, sum, abs_sum and first
// values.
func compareStat(tn Tensor, want tensorStat) string {
	if !slices.Equal(tn.Shape, want.Shape) {
		return "shape " + shapeString(tn.Shape) + ", want " + shapeString(want.Shape)
	}
	if len(tn.Data) != tn.Len() {
		return "data length does not match shape"
	}
	var sum, abs float64
	for _, v := range tn.Data {
		sum += float64(v)
		abs += math.Abs(float64(v))
	}
	tol := 1e-5 * math.Max(want.AbsSum, 1e-6)
	if math.Abs(abs-want.AbsSum) > tol {
		return sprintf("abs_sum %.7g, want %.7g", abs, want.AbsSum)
	}
	if math.Abs(sum-want.Sum) > tol {
		return sprintf("sum %.7g, want %.7g (abs_sum %.7g)", sum, want.Sum, want.AbsSum)
	}
	for i, h := range want.Head {
		if i >= len(tn.Data) {
			return "fewer values than head"
		}
		if math.Abs(float64(tn.Data[i])-h) > 1e-5 {
			return sprintf("value %d = %.7g, want %.7g", i, tn.Data[i], h)
		}
	}
	return ""
}

// checkNetLayers checks that each block's recorded layer agrees with its
// weights and with Space.Layers.
func checkNetLayers(t *testing.T, n *Net) {
	t.Helper()
	var blocks []Layer
	for _, l := range n.Space.Layers(n.Config, nil) {
		if l.Kind == KindBlock {
			blocks = append(blocks, l)
		}
	}
	if len(blocks) != len(n.Blocks) {
		t.Fatalf("%d blocks, Space.Layers has %d", len(n.Blocks), len(blocks))
	}
	for j, b := range n.Blocks {
		l := b.Layer
		if l != blocks[j] {
			t.Errorf("block %d layer %+v, want %+v", j, l, blocks[j])
		}
		if w := b.Depthwise.Weight.Shape; !slices.Equal(w, []int{l.Mid, 1, l.Kernel, l.Kernel}) || b.Depthwise.Groups != l.Mid || b.Depthwise.Stride != l.Stride {
			t.Errorf("block %d depthwise %v groups %d stride %d for layer %+v", j, w, b.Depthwise.Groups, b.Depthwise.Stride, l)
		}
		if (b.Expand != nil) != l.Expand || (b.SE != nil) != (l.SE > 0) {
			t.Errorf("block %d: expand %v SE %v for layer %+v", j, b.Expand != nil, b.SE != nil, l)
		}
		if b.SE != nil && !slices.Equal(b.SE.Reduce.Weight.Shape, []int{l.SE, l.Mid, 1, 1}) {
			t.Errorf("block %d SE reduce %v", j, b.SE.Reduce.Weight.Shape)
		}
		if !slices.Equal(b.Project.Weight.Shape, []int{l.Out, l.Mid, 1, 1}) {
			t.Errorf("block %d project %v", j, b.Project.Weight.Shape)
		}
		if b.Depthwise.BN.Eps != 1e-5 || len(b.Depthwise.BN.Var) != l.Mid {
			t.Errorf("block %d BN eps %g len %d", j, b.Depthwise.BN.Eps, len(b.Depthwise.BN.Var))
		}
	}
}

// TestKernelTransformOrder checks the elastic kernel on a hand-made case:
// ks=3 must come from the transformed 5x5, not from the raw 7x7.
func TestKernelTransformOrder(t *testing.T) {
	// One channel, W7[r][c] = 10r + c.
	w7 := make([]float32, 49)
	for r := range 7 {
		for c := range 7 {
			w7[r*7+c] = float32(10*r + c)
		}
	}
	// M75 doubles, M53 reverses the 9 values.
	m75 := make([]float32, 625)
	for i := range 25 {
		m75[i*25+i] = 2
	}
	m53 := make([]float32, 81)
	for i := range 9 {
		m53[i*9+(8-i)] = 1
	}
	k5 := transformKernel(w7, 1, 7, 5, m75)
	if k5[0] != 22 || k5[24] != 110 {
		t.Fatalf("K5 corners %v %v, want 22 and 110", k5[0], k5[24])
	}
	k3 := transformKernel(k5, 1, 5, 3, m53)
	// crop3 of K5 is 2*(22..44 rows 2..4); reversed.
	want := []float32{88, 86, 84, 68, 66, 64, 48, 46, 44}
	if !slices.Equal(k3, want) {
		t.Fatalf("K3 = %v, want %v", k3, want)
	}
	// v·Mᵀ, not v·M: a non-symmetric matrix tells them apart.
	m := make([]float32, 81)
	m[0*9+1] = 1 // out[0] = v[1]
	in := make([]float32, 25)
	in[6], in[7] = 5, 2 // crop3 gives v[0] = 5, v[1] = 2
	got := transformKernel(in, 1, 5, 3, m)
	if got[0] != 2 || got[1] != 0 {
		t.Fatalf("F.linear convention broken: %v", got)
	}
}

func TestExtractErrors(t *testing.T) {
	ck := fixtureCheckpoint(t)
	s := ck.Space
	c := s.MaxConfig(224)
	c.KS[0] = 9
	if _, err := Extract(ck, c); err == nil {
		t.Error("kernel 9 accepted")
	}
	c = s.MaxConfig(16)
	if _, err := Extract(ck, c); err == nil {
		t.Error("resolution 16 accepted")
	}
	// Zoo resolutions outside the search list are fine.
	if _, err := Extract(ck, s.MinConfig(260)); err != nil {
		t.Errorf("resolution 260: %v", err)
	}
	// A hand-built checkpoint missing a tensor is an error, not a panic.
	broken := &Checkpoint{Path: "x", Space: s, Tensors: map[string]Tensor{}}
	for k, v := range ck.Tensors {
		broken.Tensors[k] = v
	}
	delete(broken.Tensors, "blocks.1.conv.depth_conv.conv.7to5_matrix")
	if _, err := Extract(broken, s.MinConfig(224)); err == nil {
		t.Error("missing transform matrix accepted")
	}
}

func TestExtractDoesNotAlias(t *testing.T) {
	ck := fixtureCheckpoint(t)
	n, err := Extract(ck, ck.Space.MaxConfig(224))
	if err != nil {
		t.Fatal(err)
	}
	before := ck.Tensors["first_conv.conv.weight"].Data[0]
	n.FirstConv.Weight.Data[0] += 1
	if ck.Tensors["first_conv.conv.weight"].Data[0] != before {
		t.Fatal("net aliases the checkpoint's memory")
	}
}

func TestInit(t *testing.T) {
	for _, w := range []float64{1.0, 1.2} {
		s, _ := NewSpace(w)
		c := s.RandomConfig(newRand(7))
		a, b := Init(s, c, 42), Init(s, c, 42)
		if !a.Untrained {
			t.Error("Init net not marked untrained")
		}
		sa, sb := a.StateDict(), b.StateDict()
		other := Init(s, c, 43).StateDict()
		same := true
		var params int64
		for k, ta := range sa {
			if !slices.Equal(ta.Data, sb[k].Data) {
				t.Fatalf("w%g: %s differs between two Inits with one seed", w, k)
			}
			if !slices.Equal(ta.Data, other[k].Data) {
				same = false
			}
			if len(ta.Data) != ta.Len() {
				t.Fatalf("%s: %d values for shape %v", k, len(ta.Data), ta.Shape)
			}
			for _, v := range ta.Data {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 10 {
					t.Fatalf("%s holds %v", k, v)
				}
			}
			if !isRunningStat(k) {
				params += int64(len(ta.Data))
			}
		}
		if same {
			t.Errorf("w%g: seeds 42 and 43 give the same weights", w)
		}
		if want := s.Costs(c).Params; params != want {
			t.Errorf("w%g: Init has %d parameters, Costs says %d", w, params, want)
		}
		checkNetLayers(t, a)
		// BN close to identity.
		bn := a.Blocks[1].Depthwise.BN
		for i := range bn.Weight {
			if math.Abs(float64(bn.Weight[i])-1) > 0.1 || bn.Var[i] < 1 || bn.Var[i] > 1.1 || math.Abs(float64(bn.Mean[i])) > 0.1 {
				t.Fatalf("BN not near identity: w %v var %v mean %v", bn.Weight[i], bn.Var[i], bn.Mean[i])
			}
		}
	}
}

func isRunningStat(k string) bool {
	return len(k) > 12 && (k[len(k)-12:] == "running_mean" || k[len(k)-11:] == "running_var")
}

// TestSubnetMatchesExtractShapes checks that Init and Extract build the
// same shapes for random configs (Init has no checkpoint to lean on).
func TestInitMatchesExtractShapes(t *testing.T) {
	ck := fixtureCheckpoint(t)
	rng := newRand(3)
	for range 20 {
		c := ck.Space.RandomConfig(rng)
		n, err := Extract(ck, c)
		if err != nil {
			t.Fatal(err)
		}
		a, b := n.StateDict(), Init(ck.Space, c, 1).StateDict()
		if len(a) != len(b) {
			t.Fatalf("%d vs %d tensors", len(a), len(b))
		}
		for k, ta := range a {
			if !slices.Equal(ta.Shape, b[k].Shape) {
				t.Fatalf("%s: extract %v, init %v", k, ta.Shape, b[k].Shape)
			}
		}
	}
}

func BenchmarkExtractMax(b *testing.B) {
	ck := fixtureCheckpoint(b)
	c := ck.Space.MaxConfig(224)
	for b.Loop() {
		if _, err := Extract(ck, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExtractMin(b *testing.B) {
	ck := fixtureCheckpoint(b)
	c := ck.Space.MinConfig(224)
	for b.Loop() {
		if _, err := Extract(ck, c); err != nil {
			b.Fatal(err)
		}
	}
}

var sprintf = fmt.Sprintf

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
