package ort

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/edgefit/edgefit/internal/ortlib"
)

// GraphOptimization is ONNX Runtime's graph optimization level. The zero
// value is ONNX Runtime's default, [OptimizeAll].
type GraphOptimization int

const (
	OptimizeAll      GraphOptimization = iota // every rewrite, layout changes included (ONNX Runtime's default)
	OptimizeExtended                          // basic plus fusions such as Conv+activation
	OptimizeBasic                             // constant folding and redundant-node removal
	OptimizeNone                              // run the graph as written
)

func (g GraphOptimization) ort() (onnxruntime.GraphOptimizationLevel, error) {
	switch g {
	case OptimizeAll:
		return onnxruntime.GraphOptimizationLevelEnableAll, nil
	case OptimizeExtended:
		return onnxruntime.GraphOptimizationLevelEnableExtended, nil
	case OptimizeBasic:
		return onnxruntime.GraphOptimizationLevelEnableBasic, nil
	case OptimizeNone:
		return onnxruntime.GraphOptimizationLevelDisableAll, nil
	}
	return 0, fmt.Errorf("unknown graph optimization level %d", int(g))
}

// ParseGraphOptimization reads "all", "extended", "basic" or "none" ("" is
// "all").
func ParseGraphOptimization(s string) (GraphOptimization, error) {
	switch strings.ToLower(s) {
	case "", "all":
		return OptimizeAll, nil
	case "extended":
		return OptimizeExtended, nil
	case "basic":
		return OptimizeBasic, nil
	case "none", "disable", "disabled":
		return OptimizeNone, nil
	}
	return 0, fmt.Errorf("unknown graph optimization level %q: use all, extended, basic or none", s)
}

func (g GraphOptimization) String() string {
	switch g {
	case OptimizeAll:
		return "all"
	case OptimizeExtended:
		return "extended"
	case OptimizeBasic:
		return "basic"
	case OptimizeNone:
		return "none"
	}
	return fmt.Sprintf("GraphOptimization(%d)", int(g))
}

// Options configure a [Session]. The zero value runs on the CPU with ONNX
// Runtime's default threads and optimizations, batch 1.
type Options struct {
	// IntraOpThreads and InterOpThreads size ONNX Runtime's thread pools;
	// 0 leaves ONNX Runtime's default (one thread per physical core for
	// intra-op). Latency measurements usually set IntraOpThreads to 1.
	IntraOpThreads int
	InterOpThreads int

	// ExecutionProvider is one of "cpu" (or ""), "cuda", "tensorrt",
	// "xnnpack" and "nnapi". Nodes the provider cannot run fall back to
	// the CPU provider.
	ExecutionProvider string

	// ProfilePrefix, when set, turns on ONNX Runtime's profiler; it writes
	// PREFIX_<timestamp>.json when the session closes (see
	// [Session.ProfileFile]).
	ProfilePrefix string

	GraphOptimization GraphOptimization

	// Batch is the value of every symbolic input and output dimension
	// (edgefit's models have one, the batch "N"); 0 means 1.
	Batch int

	// InputShapes overrides the shapes of named inputs, for models with
	// more than one symbolic dimension.
	InputShapes map[string][]int64
}

// Session is one model loaded into ONNX Runtime with its input and output
// tensors allocated. It is not safe for concurrent use.
type Session struct {
	sess      *onnxruntime.AdvancedSession
	inNames   []string
	outNames  []string
	ins       []*onnxruntime.Tensor[float32]
	outs      []*onnxruntime.Tensor[float32]
	runOpts   *onnxruntime.RunOptions
	requested string         // ONNX Runtime's name of the provider asked for
	nodes     map[string]int // nodes per provider, as ONNX Runtime assigned them
	profile   string         // prefix, "" when off
	opened    time.Time
	closeOnce sync.Once
	closeErr  error
}

