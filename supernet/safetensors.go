package supernet

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
)

// The safetensors format (huggingface/safetensors): an unsigned 64-bit
// little-endian header length N, N bytes of JSON mapping each tensor name
// to {"dtype","shape","data_offsets":[begin,end]} (offsets relative to the
// end of the header, little-endian elements, row-major), an optional
// "__metadata__" map of strings, then the data.

// maxSafetensorsHeader bounds the JSON header, as the reference
// implementation does (100 MB).
const maxSafetensorsHeader = 100 << 20

// isSafetensors reports whether data looks like a safetensors file: a
// plausible header length followed by a JSON object.
func isSafetensors(data []byte) bool {
	if len(data) < 10 {
		return false
	}
	n := binary.LittleEndian.Uint64(data)
	return n >= 2 && n <= uint64(len(data)-8) && data[8] == '{'
}

var safetensorsDtypes = map[string]dtype{
	"F32": dtFloat32, "F16": dtFloat16, "BF16": dtBFloat16, "F64": dtFloat64,
	"I64": dtInt64, "I32": dtInt32, "I16": dtInt16, "I8": dtInt8, "U8": dtUint8, "BOOL": dtBool,
}

type safetensorsEntry struct {
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// readSafetensors parses a safetensors file, checking that every tensor's
// byte range lies inside the data section, matches its shape and dtype,
// and overlaps no other tensor.
func readSafetensors(data []byte) (map[string]*rawTensor, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors file of %d bytes has no header: %w", len(data), ErrTruncated)
	}
	n := binary.LittleEndian.Uint64(data)
	if n > maxSafetensorsHeader || n > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors header claims %d bytes, the file has %d after the length: %w", n, len(data)-8, ErrTruncated)
	}
	header := data[8 : 8+n]
	body := data[8+n:]
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(header, &fields); err != nil {
		return nil, fmt.Errorf("safetensors header is not a JSON object: %v: %w", err, ErrNotCheckpoint)
	}
	type span struct {
		begin, end int64
		name       string
	}
	var spans []span
	out := make(map[string]*rawTensor, len(fields))
	for name, raw := range fields {
		if name == "__metadata__" {
			var md map[string]string
			if err := json.Unmarshal(raw, &md); err != nil {
				return nil, fmt.Errorf("safetensors __metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var e safetensorsEntry
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, &CheckpointError{Key: name, Err: fmt.Errorf("bad safetensors header entry: %v", err)}
		}
		dt, ok := safetensorsDtypes[e.Dtype]
		if !ok {
			return nil, &CheckpointError{Key: name, Err: fmt.Errorf("safetensors dtype %q is not supported: store F32, F16 or BF16", e.Dtype)}
		}
		numel := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && numel > math.MaxInt64/int64(d)/8) {
				return nil, &CheckpointError{Key: name, Got: e.Shape, Err: errors.New("impossible shape")}
			}
			numel *= int64(d)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || end < b || end > int64(len(body)) {
			return nil, &CheckpointError{Key: name, Err: fmt.Errorf("data_offsets [%d,%d] outside the %d data bytes: %w", b, end, len(body), ErrTruncated)}
		}
		if end-b != numel*int64(dt.size()) {
			return nil, &CheckpointError{Key: name, Got: e.Shape, Err: fmt.Errorf("data_offsets span %d bytes, shape and %s need %d", end-b, e.Dtype, numel*int64(dt.size()))}
		}
		spans = append(spans, span{b, end, name})
		out[name] = &rawTensor{st: &storage{dt: dt, numel: int(numel), bytes: body[b:end:end]}, shape: slices.Clip(e.Shape)}
		if e.Shape == nil {
			out[name].shape = []int{}
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	for i := 1; i < len(spans); i++ {
		if spans[i].begin < spans[i-1].end {
			return nil, &CheckpointError{Key: spans[i].name, Err: fmt.Errorf("data overlaps tensor %s", spans[i-1].name)}
		}
	}
	return out, nil
}

// WriteSafetensors writes tensors as float32 ("F32") safetensors, names in
// sorted order, with optional string metadata. Files it writes load with
// [LoadCheckpoint] (when they hold a supernet), with
// safetensors.torch.load_file, and with any other safetensors reader.
func WriteSafetensors(w io.Writer, tensors map[string]Tensor, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for k := range tensors {
		names = append(names, k)
	}
	slices.Sort(names)
	header := make(map[string]any, len(names)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, k := range names {
		t := tensors[k]
		if t.Len() != len(t.Data) {
			return fmt.Errorf("write safetensors: tensor %s has shape %s but %d values", k, shapeString(t.Shape), len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		n := int64(4 * len(t.Data))
		header[k] = safetensorsEntry{Dtype: "F32", Shape: shape, DataOffsets: [2]int64{off, off + n}}
		off += n
	}
	hj, err := json.Marshal(header) // map keys come out sorted
	if err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	// Pad the header with spaces so the data starts 8-byte aligned, as the
	// reference writer does.
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	bw.Write(lenBuf[:])
	bw.Write(hj)
	var buf [4]byte
	for _, k := range names {
		for _, v := range tensors[k].Data {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			bw.Write(buf[:])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	return nil
}
