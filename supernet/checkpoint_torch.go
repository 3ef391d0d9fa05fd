package supernet

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// This file reads torch.save files. gopickle runs the pickle machine; the
// torch-specific parts (storages, tensor views, parameters) are done here
// so that every size is checked against the bytes actually present before
// anything is allocated, and so that storages nobody needs are never
// decoded.

// unpickleTorchZip reads torch.save's zip format (torch >= 1.6): an
// archive "<name>/data.pkl" whose persistent ids name storages stored as
// "<name>/data/<key>". It returns the unpickled object; storages load on
// first use.
func unpickleTorchZip(data []byte) (any, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("read zip directory: %v: %w", err, ErrTruncated)
	}
	return unpickleZipArchive(zr, int64(len(data)), func(f *zip.File) ([]byte, error) { return zipRecord(data, f) })
}

// unpickleZipArchive unpickles a torch.save zip archive of size bytes,
// whose records record returns; storages are read only when a tensor's
// data is first needed.
func unpickleZipArchive(zr *zip.Reader, size int64, record func(*zip.File) ([]byte, error)) (any, error) {
	records := make(map[string]*zip.File, len(zr.File))
	var pkl *zip.File
	for _, f := range zr.File {
		records[f.Name] = f
		if path.Base(f.Name) == "data.pkl" && (pkl == nil || len(f.Name) < len(pkl.Name)) {
			pkl = f
		}
		if path.Base(f.Name) == "constants.pkl" {
			return nil, errors.New("this is a TorchScript archive: save the model's state_dict() with torch.save instead")
		}
	}
	if pkl == nil {
		return nil, fmt.Errorf("zip archive has no data.pkl: %w", ErrNotCheckpoint)
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	pklBytes, err := record(pkl)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", pkl.Name, err)
	}
	storages := map[string]*storage{}
	persistent := func(id any) (any, error) {
		t, ok := id.(*types.Tuple)
		if !ok || t.Len() < 5 {
			return nil, fmt.Errorf("persistent id %v is not a storage tuple", id)
		}
		if s, _ := t.Get(0).(string); s != "storage" {
			return nil, fmt.Errorf("persistent id of kind %v, want storage", t.Get(0))
		}
		cls, ok1 := t.Get(1).(*storageClass)
		key, ok2 := t.Get(2).(string)
		numel, ok3 := t.Get(4).(int)
		if !ok1 || !ok2 || !ok3 || numel < 0 || int64(numel) > size {
			return nil, fmt.Errorf("malformed storage id %v", id)
		}
		if st, ok := storages[key]; ok {
			return st, nil
		}
		rec, ok := records[prefix+"data/"+key]
		if !ok {
			return nil, fmt.Errorf("storage %s has no record %sdata/%s: %w", key, prefix, key, ErrTruncated)
		}
		if rec.UncompressedSize64 < uint64(numel)*uint64(cls.dt.size()) {
			return nil, fmt.Errorf("storage %s holds %d bytes, want %d×%d: %w", key, rec.UncompressedSize64, numel, cls.dt.size(), ErrTruncated)
		}
		st := &storage{dt: cls.dt, numel: numel, load: func() ([]byte, error) { return record(rec) }}
		storages[key] = st
		return st, nil
	}
	return unpickle(pklBytes, persistent)
}

// zipRecord returns a record's bytes. Stored records (torch writes no
// others) are sliced from data after a CRC check; compressed ones are
// inflated no further than their declared size.
func zipRecord(data []byte, f *zip.File) ([]byte, error) {
	if f.Method == zip.Store {
		off, err := f.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("%v: %w", err, ErrTruncated)
		}
		end := off + int64(f.UncompressedSize64)
		if f.UncompressedSize64 > uint64(len(data)) || off < 0 || end > int64(len(data)) {
			return nil, fmt.Errorf("record %s runs past the end of the file: %w", f.Name, ErrTruncated)
		}
		b := data[off:end]
		if f.CRC32 != 0 && crc32.ChecksumIEEE(b) != f.CRC32 {
			return nil, fmt.Errorf("record %s fails its CRC check: %w", f.Name, ErrTruncated)
		}
		return b, nil
	}
	return readRecord(f)
}

// readRecord reads a record through the zip reader, which checks its CRC.
func readRecord(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("open record %s: %w", f.Name, err)
	}
	defer rc.Close()
	// ReadAll grows with the bytes actually inflated, so a lying header
	// cannot make us allocate more than the stream really holds.
	b, err := io.ReadAll(io.LimitReader(rc, int64(min(f.UncompressedSize64, 1<<40))+1))
	if err != nil {
		return nil, fmt.Errorf("inflate record %s: %v: %w", f.Name, err, ErrTruncated)
	}
	if uint64(len(b)) != f.UncompressedSize64 {
		return nil, fmt.Errorf("record %s inflates to %d bytes, header says %d: %w", f.Name, len(b), f.UncompressedSize64, ErrTruncated)
	}
	return b, nil
}