// Open loads a serialized ONNX model. Every input and output must be a
// float32 tensor whose dimensions are known once symbolic ones take
// opts.Batch.
func Open(model []byte, opts Options) (*Session, error) {
	if err := requireInit(); err != nil {
		return nil, err
	}
	ins, outs, err := onnxruntime.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("read model inputs and outputs: %w", err)
	}
	return open(ins, outs, opts, func(in, out []string, iv, ov []onnxruntime.Value, so *onnxruntime.SessionOptions) (*onnxruntime.AdvancedSession, error) {
		return onnxruntime.NewAdvancedSessionWithONNXData(model, in, out, iv, ov, so)
	})
}

// OpenFile loads the ONNX model at path; see [Open].
func OpenFile(path string, opts Options) (*Session, error) {
	if err := requireInit(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	ins, outs, err := onnxruntime.GetInputOutputInfo(path)
	if err != nil {
		return nil, fmt.Errorf("read inputs and outputs of %s: %w", path, err)
	}
	s, err := open(ins, outs, opts, func(in, out []string, iv, ov []onnxruntime.Value, so *onnxruntime.SessionOptions) (*onnxruntime.AdvancedSession, error) {
		return onnxruntime.NewAdvancedSession(path, in, out, iv, ov, so)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

type newSessionFunc func(in, out []string, iv, ov []onnxruntime.Value, so *onnxruntime.SessionOptions) (*onnxruntime.AdvancedSession, error)

func open(ins, outs []onnxruntime.InputOutputInfo, opts Options, create newSessionFunc) (_ *Session, err error) {
	batch := int64(opts.Batch)
	if batch == 0 {
		batch = 1
	}
	if batch < 0 {
		return nil, fmt.Errorf("batch %d must be positive", opts.Batch)
	}
	for name := range opts.InputShapes {
		if !slices.ContainsFunc(ins, func(i onnxruntime.InputOutputInfo) bool { return i.Name == name }) {
			return nil, fmt.Errorf("input shape given for %q, but the model has no such input", name)
		}
	}
	s := &Session{opened: time.Now(), profile: opts.ProfilePrefix}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	var iv, ov []onnxruntime.Value
	for _, info := range ins {
		t, err := newTensor(info, batch, opts.InputShapes[info.Name], "input")
		if err != nil {
			return nil, err
		}
		s.inNames = append(s.inNames, info.Name)
		s.ins = append(s.ins, t)
		iv = append(iv, t)
	}
	for _, info := range outs {
		t, err := newTensor(info, batch, nil, "output")
		if err != nil {
			return nil, err
		}
		s.outNames = append(s.outNames, info.Name)
		s.outs = append(s.outs, t)
		ov = append(ov, t)
	}
	so, err := sessionOptions(opts)
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	s.requested = ortlib.Providers[providerKey(opts.ExecutionProvider)]
	s.sess, err = create(s.inNames, s.outNames, iv, ov, so)
	if err != nil {
		return nil, fmt.Errorf("create ONNX Runtime session (%s): %w", s.requested, err)
	}
	// Without the assignments (a bindings layout this build does not
	// know), Provider reports the requested provider.
	s.nodes, _ = nodesByProvider(s.sess)
	if s.runOpts, err = onnxruntime.NewRunOptions(); err != nil {
		return nil, fmt.Errorf("create ONNX Runtime run options: %w", err)
	}
	return s, nil
}

func newTensor(info onnxruntime.InputOutputInfo, batch int64, override []int64, what string) (*onnxruntime.Tensor[float32], error) {
	if info.OrtValueType != onnxruntime.ONNXTypeTensor {
		return nil, fmt.Errorf("model %s %q is a %s, not a tensor: edgefit runs only float32 tensor models", what, info.Name, info.OrtValueType)
	}
	if info.DataType != onnxruntime.TensorElementDataTypeFloat {
		return nil, fmt.Errorf("model %s %q holds %s, not float32: edgefit runs only float32 models", what, info.Name, info.DataType)
	}
	shape := slices.Clone(info.Dimensions)
	if override != nil {
		if len(override) != len(shape) {
			return nil, fmt.Errorf("input %q has %d dimensions, but the shape given has %d", info.Name, len(shape), len(override))
		}
		shape = onnxruntime.Shape(slices.Clone(override))
	}
	for i, d := range shape {
		if d < 0 {
			shape[i] = batch
		}
		if shape[i] <= 0 {
			return nil, fmt.Errorf("model %s %q has dimension %d of size %d", what, info.Name, i, shape[i])
		}
	}
	t, err := onnxruntime.NewEmptyTensor[float32](shape)
	if err != nil {
		return nil, fmt.Errorf("allocate %s %q %v: %w", what, info.Name, []int64(shape), err)
	}
	return t, nil
}

func providerKey(p string) string {
	p = strings.ToLower(p)
	if p == "" {
		return "cpu"
	}
	return p
}

func sessionOptions(opts Options) (_ *onnxruntime.SessionOptions, err error) {
	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("create ONNX Runtime session options: %w", err)
	}
	defer func() {
		if err != nil {
			so.Destroy()
		}
	}()
	if opts.IntraOpThreads < 0 || opts.InterOpThreads < 0 {
		return nil, fmt.Errorf("thread counts must not be negative (intra-op %d, inter-op %d)", opts.IntraOpThreads, opts.InterOpThreads)
	}
	key := providerKey(opts.ExecutionProvider)
	ps := settingsFor(key, opts)
	if err := ps.apply(so); err != nil {
		return nil, err
	}
	if opts.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(opts.InterOpThreads); err != nil {
			return nil, fmt.Errorf("set inter-op threads: %w", err)
		}
	}
	level, err := opts.GraphOptimization.ort()
	if err != nil {
		return nil, err
	}
	if err := so.SetGraphOptimizationLevel(level); err != nil {
		return nil, fmt.Errorf("set graph optimization level: %w", err)
	}
	if opts.ProfilePrefix != "" {
		if err := so.EnableProfiling(opts.ProfilePrefix); err != nil {
			return nil, fmt.Errorf("enable ONNX Runtime profiling: %w", err)
		}
	}
	if err := appendProvider(so, key, ps.providerOptions); err != nil {
		return nil, err
	}
	return so, nil
}

// Session configuration keys (onnxruntime_session_options_config_keys.h).
const (
	configAllowIntraOpSpinning = "session.intra_op.allow_spinning"
	configRecordAssignment     = "session.record_ep_graph_assignment_info"
)

// providerSettings are the session settings an execution provider runs
// best with, as ONNX Runtime documents them.
type providerSettings struct {
	intraOpThreads  int               // the session's own intra-op threads (0 = ONNX Runtime's default)
	config          map[string]string // session configuration entries
	providerOptions map[string]string // options given with the provider
}

// settingsFor returns the settings for provider key. Every session records
// which provider each node was assigned to ([Session.NodesByProvider]).
//
// XNNPACK runs its compute-heavy nodes (Conv, Gemm, MatMul) on its own
// thread pool, which competes with ONNX Runtime's intra-op pool; ONNX
// Runtime's XNNPACK page recommends sizing XNNPACK's pool with the provider
// option intra_op_num_threads (here Options.IntraOpThreads: edgefit passes
// the number of big cores), setting the session's intra-op threads to 1,
// and turning intra-op spinning off (session.intra_op.allow_spinning=0).
func settingsFor(key string, opts Options) providerSettings {
	ps := providerSettings{intraOpThreads: opts.IntraOpThreads, config: map[string]string{configRecordAssignment: "1"}}
	if key == "xnnpack" {
		ps.intraOpThreads = 1
		ps.config[configAllowIntraOpSpinning] = "0"
		ps.providerOptions = map[string]string{}
		if opts.IntraOpThreads > 0 {
			ps.providerOptions["intra_op_num_threads"] = strconv.Itoa(opts.IntraOpThreads)
		}
	}
	return ps
}

// apply sets the session's threads and configuration entries on so.
func (ps providerSettings) apply(so *onnxruntime.SessionOptions) error {
	if ps.intraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(ps.intraOpThreads); err != nil {
			return fmt.Errorf("set intra-op threads: %w", err)
		}
	}
	keys := make([]string, 0, len(ps.config))
	for k := range ps.config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := so.AddSessionConfigEntry(k, ps.config[k]); err != nil {
			return fmt.Errorf("set session option %s=%s: %w", k, ps.config[k], err)
		}
	}
	return nil
}

