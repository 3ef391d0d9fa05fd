package ort

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	onnxruntime "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/edgefit/edgefit/internal/ortlib"
)

// ProviderCheck says whether an execution provider that the library was
// built with can actually run here: a library lists providers compiled in
// (the Linux build of `make ort` lists TensorRT, CUDA and WebGPU) whether
// or not their libraries, drivers and devices exist on this machine.
type ProviderCheck struct {
	Name   string `json:"name"` // ONNX Runtime's name, such as CUDAExecutionProvider
	Usable bool   `json:"usable"`
	// Reason says why the provider cannot run (ONNX Runtime's error), or,
	// for a usable one, anything worth knowing; "" otherwise.
	Reason string `json:"reason,omitempty"`
}

// genericProviders are the providers ONNX Runtime's generic
// SessionOptionsAppendExecutionProvider takes, by the name it takes them
// under.
var genericProviders = map[string]string{
	"WebGpuExecutionProvider":   "WebGPU",
	"WebNNExecutionProvider":    "WebNN",
	"QNNExecutionProvider":      "QNN",
	"SNPEExecutionProvider":     "SNPE",
	"CoreMLExecutionProvider":   "CoreML",
	"AzureExecutionProvider":    "AZURE",
	"VitisAIExecutionProvider":  "VitisAI",
	"OpenVINOExecutionProvider": "OpenVINO",
}

// CheckProviders tries every provider of [AvailableProviders]: it creates a
// session with it on a one-node model and runs it once. (Init must have
// been called.)
func CheckProviders() ([]ProviderCheck, error) {
	have, err := AvailableProviders()
	if err != nil {
		return nil, err
	}
	out := make([]ProviderCheck, 0, len(have))
	for _, name := range have {
		out = append(out, checkProvider(name))
	}
	return out, nil
}

func checkProvider(name string) ProviderCheck {
	c := ProviderCheck{Name: name}
	key := ortlib.ProviderKey(name)
	if _, ok := ortlib.Providers[key]; ok {
		s, err := Open(probeModel(), Options{ExecutionProvider: key})
		if err != nil {
			c.Reason = providerFailure(err)
			return c
		}
		defer s.Close()
		if err := s.RunInPlace(); err != nil {
			c.Reason = "a session was created but failed to run: " + firstLine(err.Error())
			return c
		}
		c.Usable = true
		if s.Provider() != name {
			c.Reason = "it took none of the probe model's nodes (they ran on " + s.Provider() + ")"
		}
		return c
	}
	generic, ok := genericProviders[name]
	if !ok {
		c.Reason = "edgefit has no way to enable this provider, so it was not tried"
		return c
	}
	if err := tryGeneric(generic); err != nil {
		c.Reason = firstLine(err.Error())
		return c
	}
	c.Usable = true
	return c
}

// tryGeneric creates and runs a session of the probe model with a provider
// enabled by its generic name.
func tryGeneric(name string) error {
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return err
	}
	defer so.Destroy()
	if err := so.AppendExecutionProvider(name, map[string]string{}); err != nil {
		return err
	}
	in, err := onnxruntime.NewEmptyTensor[float32](onnxruntime.NewShape(1, 4))
	if err != nil {
		return err
	}
	defer in.Destroy()
	out, err := onnxruntime.NewEmptyTensor[float32](onnxruntime.NewShape(1, 4))
	if err != nil {
		return err
	}
	defer out.Destroy()
	s, err := onnxruntime.NewAdvancedSessionWithONNXData(probeModel(), []string{"x"}, []string{"y"},
		[]onnxruntime.Value{in}, []onnxruntime.Value{out}, so)
	if err != nil {
		return err
	}
	defer s.Destroy()
	return s.Run()
}

// providerFailure is why enabling a provider failed, in one line, with
// the provider libraries missing next to the library for those that need
// them.
func providerFailure(err error) string {
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Err == nil {
		return firstLine(err.Error())
	}
	why := firstLine(pe.Err.Error())
	if pe.Provider == "cuda" || pe.Provider == "tensorrt" {
		dir := filepath.Dir(LibraryPath())
		var missing []string
		for _, n := range []string{"libonnxruntime_providers_shared.so", "libonnxruntime_providers_" + pe.Provider + ".so"} {
			if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			why += " (" + strings.Join(missing, " and ") + " not in " + dir + ")"
		}
	}
	return why
}

// firstLine shortens an ONNX Runtime message to its first line, without
// the source location and failed condition it may start with.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if _, after, ok := strings.Cut(s, " was false. "); ok {
		s = after
	}
	return s
}

// probeModel is y = Relu(x) for a float tensor x of shape [1, 4]: the
// least a provider must run.
func probeModel() []byte {
	relu := msg(fString(1, "x"), fString(2, "y"), fString(3, "relu"), fString(4, "Relu"))
	graph := msg(fBytes(1, relu), fString(2, "edgefit-provider-probe"),
		fBytes(11, msg(fString(1, "x"), fBytes(2, tensorType(1, 4)))),
		fBytes(12, msg(fString(1, "y"), fBytes(2, tensorType(1, 4)))))
	return msg(fInt(1, 8), fString(2, "edgefit"), fBytes(7, graph), fBytes(8, fInt(2, 17)))
}

// ONNX models built field by field in protobuf wire format, so that this
// package stays free of edgefit's own ONNX writer (package export).

func msg(fields ...[]byte) []byte {
	var b []byte
	for _, f := range fields {
		b = append(b, f...)
	}
	return b
}

func fBytes(num protowire.Number, v []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func fString(num protowire.Number, s string) []byte { return fBytes(num, []byte(s)) }

func fInt(num protowire.Number, v int64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

// tensorType returns an ONNX TypeProto for a float tensor; a negative
// dimension becomes the symbolic dimension "N".
func tensorType(dims ...int64) []byte {
	var shape []byte
	for _, d := range dims {
		if d < 0 {
			shape = append(shape, fBytes(1, fString(2, "N"))...)
		} else {
			shape = append(shape, fBytes(1, fInt(1, d))...)
		}
	}
	return fBytes(1, msg(fInt(1, 1), fBytes(2, shape))) // TypeProto.tensor_type{elem_type FLOAT, shape}
}
