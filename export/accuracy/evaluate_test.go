package accuracy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/internal/imaging"
	"github.com/edgefit/edgefit/supernet"

	"github.com/edgefit/edgefit/internal/testfix"
)

func TestHitsTies(t *testing.T) {
	logits := []float32{1, 5, 5, 3, 2, 0, 4}
	for _, tc := range []struct {
		label      int
		top1, top5 bool
	}{
		{1, true, true},  // tied for first: counts
		{2, true, true},  // the other of the tie
		{6, false, true}, // third
		{4, false, true}, // fifth: 5,5,4,3 above
		{0, false, false},
		{5, false, false},
	} {
		t1, t5 := hits(logits, tc.label)
		if t1 != tc.top1 || t5 != tc.top5 {
			t.Errorf("label %d: top1 %v top5 %v, want %v %v", tc.label, t1, t5, tc.top1, tc.top5)
		}
	}
}

// TestEvaluateFolder builds a labelled folder whose labels are chosen from
// the Go reference forward pass (independent of ONNX Runtime) so that the
// expected top-1 and top-5 hits are known, then checks Evaluate.
func TestEvaluateFolder(t *testing.T) {
	needORT(t)
	ck := checkpoint(t)
	net, err := supernet.Extract(ck, randomConfig(ck.Space, 128, 5))
	if err != nil {
		t.Fatal(err)
	}
	stage := t.TempDir()
	const n = 12
	ranks := make([][]int, n) // classes by falling logit, per image
	paths := make([]string, n)
	for i := range n {
		paths[i] = filepath.Join(stage, fmt.Sprintf("p%02d.png", i))
		if i%2 == 1 {
			paths[i] = strings.TrimSuffix(paths[i], ".png") + ".jpg"
		}
		testfix.WritePicture(t, paths[i], 90+7*i, 140-5*i, uint64(100+i))
		b, err := os.ReadFile(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		m, err := imaging.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 3*128*128)
		if err := imaging.TestTransform(m, 128, x); err != nil {
			t.Fatal(err)
		}
		logits, err := export.Forward(net, x)
		if err != nil {
			t.Fatal(err)
		}
		idx := make([]int, len(logits))
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
		ranks[i] = idx
	}
	// Label image i with its class of rank 0 (a top-1 hit), rank 3 (a top-5
	// hit only) or rank 50 (a miss).
	dir := t.TempDir()
	wantTop1, wantTop5 := 0, 0
	for i := range n {
		rank := []int{0, 3, 50}[i%3]
		if rank == 0 {
			wantTop1++
		}
		if rank < 5 {
			wantTop5++
		}
		cd := filepath.Join(dir, fmt.Sprint(ranks[i][rank]))
		os.MkdirAll(cd, 0o755)
		if err := os.Rename(paths[i], filepath.Join(cd, filepath.Base(paths[i]))); err != nil {
			t.Fatal(err)
		}
	}
	es, err := OpenEvaluation(context.Background(), EvalOptions{Dir: dir, Batch: 5}, ck.Space.Classes)
	if err != nil {
		t.Fatal(err)
	}
	model, err := export.Marshal(net, export.Metadata{CheckpointSHA256: ck.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	res, err := es.Evaluate(context.Background(), model, 128, func(done, total int) { seen = append(seen, done, total) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Images != n || res.Top1Hits != wantTop1 || res.Top5Hits != wantTop5 {
		t.Fatalf("evaluated %d images, %d top-1 and %d top-5 hits; want %d, %d, %d", res.Images, res.Top1Hits, res.Top5Hits, n, wantTop1, wantTop5)
	}
	if res.Top1 != float64(wantTop1)/n || res.Top5 != float64(wantTop5)/n || !(res.ImagesPerSecond > 0) {
		t.Errorf("fractions %g, %g and %g images/s", res.Top1, res.Top5, res.ImagesPerSecond)
	}
	if !slices.Equal(seen, []int{5, n, 10, n, 12, n}) {
		t.Errorf("progress reports %v, want after each batch of 5", seen)
	}
}

func TestEvaluationErrors(t *testing.T) {
	ctx := context.Background()
	unlabelled := t.TempDir()
	testfix.WritePicture(t, filepath.Join(unlabelled, "a.jpg"), 40, 40, 1)
	tooMany := t.TempDir()
	for _, c := range []string{"cat", "dog"} {
		os.MkdirAll(filepath.Join(tooMany, c), 0o755)
		testfix.WritePicture(t, filepath.Join(tooMany, c, "a.jpg"), 40, 40, 2)
	}
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"no folder", "", "--data"},
		{"named classes without labels", tooMany, "cat"},
		{"images without class folders", unlabelled, unlabelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenEvaluation(ctx, EvalOptions{Dir: tc.dir}, 1000)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