// appendProvider enables an execution provider after checking that the
// library has it, so that the error names what the library does offer.
func appendProvider(so *onnxruntime.SessionOptions, key string, providerOptions map[string]string) error {
	name, ok := ortlib.Providers[key]
	if !ok {
		return fmt.Errorf("unknown execution provider %q: use one of %s", key, strings.Join(ortlib.ProviderNames(), ", "))
	}
	if key == "cpu" {
		return nil
	}
	have, err := AvailableProviders()
	if err != nil {
		return err
	}
	if !slices.Contains(have, name) {
		return &ProviderError{Provider: key, Name: name, Available: have, Library: LibraryPath()}
	}
	var aerr error
	switch key {
	case "cuda":
		var co *onnxruntime.CUDAProviderOptions
		if co, aerr = onnxruntime.NewCUDAProviderOptions(); aerr == nil {
			aerr = so.AppendExecutionProviderCUDA(co)
			co.Destroy()
		}
	case "tensorrt":
		var to *onnxruntime.TensorRTProviderOptions
		if to, aerr = onnxruntime.NewTensorRTProviderOptions(); aerr == nil {
			aerr = so.AppendExecutionProviderTensorRT(to)
			to.Destroy()
		}
	case "xnnpack":
		aerr = so.AppendExecutionProvider("XNNPACK", providerOptions)
	case "nnapi":
		aerr = appendNNAPI(so)
	}
	if aerr != nil {
		return &ProviderError{Provider: key, Name: name, Available: have, Library: LibraryPath(), Err: aerr}
	}
	return nil
}

