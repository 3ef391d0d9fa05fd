package supernet

import (
	"errors"
	"fmt"
	"os"
)

// LoadStateDict reads the floating-point tensors of any PyTorch state_dict
// saved with torch.save (zip or legacy format), bare or held under
// "state_dict", or of a safetensors file, by the names they were saved
// under, as float32. Entries that are not tensors, and integer tensors
// (BatchNorm's num_batches_tracked), are left out. It is the reader behind
// [LoadCheckpoint], with the same checks against truncated or hostile
// files, for state_dicts that are not supernets, such as OFA's accuracy
// predictors; unlike LoadCheckpoint it knows nothing of their layout.
func LoadStateDict(path string) (map[string]Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sd, err := ReadStateDict(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return sd, nil
}

// ReadStateDict is [LoadStateDict] on bytes in memory. The tensors do not
// alias data.
func ReadStateDict(data []byte) (map[string]Tensor, error) {
	format, raw, err := readTensors(data, looseStateDict)
	if format == "" {
		return nil, errors.New("not a state_dict saved by torch.save (zip or legacy format) nor a safetensors file")
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]Tensor, len(raw))
	for k, t := range raw {
		if !t.st.dt.isFloat() {
			continue
		}
		v, err := t.float32s()
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %w", k, err)
		}
		out[k] = Tensor{Shape: append([]int(nil), t.shape...), Data: v}
	}
	if len(out) == 0 {
		return nil, errors.New("no floating-point tensors in the state_dict")
	}
	return out, nil
}