// unpickleTorchLegacy reads torch.save's format before 1.6: pickles of the
// magic number, the protocol version and system info, then the object
// pickle, then the list of storage keys, then each storage as an int64
// element count followed by its raw little-endian elements. It returns the
// unpickled object, its storages filled.
func unpickleTorchLegacy(data []byte) (any, error) {
	pos := 0
	next := func() ([]byte, error) {
		end, err := scanPickle(data[pos:])
		if err != nil {
			return nil, err
		}
		p := data[pos : pos+end]
		pos += end
		return p, nil
	}
	header := make([]any, 3)
	for i := range header {
		p, err := next()
		if err != nil {
			return nil, fmt.Errorf("legacy header: %w", err)
		}
		if header[i], err = unpickle(p, nil); err != nil {
			return nil, fmt.Errorf("legacy header: %w", err)
		}
	}
	if v, ok := header[1].(int); !ok || v != 1001 {
		return nil, fmt.Errorf("legacy torch protocol %v, want 1001: %w", header[1], ErrNotCheckpoint)
	}
	storages := map[string]*storage{}
	persistent := func(id any) (any, error) {
		t, ok := id.(*types.Tuple)
		if !ok || t.Len() < 6 {
			return nil, fmt.Errorf("persistent id %v is not a storage tuple", id)
		}
		if s, _ := t.Get(0).(string); s != "storage" {
			return nil, fmt.Errorf("persistent id of kind %v is not supported: save the state_dict, not the module", t.Get(0))
		}
		cls, ok1 := t.Get(1).(*storageClass)
		key, ok2 := t.Get(2).(string)
		numel, ok3 := t.Get(4).(int)
		if !ok1 || !ok2 || !ok3 || numel < 0 || numel > len(data) {
			return nil, fmt.Errorf("malformed storage id %v", id)
		}
		if t.Get(5) != nil {
			return nil, errors.New("storage views (torch < 0.4) are not supported: re-save the state_dict with a newer torch")
		}
		st, ok := storages[key]
		if !ok {
			st = &storage{dt: cls.dt, numel: numel}
			storages[key] = st
		}
		return st, nil
	}
	p, err := next()
	if err != nil {
		return nil, err
	}
	obj, err := unpickle(p, persistent)
	if err != nil {
		return nil, err
	}
	if p, err = next(); err != nil {
		return nil, fmt.Errorf("storage keys: %w", err)
	}
	keysObj, err := unpickle(p, nil)
	if err != nil {
		return nil, fmt.Errorf("storage keys: %w", err)
	}
	keys, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("storage key list is a %T", keysObj)
	}
	for _, k := range *keys {
		key, _ := k.(string)
		st, ok := storages[key]
		if !ok {
			return nil, fmt.Errorf("storage key %v is not used by any tensor", k)
		}
		if len(data)-pos < 8 {
			return nil, fmt.Errorf("storage %s: %w", key, ErrTruncated)
		}
		n := binary.LittleEndian.Uint64(data[pos:])
		pos += 8
		if n != uint64(st.numel) {
			return nil, fmt.Errorf("storage %s has %d elements, its tensor says %d: %w", key, n, st.numel, ErrTruncated)
		}
		size := st.numel * st.dt.size()
		if len(data)-pos < size {
			return nil, fmt.Errorf("storage %s: %d bytes left, want %d: %w", key, len(data)-pos, size, ErrTruncated)
		}
		st.bytes = data[pos : pos+size : pos+size]
		pos += size
	}
	for key, st := range storages {
		if st.bytes == nil && st.numel > 0 {
			return nil, fmt.Errorf("storage %s is missing from the file: %w", key, ErrTruncated)
		}
	}
	return obj, nil
}

// unpickle runs one pickle, whose opcodes are first checked by scanPickle
// so that no length field can make gopickle allocate more than the input
// holds. gopickle may panic on malformed input; that becomes an error.
func unpickle(p []byte, persistent func(any) (any, error)) (obj any, err error) {
	if _, err := scanPickle(p); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			obj, err = nil, fmt.Errorf("malformed pickle (%v): %w", r, ErrNotCheckpoint)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(p))
	u.FindClass = findTorchClass
	u.PersistentLoad = persistent
	obj, err = u.Load()
	if err != nil {
		return nil, fmt.Errorf("unpickle: %v: %w", err, ErrNotCheckpoint)
	}
	return obj, nil
}

// storageClass stands for torch.FloatStorage and friends.
type storageClass struct{ dt dtype }

// findTorchClass resolves the globals a state_dict pickle names. Anything
// unknown (optimizer classes, numpy scalars in training checkpoints)
// becomes an opaque object: it is never part of the state_dict.
func findTorchClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2":
		return callable(rebuildTensor), nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		// nn.Parameter(data, requires_grad, hooks[, state]): keep the data.
		return callable(func(args ...any) (any, error) {
			if len(args) < 1 {
				return nil, errors.New("_rebuild_parameter without data")
			}
			return args[0], nil
		}), nil
	case "torch.FloatStorage":
		return &storageClass{dtFloat32}, nil
	case "torch.HalfStorage":
		return &storageClass{dtFloat16}, nil
	case "torch.BFloat16Storage":
		return &storageClass{dtBFloat16}, nil
	case "torch.DoubleStorage":
		return &storageClass{dtFloat64}, nil
	case "torch.LongStorage":
		return &storageClass{dtInt64}, nil
	case "torch.IntStorage":
		return &storageClass{dtInt32}, nil
	case "torch.ShortStorage":
		return &storageClass{dtInt16}, nil
	case "torch.CharStorage":
		return &storageClass{dtInt8}, nil
	case "torch.ByteStorage":
		return &storageClass{dtUint8}, nil
	case "torch.BoolStorage":
		return &storageClass{dtBool}, nil
	case "collections.OrderedDict":
		return &types.OrderedDictClass{}, nil
	}
	return &opaqueClass{module + "." + name}, nil
}