// ProviderError reports an execution provider the library lacks or cannot
// start.
type ProviderError struct {
	Provider  string   // edgefit's name, such as "cuda"
	Name      string   // ONNX Runtime's name, such as "CUDAExecutionProvider"
	Available []string // what the library offers
	Library   string
	Err       error // why enabling it failed; nil when the library lacks it
}

func (e *ProviderError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("execution provider %s (%s) is not in the ONNX Runtime library %s, which offers %s: pick one of those or %s",
			e.Provider, e.Name, e.Library, strings.Join(e.Available, ", "), ortlib.WhereProvider(e.Provider))
	}
	hint := "its provider libraries and drivers must be installed"
	switch e.Provider {
	case "cuda", "tensorrt":
		hint = fmt.Sprintf("it needs libonnxruntime_providers_shared.so and libonnxruntime_providers_%s.so next to %s, plus NVIDIA's CUDA/cuDNN%s libraries",
			e.Provider, e.Library, map[bool]string{true: "/TensorRT", false: ""}[e.Provider == "tensorrt"])
	}
	return fmt.Sprintf("enable execution provider %s (%s): %v (the library offers %s; %s)",
		e.Provider, e.Name, e.Err, strings.Join(e.Available, ", "), hint)
}

func (e *ProviderError) Unwrap() error { return e.Err }

// Provider returns the ONNX Runtime name of the execution provider the
// session actually runs on: the one it asked for if ONNX Runtime assigned
// that provider any node, else CPUExecutionProvider, where every node fell
// back.
func (s *Session) Provider() string {
	if s.requested != ortlib.Providers["cpu"] && s.nodes != nil && s.nodes[s.requested] == 0 {
		return ortlib.Providers["cpu"]
	}
	return s.requested
}

// NodesByProvider returns how many of the model's nodes ONNX Runtime
// assigned to each execution provider (ONNX Runtime's names) when it
// partitioned the graph, after its basic optimizations.
func (s *Session) NodesByProvider() map[string]int { return maps.Clone(s.nodes) }

