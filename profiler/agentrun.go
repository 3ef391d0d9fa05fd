package profiler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler/agent"
	"github.com/edgefit/edgefit/profiler/bench/wire"
	"github.com/edgefit/edgefit/profiler/lut"
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
	*workspace
	agent *agent.Agent
	spec  wire.ModelSpec // template of every model's spec
	ref   wire.ModelSpec // the same for the drift reference
	// rounds is how many rounds each model's timed runs are spread over
	// (see interleave); 1 times each model at once.
	rounds int
	rt     lut.Runtime
	log    *slog.Logger
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
	if err := checkProvider(ag.Info, o.Provider); err != nil {
		return nil, &RuntimeError{Target: t.Name(), Runner: RunnerAgent, Err: err}
	}
	ws, err := newWorkspace(ctx, t, o.DeviceDir)
	if err != nil {
		return nil, err
	}
	r := &agentRunner{workspace: ws, agent: ag, log: ao.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.spec = wire.ModelSpec{Batch: o.Batch, Threads: o.Threads, InterOpThreads: 1, Provider: o.Provider,
		Warmup: o.Measure.Warmup, MinRuns: o.Measure.MinRuns, MaxRuns: o.Measure.MaxRuns,
		TargetCI: o.Measure.TargetCI, MaxSeconds: o.Measure.MaxTime.Seconds(), SampleMS: o.Measure.SampleMS, Seed: o.Seed}
	if o.CPUAffinity != "none" && o.CPUAffinity != "" {
		r.spec.CPUs, _ = parseMask(o.CPUAffinity)
	}
	r.ref = referenceSpec(r.spec, o.Measure)
	r.rounds = max(o.Measure.Rounds, 1)
	r.rt = lut.Runtime{Name: "onnxruntime", Version: ag.Info.ORTVersion}
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

func (r *agentRunner) Runtime() lut.Runtime { return r.rt }

func (r *agentRunner) Measure(ctx context.Context, models []runModel) ([]runResult, error) {
	if r.rounds > 1 {
		return r.measureRounds(ctx, models)
	}
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
		out[i] = runResult{Stats: w.Stats}
	}
	return out, nil
}

// measureRounds measures models in one agent invocation with each timed
// in r.rounds interleaved rounds, whose samples are merged per model (see
// mergeRounds).
func (r *agentRunner) measureRounds(ctx context.Context, models []runModel) ([]runResult, error) {
	runs, specs, owner := interleave(models, r.spec, r.rounds)
	res, err := r.run(ctx, runs, specs)
	if err != nil {
		return nil, err
	}
	out := make([]runResult, len(models))
	rounds := make([][][]float64, len(models))
	for j, w := range res {
		i := owner[j]
		if len(w.SamplesMS) == 0 {
			return nil, fmt.Errorf("agent on %s returned no samples for %s: deploy the agent that matches this edgefit", r.t.Name(), models[i].Name)
		}
		rounds[i] = append(rounds[i], w.SamplesMS)
	}
	for i, rs := range rounds {
		out[i] = mergeRounds(rs)
	}
	return out, nil
}

// run measures models[i] with specs[i] (ID and Path are filled in) in one
// agent invocation and returns the agent's results in order. Models with
// the same Name are pushed once.
func (r *agentRunner) run(ctx context.Context, models []runModel, specs []wire.ModelSpec) ([]wire.Result, error) {
	manifest := wire.Manifest{Format: wire.FormatVersion}
	for i, m := range models {
		spec := specs[i]
		spec.ID = strconv.Itoa(i)
		spec.Path = m.Name
		manifest.Models = append(manifest.Models, spec)
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	manifestName := fmt.Sprintf("manifest-%d.json", r.seq+1)
	stageStart := time.Now()
	temp, err := r.stage(ctx, models, map[string][]byte{manifestName: mb})
	defer r.remove(ctx, temp)
	if err != nil {
		return nil, err
	}

	r.log.Debug("batch staged", "target", r.t.Name(), "files", len(temp), "took", time.Since(stageStart).Round(time.Millisecond))
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
