package profiler

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler/agent"
	"github.com/edgefit/edgefit/profiler/bench/wire"
)

func init() { runnerFactories[RunnerAgent] = newAgentRunner }

// agentRunner measures with edgefit-agent (ONNX Runtime), deployed by
// package agent (cached on the device by content hash). Unlike
// agent.Agent.Run, which pushes file by file into a fresh directory per
// run, it pushes each batch as one tar archive holding the models and the
// manifest (one round trip instead of one per model, which matters over
// adb) and keeps the drift reference on the device between batches; one
// agent invocation measures the whole batch, so connection and process
// start-up costs are paid per batch, not per model.
type agentRunner struct {
	t      devices.Target
	agent  *agent.Agent
	dir    string // device work directory for models and manifests
	clean  func(context.Context) error
	hasTar bool
	kept   map[string]bool // models left on the device (the reference)
	spec   wire.ModelSpec  // template of every model's spec
	ref    wire.ModelSpec  // the same for the drift reference
	seq    int
	rt     Runtime
}

func newAgentRunner(ctx context.Context, p *Plan) (runner, error) {
	return startAgent(ctx, p.target, &p.Options)
}

// startAgent deploys the agent on t and prepares a work directory, with
// every model's spec taken from o (batch, threads, provider, affinity,
// measurement discipline).
func startAgent(ctx context.Context, t devices.Target, o *Options) (*agentRunner, error) {
	ao := o.Agent
	if ao.Logger == nil {
		ao.Logger = o.Logger
	}
	ag, err := agent.Deploy(ctx, t, ao)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &RuntimeError{Target: t.Name(), Runner: RunnerAgent, Err: err}
	}
	r := &agentRunner{t: t, agent: ag, kept: map[string]bool{}}
	ok := false
	defer func() {
		if !ok {
			r.Close(context.WithoutCancel(ctx))
		}
	}()
	if err := checkProvider(ag.Info, o.Provider); err != nil {
		return nil, &RuntimeError{Target: t.Name(), Runner: RunnerAgent, Err: err}
	}
	r.dir, r.clean, err = deviceWorkDir(ctx, t, o.DeviceDir)
	if err != nil {
		return nil, err
	}
	_, terr := t.Run(ctx, []string{"sh", "-c", "command -v tar"}, devices.RunOptions{})
	r.hasTar = terr == nil
	r.spec = wire.ModelSpec{Batch: o.Batch, Threads: o.Threads, InterOpThreads: 1, Provider: o.Provider,
		Warmup: o.Measure.Warmup, MinRuns: o.Measure.MinRuns, MaxRuns: o.Measure.MaxRuns,
		TargetCI: o.Measure.TargetCI, MaxSeconds: o.Measure.MaxTime.Seconds(), Seed: o.Seed}
	if o.CPUAffinity != "none" && o.CPUAffinity != "" {
		r.spec.CPUs, _ = parseMask(o.CPUAffinity)
	}
	r.ref = referenceSpec(r.spec, o.Measure)
	r.rt = Runtime{Name: "onnxruntime", Version: ag.Info.ORTVersion}
	ok = true
	return r, nil
}

// referenceSpec times the drift reference more tightly than the models
// it guards: its confidence interval must be well inside the drift
// threshold, or noise alone would void batches.
func referenceSpec(s wire.ModelSpec, m Measurement) wire.ModelSpec {
	s.MinRuns = max(s.MinRuns, 20)
	s.MaxRuns = max(s.MaxRuns, 400)
	s.TargetCI = min(s.TargetCI, m.DriftThreshold/4)
	s.MaxSeconds = max(s.MaxSeconds, 1)
	return s
}

// checkProvider refuses an execution provider the device's ONNX Runtime
// lacks before anything is measured.
func checkProvider(info wire.Info, provider string) error {
	want := map[string]string{"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
		"tensorrt": "TensorrtExecutionProvider", "xnnpack": "XnnpackExecutionProvider", "nnapi": "NnapiExecutionProvider"}[provider]
	for _, p := range info.Providers {
		if p == want {
			return nil
		}
	}
	return fmt.Errorf("execution provider %s (%s) is not in the device's ONNX Runtime %s, which offers %s",
		provider, want, info.ORTVersion, strings.Join(info.Providers, ", "))
}