// InputNames returns the model's input names in order.
func (s *Session) InputNames() []string { return slices.Clone(s.inNames) }

// OutputNames returns the model's output names in order.
func (s *Session) OutputNames() []string { return slices.Clone(s.outNames) }

// InputShape returns the shape of input i with symbolic dimensions bound.
func (s *Session) InputShape(i int) []int64 { return slices.Clone(s.ins[i].GetShape()) }

// OutputShape returns the shape of output i with symbolic dimensions bound.
func (s *Session) OutputShape(i int) []int64 { return slices.Clone(s.outs[i].GetShape()) }

// Input returns the data of input tensor i. Writing to it sets what the
// next [Session.RunInPlace] reads.
func (s *Session) Input(i int) []float32 { return s.ins[i].GetData() }

// Output returns the data of output tensor i, which each
// [Session.RunInPlace] overwrites.
func (s *Session) Output(i int) []float32 { return s.outs[i].GetData() }

// RunInPlace runs the model on the session's input tensors into its output
// tensors. It allocates nothing on the Go side, for timing loops.
func (s *Session) RunInPlace() error {
	if s.sess == nil {
		return errors.New("run on a closed ONNX Runtime session")
	}
	if err := s.sess.Run(); err != nil {
		return fmt.Errorf("ONNX Runtime run: %w", err)
	}
	return nil
}

// Run copies inputs (one per model input, in order, each exactly as long
// as the input tensor), runs the model and returns copies of the outputs.
func (s *Session) Run(inputs ...[]float32) ([][]float32, error) {
	return s.RunContext(context.Background(), inputs...)
}

// RunContext is [Session.Run] that ONNX Runtime abandons when ctx ends.
func (s *Session) RunContext(ctx context.Context, inputs ...[]float32) ([][]float32, error) {
	if s.sess == nil {
		return nil, errors.New("run on a closed ONNX Runtime session")
	}
	if len(inputs) != len(s.ins) {
		return nil, fmt.Errorf("model takes %d inputs (%s), got %d", len(s.ins), strings.Join(s.inNames, ", "), len(inputs))
	}
	for i, in := range inputs {
		dst := s.ins[i].GetData()
		if len(in) != len(dst) {
			return nil, fmt.Errorf("input %q needs %d values for shape %v, got %d", s.inNames[i], len(dst), []int64(s.ins[i].GetShape()), len(in))
		}
		copy(dst, in)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { s.runOpts.Terminate() })
	err := s.sess.RunWithOptions(s.runOpts)
	if !stop() {
		// ctx ended during the run: clear the flag so that the session
		// stays usable.
		s.runOpts.UnsetTerminate()
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("ONNX Runtime run: %w", cerr)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ONNX Runtime run: %w", err)
	}
	outs := make([][]float32, len(s.outs))
	for i, t := range s.outs {
		outs[i] = slices.Clone(t.GetData())
	}
	return outs, nil
}

// Close releases the session and its tensors. With profiling on, ONNX
// Runtime writes its profile now. Close is safe to call more than once.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.sess != nil {
			errs = append(errs, s.sess.Destroy())
			s.sess = nil
		}
		if s.runOpts != nil {
			errs = append(errs, s.runOpts.Destroy())
		}
		for _, t := range s.ins {
			errs = append(errs, t.Destroy())
		}
		for _, t := range s.outs {
			errs = append(errs, t.Destroy())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close ONNX Runtime session: %w", err)
		}
	})
	return s.closeErr
}

// ProfileFile returns the newest profile ONNX Runtime wrote for the
// session's prefix since it opened, or "" when profiling was off or no file
// exists yet (ONNX Runtime writes it on [Session.Close]).
func (s *Session) ProfileFile() string {
	if s.profile == "" {
		return ""
	}
	matches, _ := filepath.Glob(s.profile + "*.json")
	best, bestT := "", s.opened.Add(-time.Second)
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.ModTime().After(bestT) {
			best, bestT = m, fi.ModTime()
		}
	}
	return best
}
