package ortlib

import (
	"fmt"
	"slices"
)

// Providers maps edgefit's short execution-provider names to ONNX
// Runtime's.
var Providers = map[string]string{
	"cpu":      "CPUExecutionProvider",
	"cuda":     "CUDAExecutionProvider",
	"tensorrt": "TensorrtExecutionProvider",
	"xnnpack":  "XnnpackExecutionProvider",
	"nnapi":    "NnapiExecutionProvider",
}

// ProviderKey returns edgefit's short name for an ONNX Runtime provider
// name ("XnnpackExecutionProvider" → "xnnpack"), or name itself when it is
// not one of [Providers].
func ProviderKey(name string) string {
	for k, v := range Providers {
		if v == name {
			return k
		}
	}
	return name
}

// ProviderNames returns the short names export/ort's Options.ExecutionProvider
// accepts, sorted.
func ProviderNames() []string {
	names := make([]string, 0, len(Providers))
	for k := range Providers {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// WhereProvider says which ONNX Runtime library has the execution
// provider key (edgefit's name), for errors about a library that lacks it.
func WhereProvider(key string) string {
	switch key {
	case "xnnpack", "nnapi":
		return fmt.Sprintf("measure on an Android phone (adb://SERIAL): ONNX Runtime's Android library has %s (`make ort-android` fetches it; the Linux libraries of `make ort` do not)", Providers[key])
	case "cuda", "tensorrt":
		return fmt.Sprintf("use an ONNX Runtime built with %s, such as the Jetson build in docs/devices.md (the libraries of `make ort` are CPU-only)", Providers[key])
	}
	return "use a library built with " + Providers[key]
}