// deviceWorkDir makes a fresh directory on the device, under base if set.
func deviceWorkDir(ctx context.Context, t devices.Target, base string) (string, func(context.Context) error, error) {
	if base == "" {
		dir, clean, err := t.WorkDir(ctx)
		if err != nil {
			return "", nil, fmt.Errorf("create work directory on %s: %w", t.Name(), err)
		}
		return dir, clean, nil
	}
	res, err := t.Run(ctx, []string{"sh", "-c", `mkdir -p "$1" && mktemp -d "$1/edgefit-XXXXXX"`, "sh", base}, devices.RunOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("create work directory under %s on %s: %w", base, t.Name(), err)
	}
	dir := strings.TrimSpace(string(res.Stdout))
	if !path.IsAbs(dir) {
		return "", nil, fmt.Errorf("create work directory under %s on %s: mktemp printed %q", base, t.Name(), dir)
	}
	return dir, func(ctx context.Context) error {
		_, err := t.Run(ctx, []string{"rm", "-rf", dir}, devices.RunOptions{})
		return err
	}, nil
}

func (r *agentRunner) Runtime() Runtime { return r.rt }

func (r *agentRunner) Measure(ctx context.Context, models []runModel) ([]runResult, error) {
	specs := make([]wire.ModelSpec, len(models))
	for i, m := range models {
		specs[i] = r.spec
		if m.Reference {
			specs[i] = r.ref
		}
	}
	res, err := r.run(ctx, models, specs)
	if err != nil {
		return nil, err
	}
	out := make([]runResult, len(res))
	for i, w := range res {
		out[i] = runResult{Stats: fromWire(w.Stats), CI: w.Stats.CI95}
	}
	return out, nil
}

