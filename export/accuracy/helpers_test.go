package accuracy

import (
	"context"
	"io"
	"math/rand/v2"
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
