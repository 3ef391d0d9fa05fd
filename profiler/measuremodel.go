package profiler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/internal/ortlib"
	"github.com/edgefit/edgefit/internal/scratch"
	"github.com/edgefit/edgefit/profiler/agent"
	"github.com/edgefit/edgefit/profiler/bench/wire"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/timing"
)

// BenchOptions say how [Bench] measures a model. Zero fields take the
// defaults of the device's class, as for [Options].
type BenchOptions struct {
	Batch       int    // value of symbolic dimensions (0 = 1)
	Threads     int    // intra-op threads (0 = class default: 1)
	Provider    string // execution provider ("" = class default)
	CPUAffinity string // taskset mask ("" = class default, "none")
	// Layers adds a per-node breakdown from ONNX Runtime's profiler, run
	// separately so that profiling does not slow the headline numbers.
	Layers    bool
	Measure   Measurement
	DeviceDir string
	Seed      uint64
	Agent     agent.Options // which agent and library to deploy
}

// BenchResult is one model measured on one device.
type BenchResult struct {
	Model        string       `json:"model"`
	Target       string       `json:"target"`
	Class        string       `json:"class"`
	Runtime      lut.Runtime  `json:"runtime"`
	CPUs         []int        `json:"cpus,omitempty"` // affinity it ran with
	Stats        timing.Stats `json:"stats"`
	CI           float64      `json:"median_ci95_fraction"` // half-width of the median's 95% CI, a fraction of the median
	Stop         string       `json:"stop"`                 // why timing stopped: ci, max_runs, max_time; "rounds" when the figures come from interleaved rounds
	LoadMS       float64      `json:"load_ms"`
	FirstRunMS   float64      `json:"first_run_ms"`
	PeakRSSBytes int64        `json:"peak_rss_bytes,omitempty"`
	Layers       *ORTProfile  `json:"layers,omitempty"`
	// ProviderNodes counts the model's nodes ONNX Runtime assigned to each
	// execution provider; Runtime.Provider is the one it actually ran on.
	ProviderNodes map[string]int `json:"provider_nodes,omitempty"`
	Warnings      []string       `json:"warnings,omitempty"`
}

// profileRuns is how many runs the --layers pass profiles: enough for a
// median per node, few enough to keep the trace small.
const profileRuns = 20

// Bench measures the ONNX model at path on t with edgefit-agent, with the
// same discipline as [Run] (warm-up, runs until the median's confidence
// interval is tight or a cap is reached).
func Bench(ctx context.Context, t devices.Target, model string, bo BenchOptions) (*BenchResult, error) {
	fi, err := os.Stat(model)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("model %s is not a file", model)
	}
	o := Options{Batch: bo.Batch, Threads: bo.Threads, Provider: bo.Provider, CPUAffinity: bo.CPUAffinity,
		Measure: bo.Measure, DeviceDir: bo.DeviceDir, Seed: bo.Seed, Agent: bo.Agent, Runner: RunnerAgent, Space: "ofa-mbv3-w1.0"}
	if _, err := o.validateStatic(); err != nil {
		return nil, err
	}
	fp, err := devices.Probe(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", t.Name(), err)
	}
	class, warnings, err := resolveDefaults(ctx, t, fp, &o)
	if err != nil {
		return nil, err
	}
	if o.Runner != RunnerAgent {
		return nil, fmt.Errorf("bench measures with edgefit-agent only; %s is not supported here", o.Runner)
	}
	r, err := startAgent(ctx, t, &o)
	if err != nil {
		var re *RuntimeError
		if errors.As(err, &re) || ctx.Err() != nil {
			return nil, err
		}
		return nil, &RuntimeError{Target: t.Name(), Runner: RunnerAgent, Err: err}
	}
	defer r.Close(context.WithoutCancel(ctx))

	models := []runModel{{Name: "model.onnx", Path: model}}
	specs := []wire.ModelSpec{r.spec}
	if bo.Layers {
		models = append(models, models[0])
		prof := r.spec
		// The agent runs once untimed first, which the parser skips.
		prof.Warmup, prof.Runs, prof.MinRuns, prof.MaxRuns, prof.TargetCI, prof.MaxSeconds = 0, profileRuns, 0, 0, 0, 0
		prof.Profile, prof.SampleMS = true, 0
		specs = append(specs, prof)
	}
	res, err := r.run(ctx, models, specs)
	if err != nil {
		if isNoSpace(err) {
			return nil, &DeviceFullError{Target: t.Name(), Where: "the model", Err: err}
		}
		return nil, err
	}
	w := res[0]
	out := &BenchResult{Model: model, Target: t.Name(), Class: class, CPUs: w.CPUs, Stats: w.Stats, CI: w.Stats.CI95,
		Stop: w.Stop, LoadMS: w.LoadMS, FirstRunMS: w.FirstRunMS, PeakRSSBytes: w.PeakRSSBytes, Warnings: warnings,
		Runtime:       lut.Runtime{Name: "onnxruntime", Version: r.agent.Info.ORTVersion, Provider: o.Provider, Threads: o.Threads, Batch: o.Batch},
		ProviderNodes: w.ProviderNodes}
	if w.Provider != "" && ortlib.ProviderKey(w.Provider) != o.Provider {
		out.Runtime.Provider = ortlib.ProviderKey(w.Provider)
		out.Warnings = append(out.Warnings, fmt.Sprintf("ONNX Runtime ran every node on %s: --ep %s took none of this model's nodes", w.Provider, o.Provider))
	}
	if r.rounds > 1 {
		// As in Run: time the model again in interleaved rounds and keep
		// the samples near its fastest, so that a burst of stolen CPU
		// during one stretch of runs does not become the headline figure.
		// The single run above still gives load, first-run and memory.
		rr, err := r.measureRounds(ctx, models[:1])
		if err != nil {
			return nil, err
		}
		out.Stats, out.CI, out.Stop = rr[0].Stats, rr[0].Stats.CI95, "rounds"
	}
	if bo.Layers {
		if res[1].ProfileFile == "" {
			return nil, fmt.Errorf("the agent on %s wrote no ONNX Runtime profile", t.Name())
		}
		tmp, release, err := scratch.Dir("edgefit-profile-")
		if err != nil {
			return nil, err
		}
		defer release()
		local := filepath.Join(tmp, "profile.json")
		if err := t.Pull(ctx, res[1].ProfileFile, local); err != nil {
			return nil, fmt.Errorf("pull profile from %s: %w", t.Name(), err)
		}
		f, err := os.Open(local)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if out.Layers, err = ParseORTProfile(f); err != nil {
			return nil, fmt.Errorf("profile of %s on %s: %w", model, t.Name(), err)
		}
	}
	return out, nil
}