// run measures models[i] with specs[i] (ID and Path are filled in) in one
// agent invocation and returns the agent's results in order. Models with
// the same Name are pushed once.
func (r *agentRunner) run(ctx context.Context, models []runModel, specs []wire.ModelSpec) ([]wire.Result, error) {
	r.seq++
	manifest := wire.Manifest{Format: wire.FormatVersion}
	var push []runModel
	var temp []string
	seen := map[string]bool{}
	for i, m := range models {
		spec := specs[i]
		spec.ID = strconv.Itoa(i)
		spec.Path = m.Name
		manifest.Models = append(manifest.Models, spec)
		if !seen[m.Name] && !r.kept[m.Name] {
			push = append(push, m)
			if !m.Reference {
				temp = append(temp, m.Name)
			}
		}
		seen[m.Name] = true
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	manifestName := fmt.Sprintf("manifest-%d.json", r.seq)
	temp = append(temp, manifestName)
	defer func() {
		// Free the device's disk for the next batch; failing to is not
		// worth failing the run for (the work directory goes at the end).
		argv := []string{"rm", "-f"}
		for _, n := range temp {
			argv = append(argv, path.Join(r.dir, n))
		}
		r.t.Run(context.WithoutCancel(ctx), argv, devices.RunOptions{})
	}()
	if err := r.push(ctx, push, manifestName, mb); err != nil {
		return nil, err
	}
	for _, m := range push {
		if m.Reference {
			r.kept[m.Name] = true
		}
	}

	argv := append(r.agent.Argv(), "run", path.Join(r.dir, manifestName))
	res, runErr := r.t.Run(ctx, argv, devices.RunOptions{Dir: r.dir})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	out := make([]wire.Result, len(models))
	got := make([]bool, len(models))
	perr := wire.ReadResults(bytes.NewReader(res.Stdout), func(w wire.Result) error {
		i, err := strconv.Atoi(w.ID)
		if err != nil || i < 0 || i >= len(models) {
			return fmt.Errorf("agent reported a model %q it was not given", w.ID)
		}
		if w.Error != "" {
			return fmt.Errorf("model %s: %s", models[i].Name, w.Error)
		}
		got[i] = true
		out[i] = w
		return nil
	})
	if perr != nil {
		return nil, fmt.Errorf("agent on %s: %w", r.t.Name(), perr)
	}
	if runErr != nil {
		return nil, fmt.Errorf("agent on %s: %w", r.t.Name(), runErr)
	}
	for i, ok := range got {
		if !ok {
			return nil, fmt.Errorf("agent on %s exited without a result for %s; its stderr: %s", r.t.Name(), models[i].Name, tail(res.Stderr, 500))
		}
	}
	return out, nil
}

// push copies models and the manifest into the work directory: as one tar
// archive unpacked on the device where it has tar, else file by file.
func (r *agentRunner) push(ctx context.Context, models []runModel, manifestName string, manifest []byte) error {
	tmp, err := os.MkdirTemp("", "edgefit-push-")
	if err != nil {
		return hostErr(os.TempDir(), err)
	}
	defer os.RemoveAll(tmp)
	var need int64
	for _, m := range models {
		if fi, err := os.Stat(m.Path); err == nil {
			need += fi.Size()
		}
	}
	fail := func(step string, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isNoSpace(err) || r.lowOnSpace(ctx, 2*need+int64(len(manifest))) {
			return &DeviceFullError{Target: r.t.Name(), Where: r.dir, Err: err}
		}
		return fmt.Errorf("%s on %s: %w", step, r.t.Name(), err)
	}
	if !r.hasTar || len(models) == 0 {
		mpath := filepath.Join(tmp, manifestName)
		if err := os.WriteFile(mpath, manifest, 0o644); err != nil {
			return hostErr(mpath, err)
		}
		for _, m := range models {
			if err := r.t.Push(ctx, m.Path, path.Join(r.dir, m.Name)); err != nil {
				return fail("push model", err)
			}
		}
		if err := r.t.Push(ctx, mpath, path.Join(r.dir, manifestName)); err != nil {
			return fail("push manifest", err)
		}
		return nil
	}
	tarPath := filepath.Join(tmp, "batch.tar")
	if err := writeTar(tarPath, models, manifestName, manifest); err != nil {
		return hostErr(tarPath, err)
	}
	remote := path.Join(r.dir, fmt.Sprintf("batch-%d.tar", r.seq))
	if err := r.t.Push(ctx, tarPath, remote); err != nil {
		r.t.Run(context.WithoutCancel(ctx), []string{"rm", "-f", remote}, devices.RunOptions{})
		return fail("push models", err)
	}
	_, err = r.t.Run(ctx, []string{"sh", "-c", `cd "$2" && tar -xf "$1"; s=$?; rm -f "$1"; exit $s`, "sh", remote, r.dir}, devices.RunOptions{})
	if err != nil {
		return fail("unpack models", err)
	}
	return nil
}

// lowOnSpace asks the device whether the work directory's file system has
// less than need bytes free: SFTP and adb report a full disk as a bare
// "failure", so the cause is checked rather than guessed.
func (r *agentRunner) lowOnSpace(ctx context.Context, need int64) bool {
	res, err := r.t.Run(context.WithoutCancel(ctx), []string{"df", "-k", r.dir}, devices.RunOptions{})
	if err != nil {
		return false
	}
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if len(lines) < 2 {
		return false
	}
	// Filesystem 1K-blocks Used Available Use% Mounted (a long device name
	// may wrap onto its own line: read from the end).
	f := strings.Fields(strings.Join(lines[1:], " "))
	if len(f) < 4 {
		return false
	}
	avail, err := strconv.ParseInt(f[len(f)-3], 10, 64)
	if err != nil {
		return false
	}
	return avail*1024 < need
}

func writeTar(dst string, models []runModel, manifestName string, manifest []byte) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	add := func(name string, size int64, mode int64, src io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: mode, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
			return err
		}
		_, err := io.Copy(tw, src)
		return err
	}
	for _, m := range models {
		mf, err := os.Open(m.Path)
		if err != nil {
			f.Close()
			return err
		}
		fi, err := mf.Stat()
		if err == nil {
			err = add(m.Name, fi.Size(), 0o644, mf)
		}
		mf.Close()
		if err != nil {
			f.Close()
			return err
		}
	}
	if err := add(manifestName, int64(len(manifest)), 0o644, bytes.NewReader(manifest)); err != nil {
		f.Close()
		return err
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (r *agentRunner) Close(ctx context.Context) error {
	var errs []error
	if r.clean != nil {
		errs = append(errs, r.clean(ctx))
	}
	return errors.Join(errs...)
}

func fromWire(s wire.Stats) Stats {
	return Stats{Median: s.Median, Mean: s.Mean, P10: s.P10, P90: s.P90, Std: s.Std, N: s.N, CoV: s.CoV}
}

func tail(b []byte, n int) string {
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	if s == "" {
		return "(empty)"
	}
	return s
}