type callable func(args ...any) (any, error)

func (f callable) Call(args ...any) (any, error) { return f(args...) }

// opaqueClass is any Python global we do not model.
type opaqueClass struct{ name string }

type opaqueObject struct{ class string }

func (c *opaqueClass) Call(...any) (any, error)  { return &opaqueObject{c.name}, nil }
func (c *opaqueClass) PyNew(...any) (any, error) { return &opaqueObject{c.name}, nil }
func (o *opaqueObject) PySetState(any) error     { return nil }
func (o *opaqueObject) PyDictSet(any, any) error { return nil }

// rebuildTensor is torch._utils._rebuild_tensor_v2(storage, offset, size,
// stride, requires_grad, backward_hooks[, metadata]).
func rebuildTensor(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 with %d arguments", len(args))
	}
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2 on a %T, not a storage", args[0])
	}
	off, ok := args[1].(int)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2 offset is a %T", args[1])
	}
	shape, err := intTuple(args[2])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor_v2 size: %w", err)
	}
	stride, err := intTuple(args[3])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor_v2 stride: %w", err)
	}
	if len(stride) != len(shape) {
		return nil, fmt.Errorf("_rebuild_tensor_v2 with %d sizes and %d strides", len(shape), len(stride))
	}
	return &rawTensor{st: st, offset: off, shape: shape, stride: stride}, nil
}

func intTuple(v any) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%T is not a tuple", v)
	}
	out := make([]int, t.Len())
	for i := range out {
		if out[i], ok = t.Get(i).(int); !ok {
			return nil, fmt.Errorf("tuple element %v is not an int", t.Get(i))
		}
	}
	return out, nil
}

// stateDict finds the tensors in an unpickled checkpoint: either the
// object is the state_dict, or it is a dict holding one under
// "state_dict". An entry that is not a tensor named by a string is refused,
// unless it is one a supernet may carry (see ignoredKey).
func stateDict(obj any) (map[string]*rawTensor, error) { return tensorsOf(obj, refuseEntry) }

// looseStateDict is stateDict for files that are not supernets: entries
// that are not tensors named by strings are left out instead of refused.
func looseStateDict(obj any) (map[string]*rawTensor, error) {
	return tensorsOf(obj, func(types.DictEntry) error { return nil })
}

// tensorsOf returns the tensors of the state_dict obj is or holds; other
// decides about every other entry: an error refuses the file, nil leaves
// the entry out.
func tensorsOf(obj any, other func(types.DictEntry) error) (map[string]*rawTensor, error) {
	entries, err := stateDictEntries(obj)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*rawTensor, len(entries))
	for _, e := range entries {
		k, ok := e.Key.(string)
		if t, isTensor := e.Value.(*rawTensor); ok && isTensor {
			out[k] = t
		} else if err := other(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func refuseEntry(e types.DictEntry) error {
	k, ok := e.Key.(string)
	switch {
	case !ok:
		return fmt.Errorf("state_dict key %v is not a string", e.Key)
	case ignoredKey(k):
		return nil
	}
	return &CheckpointError{Key: k, Err: fmt.Errorf("entry is a %T, not a tensor: is this a state_dict?", e.Value)}
}

// stateDictEntries returns the entries of the state_dict obj is, or that it
// holds under "state_dict".
func stateDictEntries(obj any) ([]types.DictEntry, error) {
	entries, ok := dictEntries(obj)
	if !ok {
		return nil, fmt.Errorf("the pickle holds a %T, not a dict of tensors: save model.state_dict()", obj)
	}
	for _, e := range entries {
		if k, _ := e.Key.(string); k == "state_dict" {
			if entries, ok = dictEntries(e.Value); !ok {
				return nil, fmt.Errorf(`"state_dict" holds a %T, not a dict of tensors`, e.Value)
			}
			break
		}
	}
	return entries, nil
}

// dictEntries returns the entries of a Python dict or OrderedDict.
func dictEntries(obj any) ([]types.DictEntry, bool) {
	switch d := obj.(type) {
	case *types.Dict:
		return *d, true
	case *types.OrderedDict:
		out := make([]types.DictEntry, 0, d.Len())
		for el := d.List.Front(); el != nil; el = el.Next() {
			if e, ok := el.Value.(*types.OrderedDictEntry); ok {
				out = append(out, types.DictEntry{Key: e.Key, Value: e.Value})
			}
		}
		return out, true
	}
	return nil, false
}
