// Package ort is edgefit's small door to ONNX Runtime: it loads the shared
// library once per process, lists the execution providers the library was
// built with, and runs float32 models through sessions whose input and
// output tensors are allocated once, so that a timing loop pays only for
// ONNX Runtime's own work.
//
// # Library
//
// [Init] loads the library named by its argument, else by the
// EDGEFIT_ORT_LIB environment variable, else the copy that `make ort`
// caches under $HOME/.cache/edgefit/onnxruntime/1.24.1/linux-<arch>/
// (package internal/ortlib knows these places, without cgo). The
// bindings (github.com/yalue/onnxruntime_go v1.27.0) speak ONNX Runtime's
// C API version 24, so the library must be ONNX Runtime 1.24 or newer.
//
// # Sessions
//
// [Open] and [OpenFile] create a [Session] for one model. Symbolic
// dimensions (such as the batch dimension "N" of edgefit's models) take the
// value [Options].Batch. [Session.Run] copies inputs in and outputs out;
// [Session.RunInPlace] runs on the session's own tensors, which
// [Session.Input] and [Session.Output] expose, and allocates nothing.
//
// # Execution providers
//
// [Options].ExecutionProvider enables "cpu", "cuda", "tensorrt", "xnnpack"
// or "nnapi" after checking that the library has it; a [ProviderError]
// names what the library offers and which library has the provider
// ([WhereProvider]). XNNPACK gets the settings ONNX Runtime recommends
// for it: its own pool of IntraOpThreads threads, one session intra-op
// thread, and no spinning. Every session records how ONNX Runtime
// assigned the nodes ([Session.NodesByProvider]), so [Session.Provider]
// reports the provider actually used.
//
// Where the library is, for Linux and for Android, and how to check an
// Android build without loading it, is package internal/ortlib's job.
//
// The package imports nothing else of edgefit but internal/ortlib, so that
// the on-device agent can link it alone. It is the only cgo package of
// edgefit; only the agent (profiler/bench) and export and its
// subpackages, where they run models, import it.
package ort
