package supernet

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
)

// CheckpointSpace returns the space of the supernet checkpoint at path:
// its width from the first conv's shape and its class count from the
// classifier's, as [LoadCheckpoint] finds them. It reads the file's tensor
// index (the pickle of a .pth, the header of a .safetensors) and decodes no
// weights, so a command can check that a checkpoint fits a predictor or a
// flag at a small fraction of the cost of loading it. It does not check
// the other tensors: a file it accepts may still fail [LoadCheckpoint].
// Errors are [*CheckpointError]s, as LoadCheckpoint's are.
func CheckpointSpace(path string) (*Space, error) {
	raw, err := readIndex(path)
	if err != nil {
		return nil, err
	}
	canon, _, cerr := canonicalTensors(raw)
	if cerr == nil {
		var s *Space
		if s, cerr = spaceOfTensors(canon); cerr == nil {
			return s, nil
		}
	}
	cerr.Path = path
	return nil, cerr
}

// readIndex reads the tensor index of the checkpoint at path. From a zip
// archive (what torch.save writes since 1.6) it reads the directory and
// the pickle only; other formats are read whole and then indexed, which
// is cheap for safetensors (a header) and the legacy format (slices).
func readIndex(path string) (map[string]*rawTensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	head := make([]byte, 4)
	if n, _ := f.ReadAt(head, 0); n == len(head) && (bytes.Equal(head, []byte("PK\x03\x04")) || bytes.Equal(head, []byte("PK\x05\x06"))) {
		zr, err := zip.NewReader(f, fi.Size())
		if err != nil {
			return nil, fileError(path, fmt.Errorf("read zip directory: %v: %w", err, ErrTruncated))
		}
		obj, err := unpickleZipArchive(zr, fi.Size(), readRecord)
		if err != nil {
			return nil, fileError(path, err)
		}
		raw, err := stateDict(obj)
		if err != nil {
			return nil, fileError(path, err)
		}
		return raw, nil
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	_, raw, err := readRaw(path, data)
	return raw, err
}

// canonicalTensors renames a state_dict's tensors by [CanonicalKey],
// dropping the ignored ones, and returns the original keys sorted. A
// tensor stored under two spellings is an error.
func canonicalTensors(raw map[string]*rawTensor) (map[string]*rawTensor, []string, *CheckpointError) {
	canon := make(map[string]*rawTensor, len(raw))
	from := make(map[string]string, len(raw))
	// Visit keys in a fixed order so that errors do not depend on map order.
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if ignoredKey(k) {
			continue
		}
		c := CanonicalKey(k)
		if prev, dup := from[c]; dup {
			return nil, nil, &CheckpointError{Key: c, Err: fmt.Errorf("stored twice, as %q and %q", prev, k)}
		}
		from[c] = k
		canon[c] = raw[k]
	}
	return canon, keys, nil
}

// spaceOfTensors reads the space from the tensors themselves, never from a
// flag: the width from first_conv's output channels, the class count from
// the classifier's rows.
func spaceOfTensors(canon map[string]*rawTensor) (*Space, *CheckpointError) {
	fc, ok := canon["first_conv.conv.weight"]
	if !ok {
		return nil, &CheckpointError{Key: "first_conv.conv.weight", Err: ErrMissingTensor}
	}
	var s *Space
	if len(fc.shape) == 4 {
		s = spaceOfWidth(fc.shape[0])
	}
	if s == nil {
		return nil, &CheckpointError{Key: "first_conv.conv.weight", Got: fc.shape, Want: []int{16, 3, 3, 3}, Err: ErrWidth}
	}
	cl, ok := canon["classifier.linear.weight"]
	if !ok {
		return nil, &CheckpointError{Key: "classifier.linear.weight", Err: ErrMissingTensor}
	}
	if len(cl.shape) != 2 || cl.shape[0] < 1 || cl.shape[0] > 1<<20 {
		return nil, &CheckpointError{Key: "classifier.linear.weight", Got: cl.shape, Want: []int{NumClasses, s.FeatureMix}, Err: ErrShape}
	}
	s.Classes = cl.shape[0]
	return s, nil
}

// spaceOfWidth returns a fresh copy of the space whose first conv has
// firstConv output channels (16 for w1.0, 24 for w1.2), or nil.
func spaceOfWidth(firstConv int) *Space {
	var s *Space
	switch firstConv {
	case 16:
		s, _ = NewSpace(1.0)
	case 24:
		s, _ = NewSpace(1.2)
	}
	return s
}
