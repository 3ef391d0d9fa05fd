package supernet

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"testing"
)

// This file writes the files torch.save would, without torch: a pickle
// emitter for state dicts plus the zip and legacy containers. It lets the
// tests cover what real checkpoints vary in (a "state_dict" wrapper or
// not, nn.Parameter entries, dtypes, strided views, legacy format) with
// the fixture's own tensors.

type torchEntry struct {
	name   string
	t      Tensor
	dt     dtype // storage element type; float32 by default
	param  bool  // save as nn.Parameter
	stride []int // nil: contiguous; else the data is stored with these strides
}

type torchFile struct {
	entries []torchEntry
	wrap    bool // {"state_dict": OrderedDict, "epoch": 3} instead of a bare OrderedDict
	legacy  bool // pre-1.6 format
}

type pickler struct{ bytes.Buffer }

func (p *pickler) op(b ...byte) { p.Write(b) }
func (p *pickler) str(s string) {
	p.op('X')
	binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
}
func (p *pickler) int(v int) {
	p.op('J')
	binary.Write(&p.Buffer, binary.LittleEndian, int32(v))
}
func (p *pickler) global(module, name string) { p.WriteString("c" + module + "\n" + name + "\n") }
func (p *pickler) tuple(vs []int) {
	p.op('(')
	for _, v := range vs {
		p.int(v)
	}
	p.op('t')
}
func (p *pickler) orderedDict() {
	p.global("collections", "OrderedDict")
	p.op(')', 'R')
}

var storageNames = map[dtype]string{dtFloat32: "FloatStorage", dtFloat16: "HalfStorage", dtBFloat16: "BFloat16Storage", dtFloat64: "DoubleStorage", dtInt64: "LongStorage"}

// encodeElems encodes values as dt, little-endian.
func encodeElems(vals []float32, dt dtype) []byte {
	out := make([]byte, len(vals)*dt.size())
	for i, v := range vals {
		switch dt {
		case dtFloat32:
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		case dtFloat64:
			binary.LittleEndian.PutUint64(out[8*i:], math.Float64bits(float64(v)))
		case dtFloat16:
			binary.LittleEndian.PutUint16(out[2*i:], floatToHalf(v))
		case dtBFloat16:
			binary.LittleEndian.PutUint16(out[2*i:], uint16(math.Float32bits(v)>>16)) // truncation
		case dtInt64:
			binary.LittleEndian.PutUint64(out[8*i:], uint64(int64(v)))
		}
	}
	return out
}

// floatToHalf rounds to the nearest binary16 (normal range only, enough
// for weights).
func floatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	if exp <= 0 {
		return sign
	}
	if exp >= 31 {
		return sign | 0x7c00
	}
	h := uint32(exp)<<10 | mant>>13
	if mant&0x1fff > 0x1000 || (mant&0x1fff == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

// storageData lays a tensor out in its storage: contiguous, or scattered
// by stride (padding unused slots with NaN so a wrong read shows).
func storageData(e torchEntry) []float32 {
	if e.stride == nil {
		return e.t.Data
	}
	n := 1
	for i, d := range e.t.Shape {
		n += (d - 1) * e.stride[i]
	}
	st := make([]float32, n)
	for i := range st {
		st[i] = float32(math.NaN())
	}
	idx := make([]int, len(e.t.Shape))
	for _, v := range e.t.Data {
		off := 0
		for i, x := range idx {
			off += x * e.stride[i]
		}
		st[off] = v
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < e.t.Shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return st
}

// bytes returns the file torch.save would write.
func (f torchFile) bytes(t testing.TB) []byte {
	t.Helper()
	var p pickler
	p.op(0x80, 2)
	if f.wrap {
		p.op('}', '(')
		p.str("epoch")
		p.int(3)
		p.str("state_dict")
	}
	p.orderedDict()
	p.op('(')
	var storages [][]byte
	for i, e := range f.entries {
		dt := e.dt
		p.str(e.name)
		if e.param {
			p.global("torch._utils", "_rebuild_parameter")
			p.op('(')
		}
		p.global("torch._utils", "_rebuild_tensor_v2")
		p.op('(')
		// persistent id
		vals := storageData(e)
		p.op('(')
		p.str("storage")
		p.global("torch", storageNames[dt])
		p.str(strconv.Itoa(i))
		p.str("cpu")
		p.int(len(vals))
		if f.legacy {
			p.op('N')
		}
		p.op('t', 'Q')
		p.int(0)
		p.tuple(e.t.Shape)
		stride := e.stride
		if stride == nil {
			stride = contiguousStrides(e.t.Shape)
		}
		p.tuple(stride)
		p.op(0x89)
		p.orderedDict()
		p.op('t', 'R')
		if e.param {
			p.op(0x88)
			p.orderedDict()
			p.op('t', 'R')
		}
		storages = append(storages, encodeElems(vals, dt))
	}
	p.op('u')
	if f.wrap {
		p.op('u')
	}
	p.op('.')

	if f.legacy {
		var out bytes.Buffer
		out.Write([]byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'})
		out.Write([]byte{0x80, 0x02, 'M', 0xe9, 0x03, '.'}) // 1001
		out.Write([]byte{0x80, 0x02, '}', '.'})             // sys info
		out.Write(p.Bytes())
		var keys pickler
		keys.op(0x80, 2, ']', '(')
		for i := range f.entries {
			keys.str(strconv.Itoa(i))
		}
		keys.op('e', '.')
		out.Write(keys.Bytes())
		for i, st := range storages {
			binary.Write(&out, binary.LittleEndian, uint64(len(storageData(f.entries[i]))))
			out.Write(st)
		}
		return out.Bytes()
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	put := func(name string, b []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	put("archive/data.pkl", p.Bytes())
	for i, st := range storages {
		put("archive/data/"+strconv.Itoa(i), st)
	}
	put("archive/version", []byte("3\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// stEntry is one tensor of a hand-made safetensors file.
type stEntry struct {
	name  string
	dtype string
	shape []int
	data  []byte
}

// safetensorsBytes writes entries in order; header entries may be edited
// by fix before encoding, to make broken files.
func safetensorsBytes(t testing.TB, entries []stEntry, fix func(h map[string]any)) []byte {
	t.Helper()
	h := map[string]any{}
	var body []byte
	for _, e := range entries {
		shape := e.shape
		if shape == nil {
			shape = []int{}
		}
		h[e.name] = map[string]any{"dtype": e.dtype, "shape": shape, "data_offsets": []int{len(body), len(body) + len(e.data)}}
		body = append(body, e.data...)
	}
	if fix != nil {
		fix(h)
	}
	hj, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hj)))
	out = append(out, hj...)
	return append(out, body...)
}

// sortedTensors returns a checkpoint's tensors in sorted name order.
func sortedTensors(m map[string]Tensor) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
