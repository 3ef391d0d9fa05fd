package zoo

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/supernet"
)

// accPredictorInputs is the width of the tutorial predictor's input: ks
// one-hot (60), expand one-hot (60) and resolution one-hot (8).
const accPredictorInputs = 128

// verifyAccPredictor checks that path is a PyTorch state_dict of a
// sequential MLP ("0.weight", "0.bias", "2.weight", ...) taking 128 inputs
// to one output, every layer with a bias and each layer's input matching the
// previous layer's output.
func verifyAccPredictor(path string) error {
	sd, err := supernet.LoadStateDict(path)
	if err != nil {
		return err
	}
	shapes := make(map[string][]int, len(sd))
	for k, t := range sd {
		shapes[k] = t.Shape
	}
	return checkMLPShapes(shapes, accPredictorInputs)
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
