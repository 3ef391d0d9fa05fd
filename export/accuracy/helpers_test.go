package accuracy

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/internal/testfix/ofafixture"
	"github.com/edgefit/edgefit/supernet"
)

func needORT(t testing.TB) {
	t.Helper()
	testfix.Need(t, testfix.ORT, ort.Init(""))
}

// checkpoint loads the OFA-format w1.0 fixture written by upstream OFA.
func checkpoint(t testing.TB) *supernet.Checkpoint {
	t.Helper()
	return ofafixture.Checkpoint(t)
}

// randomConfig draws a subnet at resolution r.
func randomConfig(s *supernet.Space, r int, seed uint64) supernet.Config {
	c := s.RandomConfig(rand.New(rand.NewPCG(seed, 3)))
	c.R = r
	return c
}

// makeFolder writes an ImageNet-layout folder DIR/<class>/imgNNN.{jpg,png}
// with classes named 0..classes-1 and returns the files in the order
// torchvision's ImageFolder lists them (classes, then names, sorted).
func makeFolder(t testing.TB, dir string, classes, per int, seed uint64) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var files []string
	for c := range classes {
		cd := filepath.Join(dir, fmt.Sprint(c))
		if err := os.MkdirAll(cd, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range per {
			ext := ".jpg"
			if i%4 == 3 {
				ext = ".png"
			}
			p := filepath.Join(cd, fmt.Sprintf("img%03d%s", i, ext))
			testfix.WritePicture(t, p, 60+rng.IntN(200), 60+rng.IntN(200), seed*1000+uint64(c*100+i))
			files = append(files, p)
		}
	}
	return files
}

// sliceSource yields consecutive batches of a tensor.
type sliceSource struct {
	data   []float32
	labels []int
	per    int
	batch  int
	pos    int
}

func (s *sliceSource) Next(ctx context.Context) (*Batch, error) {
	total := len(s.data) / s.per
	if s.pos >= total {
		return nil, io.EOF
	}
	n := min(s.batch, total-s.pos)
	b := &Batch{Data: s.data[s.pos*s.per : (s.pos+n)*s.per], N: n}
	if s.labels != nil {
		b.Labels = s.labels[s.pos : s.pos+n]
	}
	s.pos += n
	return b, nil
}
