package predictor

import (
	"errors"
	"fmt"
	"io"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// tensor is a float32 array read from a PyTorch checkpoint.
type tensor struct {
	shape []int
	data  []float32
}

// readStateDict loads the tensors of a PyTorch checkpoint (torch.save of a
// state_dict, or of a dict holding one under "state_dict"). Entries that
// are not tensors are skipped. It never panics on a malformed file.
func readStateDict(path string) (sd map[string]tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			sd, err = nil, fmt.Errorf("read %s: malformed checkpoint (%v)", path, r)
		}
	}()
	obj, err := pytorch.LoadWithUnpickler(path, func(r io.Reader) pickle.Unpickler {
		u := pickle.NewUnpickler(r)
		u.FindClass = findClass
		return u
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (want a file written by torch.save(model.state_dict()))", path, err)
	}
	entries, ok := dictEntries(obj)
	if !ok {
		return nil, fmt.Errorf("read %s: the checkpoint holds a %T, not a dict of tensors", path, obj)
	}
	for _, e := range entries {
		if k, _ := e[0].(string); k == "state_dict" {
			if inner, ok := dictEntries(e[1]); ok {
				entries = inner
				break
			}
		}
	}
	sd = map[string]tensor{}
	for _, e := range entries {
		name, ok := e[0].(string)
		if !ok {
			continue
		}
		t, ok := e[1].(*pytorch.Tensor)
		if !ok {
			continue
		}
		if !isFloat(t) {
			continue // integer buffers such as BatchNorm's num_batches_tracked
		}
		ft, err := toFloat32(t)
		if err != nil {
			return nil, fmt.Errorf("read %s: tensor %s: %w", path, name, err)
		}
		sd[name] = ft
	}
	if len(sd) == 0 {
		return nil, fmt.Errorf("read %s: no tensors in the checkpoint", path)
	}
	return sd, nil
}

// findClass resolves the classes PyTorch pickles beyond gopickle's own:
// parameters saved as nn.Parameter rebuild to their tensor.
func findClass(module, name string) (any, error) {
	if module == "torch._utils" && name == "_rebuild_parameter" {
		return rebuildParameter{}, nil
	}
	return types.NewGenericClass(module, name), nil
}

type rebuildParameter struct{}

func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("_rebuild_parameter without arguments")
	}
	return args[0], nil
}

func dictEntries(obj any) ([][2]any, bool) {
	var out [][2]any
	switch d := obj.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			en := e.Value.(*types.OrderedDictEntry)
			out = append(out, [2]any{en.Key, en.Value})
		}
	case *types.Dict:
		for _, en := range *d {
			out = append(out, [2]any{en.Key, en.Value})
		}
	default:
		return nil, false
	}
	return out, true
}

func isFloat(t *pytorch.Tensor) bool {
	switch t.Source.(type) {
	case *pytorch.FloatStorage, *pytorch.HalfStorage, *pytorch.BFloat16Storage, *pytorch.DoubleStorage:
		return true
	}
	return false
}

// toFloat32 copies a tensor of a floating-point storage into a dense
// row-major float32 array, honouring offset and strides.
func toFloat32(t *pytorch.Tensor) (tensor, error) {
	var src []float32
	var src64 []float64
	switch s := t.Source.(type) {
	case *pytorch.FloatStorage:
		src = s.Data
	case *pytorch.HalfStorage:
		src = s.Data
	case *pytorch.BFloat16Storage:
		src = s.Data
	case *pytorch.DoubleStorage:
		src64 = s.Data
	default:
		return tensor{}, fmt.Errorf("storage %T is not floating point", t.Source)
	}
	n := len(src) + len(src64)
	if len(t.Size) != len(t.Stride) {
		return tensor{}, errors.New("size and stride disagree")
	}
	total := 1
	for _, d := range t.Size {
		if d < 0 || (d > 0 && total > (1<<31)/d) {
			return tensor{}, fmt.Errorf("bad shape %v", t.Size)
		}
		total *= d
	}
	out := tensor{shape: append([]int(nil), t.Size...), data: make([]float32, total)}
	idx := make([]int, len(t.Size))
	for i := 0; i < total; i++ {
		off := t.StorageOffset
		for d := range idx {
			off += idx[d] * t.Stride[d]
		}
		if off < 0 || off >= n {
			return tensor{}, fmt.Errorf("element %d lies outside its storage", i)
		}
		if src != nil {
			out.data[i] = src[off]
		} else {
			out.data[i] = float32(src64[off])
		}
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < t.Size[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, nil
}
