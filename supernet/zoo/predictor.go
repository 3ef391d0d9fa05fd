package zoo

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// accPredictorInputs is the width of the tutorial predictor's input: ks
// one-hot (60), expand one-hot (60) and resolution one-hot (8).
const accPredictorInputs = 128

// verifyAccPredictor checks that path is a PyTorch state_dict of a
// sequential MLP ("0.weight", "0.bias", "2.weight", ...) taking 128 inputs
// to one output, every layer with a bias and each layer's input matching the
// previous layer's output. It reads shapes only.
func verifyAccPredictor(path string) (err error) {
	defer func() {
		// gopickle may panic on malformed input; a bad download must be an
		// error, not a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed PyTorch file (%v)", r)
		}
	}()
	obj, err := pytorch.LoadWithUnpickler(path, func(r io.Reader) pickle.Unpickler {
		u := pickle.NewUnpickler(r)
		u.FindClass = func(module, name string) (any, error) {
			if module == "torch._utils" && name == "_rebuild_parameter" {
				return rebuildParameter{}, nil
			}
			return types.NewGenericClass(module, name), nil
		}
		return u
	})
	if err != nil {
		return fmt.Errorf("not a PyTorch file: %w", err)
	}
	shapes, err := tensorShapes(obj)
	if err != nil {
		return err
	}
	return checkMLPShapes(shapes, accPredictorInputs)
}

// tensorShapes returns the shape of every tensor in a state_dict (or in a
// dict holding one under "state_dict").
func tensorShapes(obj any) (map[string][]int, error) {
	entries, ok := dictEntries(obj)
	if !ok {
		return nil, fmt.Errorf("the file holds a %T, not a state_dict", obj)
	}
	for _, e := range entries {
		if k, _ := e[0].(string); k == "state_dict" {
			if inner, ok := dictEntries(e[1]); ok {
				entries = inner
			}
		}
	}
	shapes := map[string][]int{}
	for _, e := range entries {
		k, ok := e[0].(string)
		if !ok {
			continue
		}
		if t, ok := e[1].(*pytorch.Tensor); ok {
			shapes[k] = t.Size
		}
	}
	if len(shapes) == 0 {
		return nil, fmt.Errorf("the file holds no tensors")
	}
	return shapes, nil
}

// checkMLPShapes checks the keys of an nn.Sequential of Linear layers
// separated by activations: "I.weight" [out,in] and "I.bias" [out] for
// increasing I, first in = inputs, last out = 1.
func checkMLPShapes(shapes map[string][]int, inputs int) error {
	var idx []int
	for k := range shapes {
		pre, suf, ok := strings.Cut(k, ".")
		i, err := strconv.Atoi(pre)
		if !ok || err != nil || (suf != "weight" && suf != "bias") {
			return fmt.Errorf("unexpected tensor %q: want an nn.Sequential MLP state_dict (0.weight, 0.bias, 2.weight, ...)", k)
		}
		if suf == "weight" {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return fmt.Errorf("no layer weights: want an nn.Sequential MLP state_dict (0.weight, 0.bias, ...)")
	}
	slices.Sort(idx)
	in := inputs
	for _, i := range idx {
		w, b := shapes[strconv.Itoa(i)+".weight"], shapes[strconv.Itoa(i)+".bias"]
		if len(w) != 2 || w[1] != in {
			return fmt.Errorf("layer %d weight has shape %v, want [N %d]", i, w, in)
		}
		if b == nil {
			return fmt.Errorf("layer %d has no bias", i)
		}
		if len(b) != 1 || b[0] != w[0] {
			return fmt.Errorf("layer %d bias has shape %v, want [%d]", i, b, w[0])
		}
		in = w[0]
	}
	if in != 1 {
		return fmt.Errorf("the last layer has %d outputs, want 1 (the predicted accuracy)", in)
	}
	// Biases without a weight would be left over from something else.
	if n := len(shapes); n != 2*len(idx) {
		return fmt.Errorf("%d tensors for %d layers: want exactly a weight and a bias per layer", n, len(idx))
	}
	return nil
}

type rebuildParameter struct{}

func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("_rebuild_parameter without arguments")
	}
	return args[0], nil
}

func dictEntries(obj any) ([][2]any, bool) {
	var out [][2]any
	switch d := obj.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			en, ok := e.Value.(*types.OrderedDictEntry)
			if !ok {
				return nil, false
			}
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
