// Package agent installs edgefit-agent on a device and drives it: it
// pushes the agent binary and the ONNX Runtime library built for the
// device's OS and architecture, keeps them cached there by content hash,
// asks the agent what it loaded, and runs manifests of models, streaming
// each model's [wire.Result] back as the device finishes it.
//
// # Cache on the device
//
// Each file lives in a directory named after its SHA-256, under
//
//	${XDG_CACHE_HOME:-$HOME/.cache}/edgefit     Linux
//	${TMPDIR:-/data/local/tmp}/edgefit          Android (the shell user's writable place)
//
// so a deploy whose files are already there pushes nothing, and two edgefit
// versions never overwrite each other's agent. Pushes land under a
// temporary name and are renamed, so an interrupted push is never mistaken
// for a cached file. [Options].CacheDir overrides the location.
// [CacheEntries] lists the cache and [RemoveCache] empties it ('edgefit
// cache clean --target').
//
// # Files on the host
//
// [Locate] finds edgefit-agent-OS-ARCH (built by `make agents`, or by
// `make agent-android` with the Android NDK, see docs/devices.md) and the
// ONNX Runtime library cached by `make ort` (Linux) or `make ort-android`
// (Android); [Options] can name both explicitly. On Android both follow
// the phone's primary ABI (getprop ro.product.cpu.abi): arm64-v8a takes
// edgefit-agent-android-arm64 and android-arm64-v8a/libonnxruntime.so.
// Deploy checks both files (ELF machine, Android or glibc linkage, C API
// version) before pushing anything, and when files are missing it names
// each one and the make target that builds it.
//
// The package sits above devices and speaks the agent's protocol from
// profiler/bench/wire: it imports devices, the agent's protocol
// (profiler/bench/wire, profiler/timing) and internal helpers only, and no
// cgo. The ONNX Runtime library it ships is found by internal/ortlib, not
// loaded.
package agent
