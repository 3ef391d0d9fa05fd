package cmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/profiler"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
)

func init() { register(newRunCommand) }

// runOptions are the flags of 'edgefit run'.
type runOptions struct {
	prof       profileOptions
	sel        selectOptions
	Checkpoint string
	LUT        string
	CacheDir   string
	OutDir     string
	Retries    int
	// latencyScale multiplies every latency prediction; tests use it to
	// stand for a predictor that is wrong about the device.
	latencyScale float64
}

func newRunCommand(g *globalOptions) *cobra.Command {
	o := runOptions{Retries: 2}
	c := &cobra.Command{
		Use:   "run TARGET --max-latency 20ms -o OUTDIR",
		Short: "From a device to a deployable model: profile, fit, select, export, measure, report",
		Long: `run chains the whole pipeline on TARGET (local, ssh://user@host[:port] or adb://SERIAL):

  1. probe the device and profile its latency lookup table, or reuse a cached
     table whose device fingerprint and settings match (resumable, like 'profile');
  2. fit the latency predictor, with held-out checks and whole-subnet calibration;
  3. search the subnet with the best accuracy within the limits, and the Pareto front;
  4. export it as ONNX (from --checkpoint, or untrained seeded weights that are
     faithful in latency only) and check it against edgefit's forward pass;
  5. measure the exported model on the device and compare with the prediction;
     if it misses --max-latency, select again under a tighter limit (at most
     --retries times) and say so;
  6. write OUTDIR/report.md with the fingerprint, settings, predictor metrics,
     Pareto front (plot beside it) and the chosen subnet.

Without --acc the search ranks subnets by a MACs proxy, labelled as such
everywhere: give OFA's accuracy predictor or your own measured samples for real
accuracies.`,
		Example: `  edgefit run local --max-latency 15ms -o out/
  edgefit run ssh://pi@raspberrypi.local --checkpoint ofa_mbv3_d234_e346_k357_w1.0 \
      --acc samples.csv --max-latency 80ms --max-memory 60MB -o pi4/
  edgefit run adb:// --space ofa-mbv3-w1.2 --acc acc_predictor.pth --max-latency 25ms -o phone/`,
		Args: argsExactly("TARGET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd.Context(), g, &o, args[0])
		},
	}
	f := c.Flags()
	// The profiling flags are profile's, less those run sets itself.
	pf := pflag.NewFlagSet("profile", pflag.ContinueOnError)
	o.prof.AddFlags(pf)
	pf.VisitAll(func(fl *pflag.Flag) {
		switch fl.Name {
		case "output", "dry-run", "seed":
		default:
			f.AddFlag(fl)
		}
	})
	// The search flags are select's, less --res: run searches the
	// resolutions it profiled (and those between them).
	sf := pflag.NewFlagSet("select", pflag.ContinueOnError)
	o.sel.AddFlags(sf)
	sf.VisitAll(func(fl *pflag.Flag) {
		if fl.Name != "res" {
			f.AddFlag(fl)
		}
	})
	f.StringVar(&o.Checkpoint, "checkpoint", "", "OFA supernet checkpoint to cut the subnet from (default: untrained seeded weights, latency-faithful only)")
	f.StringVar(&o.LUT, "lut", "", "use this lookup table instead of profiling (it must be for the same space)")
	f.StringVar(&o.CacheDir, "cache", "", "where measured tables are cached by device fingerprint and settings (default ~/.cache/edgefit/luts)")
	f.StringVarP(&o.OutDir, "output", "o", "", "directory for the model, predictor, front, plot and report")
	f.IntVar(&o.Retries, "retries", 2, "how many tighter selections to try when the measured latency misses --max-latency")
	f.Float64Var(&o.latencyScale, "latency-scale", 1, "multiply latency predictions by this factor (for testing the re-selection)")
	_ = f.MarkHidden("latency-scale")
	return c
}

// attempt is one select-export-measure round of 'edgefit run'.
type attempt struct {
	Limits      search.Limits    `json:"limits"`
	Chosen      search.Candidate `json:"chosen"`
	MeasuredMS  float64          `json:"measured_ms"`
	MeasuredP90 float64          `json:"measured_p90_ms"`
	PeakRSS     int64            `json:"measured_peak_rss_bytes,omitempty"`
	Met         bool             `json:"met"`
}

// runReport is what 'edgefit run' prints with --json and writes as report.json.
type runReport struct {
	Target         string                `json:"target"`
	Fingerprint    *devices.Fingerprint  `json:"fingerprint"`
	Space          string                `json:"space"`
	Runtime        profiler.Runtime      `json:"runtime"`
	LUT            string                `json:"lut"`
	LUTReused      bool                  `json:"lut_reused"`
	LUTSummary     profiler.Summary      `json:"lut_summary"`
	Predictor      string                `json:"predictor"`
	Fit            *predictor.FitReport  `json:"fit"`
	Limits         search.Limits         `json:"limits"`
	AccuracySource string                `json:"accuracy_source"`
	AccuracyProxy  bool                  `json:"accuracy_is_proxy"`
	Untrained      bool                  `json:"untrained"`
	Checkpoint     string                `json:"checkpoint,omitempty"`
	Attempts       []attempt             `json:"attempts"`
	Front          []search.Candidate    `json:"front,omitempty"`
	Model          string                `json:"model"`
	VerifyDiff     float64               `json:"verify_max_abs_diff"`
	Files          map[string]string     `json:"files"`
	Search         map[string]any        `json:"search"`
	Warnings       []string              `json:"warnings,omitempty"`
	WallSeconds    float64               `json:"wall_seconds"`
	Bench          *profiler.BenchResult `json:"bench"`
}

// scaledLatency multiplies another model's predictions.
type scaledLatency struct {
	*predictor.LatencyPredictor
	scale float64
}

func (s scaledLatency) LatencyMS(c supernet.Config) float64 {
	return s.scale * s.LatencyPredictor.LatencyMS(c)
}

func runRun(ctx context.Context, g *globalOptions, o *runOptions, target string) error {
	start := time.Now()
	log := g.logger()
	if o.OutDir == "" {
		return usageErrorf("-o is required: name the output directory")
	}
	lim, err := o.sel.limits.parse()
	if err != nil {
		return err
	}
	if _, err := o.sel.searchOptions(g); err != nil {
		return err
	}
	if o.Retries < 0 {
		return usageErrorf("--retries must be 0 or more")
	}
	// The space: the checkpoint's, else --space, else w1.0.
	var ck *supernet.Checkpoint
	spaceName := o.prof.Space
	if o.Checkpoint != "" {
		if ck, err = supernet.LoadCheckpoint(o.Checkpoint); err != nil {
			return withHint(err, "pass an OFA MobileNetV3 supernet ('edgefit fetch ofa-mbv3-w1.0' downloads one)")
		}
		if spaceName != "" && spaceName != ck.Space.Name {
			return usageErrorf("--space %s disagrees with checkpoint %s, which is %s", spaceName, o.Checkpoint, ck.Space.Name)
		}
		spaceName = ck.Space.Name
	}
	if spaceName == "" {
		spaceName = "ofa-mbv3-w1.0"
	}
	space, err := supernet.SpaceByName(spaceName)
	if err != nil {
		return usageErrorf("--space: %v", err)
	}
	o.prof.Space = space.Name
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	status := func(format string, args ...any) { fmt.Fprintf(g.io.Err, "edgefit: "+format+"\n", args...) }

	t, err := o.prof.target.open(ctx, g, target)
	if err != nil {
		return err
	}
	defer t.Close()
	rep := &runReport{Target: target, Space: space.Name, Limits: lim, Files: map[string]string{}, Untrained: ck == nil}
	if ck != nil {
		rep.Checkpoint = o.Checkpoint
	}

	// 1. The lookup table.
	lut, lutPath, reused, fp, err := o.table(ctx, g, t, status)
	if err != nil {
		return err
	}
	rep.Fingerprint, rep.LUT, rep.LUTReused, rep.LUTSummary, rep.Runtime = fp, lutPath, reused, profiler.Summarize(lut), lut.Runtime
	local := filepath.Join(o.OutDir, "device.lut.json")
	if lutPath != local {
		if err := lut.WriteFile(local); err != nil {
			return err
		}
	}
	rep.Files["lut"] = local

	// 2. The latency predictor.
	status("fitting the latency predictor on %d layer entries and %d whole subnets", len(lut.Entries), len(lut.Networks))
	lat, fit, err := predictor.Fit(lut, predictor.FitOptions{Space: space.Name})
	if err != nil {
		return fmt.Errorf("fit latency predictor: %w", err)
	}
	predPath := filepath.Join(o.OutDir, "device.pred.json")
	if err := lat.Save(predPath); err != nil {
		return err
	}
	rep.Predictor, rep.Fit, rep.Files["predictor"] = predPath, fit, predPath
	var latModel predictor.LatencyModel = lat
	if o.latencyScale != 1 {
		latModel = scaledLatency{lat, o.latencyScale}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("latency predictions scaled by %g (--latency-scale)", o.latencyScale))
	}

	// Search only between the resolutions measured: the predictor
	// interpolates well there, extrapolation is less certain.
	if rs := lut.Resolutions(); len(rs) > 0 {
		o.sel.Res = nil
		for _, r := range space.Resolutions {
			if r >= rs[0] && r <= rs[len(rs)-1] {
				o.sel.Res = append(o.sel.Res, r)
			}
		}
		for _, r := range rs {
			if !slices.Contains(o.sel.Res, r) {
				o.sel.Res = append(o.sel.Res, r)
			}
		}
		slices.Sort(o.sel.Res)
	}

	// 3-5. Select, export, measure; tighten while the device disagrees.
	bo := profiler.BenchOptions{Threads: lut.Runtime.Threads, Provider: lut.Runtime.Provider, CPUAffinity: o.prof.Affinity,
		Measure: o.prof.measurement(), DeviceDir: o.prof.DeviceDir, Agent: o.prof.target.agentOptions(log)}
	modelPath := filepath.Join(o.OutDir, "model.onnx")
	cur := lim
	var sel *selection
	var net *supernet.Net
	for round := 0; ; round++ {
		status("searching %s under %s", space.Name, cur)
		sel, err = selectSubnets(ctx, g, space, latModel, predPath, o.sel, cur)
		if err != nil {
			return err
		}
		best := sel.Top[0]
		if net, err = buildNet(space, ck, best.Config); err != nil {
			return err
		}
		meta := export.Metadata{ToolVersion: version(), Predictions: map[string]string{
			"latency_ms":        strconv.FormatFloat(best.LatencyMS, 'f', 4, 64),
			"accuracy":          strconv.FormatFloat(best.Accuracy, 'f', 5, 64),
			"accuracy_source":   sel.AccuracySource,
			"macs":              strconv.FormatInt(best.MACs, 10),
			"params":            strconv.FormatInt(best.Params, 10),
			"peak_memory_bytes": strconv.FormatInt(best.PeakMemory, 10),
			"target":            target,
		}}
		if ck != nil {
			meta.CheckpointSHA256 = ck.SHA256
		}
		if err := export.WriteFile(modelPath, net, meta); err != nil {
			return err
		}
		status("measuring the exported model on %s", target)
		br, err := profiler.Bench(ctx, t, modelPath, bo)
		if err != nil {
			return profileError(fmt.Errorf("measure %s on %s: %w", modelPath, target, err))
		}
		rep.Bench = br
		a := attempt{Limits: cur, Chosen: best, MeasuredMS: br.Stats.Median, MeasuredP90: br.Stats.P90, PeakRSS: br.PeakRSSBytes}
		a.Met = lim.MaxLatencyMS == 0 || a.MeasuredMS <= lim.MaxLatencyMS
		rep.Attempts = append(rep.Attempts, a)
		status("predicted %.2f ms, measured %.2f ms (median of %d runs)", best.LatencyMS, a.MeasuredMS, br.Stats.N)
		if a.Met || round >= o.Retries {
			break
		}
		// The device ran the choice M/P times slower than predicted:
		// ask the predictor for lim·P/M (2% margin), and never less
		// tight than this round.
		next := cur
		next.MaxLatencyMS = 0.98 * min(cur.MaxLatencyMS, lim.MaxLatencyMS*best.LatencyMS/a.MeasuredMS)
		status("measured %.2f ms misses the %.2f ms limit: selecting again under %.2f ms (retry %d of %d)",
			a.MeasuredMS, lim.MaxLatencyMS, next.MaxLatencyMS, round+1, o.Retries)
		cur = next
	}
	rep.Model, rep.Files["model"] = modelPath, modelPath
	rep.AccuracySource, rep.AccuracyProxy, rep.Front = sel.AccuracySource, sel.AccuracyProxy, sel.Front
	rep.Search = map[string]any{"candidates_scored": sel.Scored, "wall_ms": sel.WallMS, "generations": sel.Generations, "seed": o.sel.Seed, "method": o.sel.Method}

	// The model must compute what the subnet computes.
	d, err := export.VerifyFile(ctx, modelPath, net, export.VerifyInput(net.Config.R))
	if err != nil {
		return fmt.Errorf("check %s with ONNX Runtime: %w", modelPath, err)
	}
	rep.VerifyDiff = d
	if err := writeFileWith(filepath.Join(o.OutDir, "subnet.json"), func(f *os.File) error {
		_, err := f.WriteString(net.Config.String() + "\n")
		return err
	}); err != nil {
		return err
	}
	rep.Files["config"] = filepath.Join(o.OutDir, "subnet.json")
	frontPaths, err := sel.writeFront(filepath.Join(o.OutDir, "pareto"), o.sel.Memory)
	if err != nil {
		return err
	}
	for _, p := range frontPaths {
		rep.Files[filepath.Ext(p)[1:]+"_front"] = p
	}
	rep.WallSeconds = time.Since(start).Seconds()
	if err := writeReport(o.OutDir, rep); err != nil {
		return err
	}
	last := rep.Attempts[len(rep.Attempts)-1]
	var result error
	if !last.Met {
		result = withCode(withHint(fmt.Errorf("the exported model measured %.2f ms on %s, over the %.2f ms limit, after %d selection(s)",
			last.MeasuredMS, target, lim.MaxLatencyMS, len(rep.Attempts)),
			"everything is written to "+o.OutDir+"; lower --max-latency, raise --retries, or profile more whole subnets (--networks) to calibrate the predictor"), ExitMismatch)
	}
	if g.JSON {
		if err := writeJSON(g.io.Out, rep); err != nil {
			return err
		}
		return result
	}
	printRunSummary(g, rep)
	return result
}

// buildNet cuts c out of the checkpoint, or initializes it with seeded
// weights when there is none.
func buildNet(space *supernet.Space, ck *supernet.Checkpoint, c supernet.Config) (*supernet.Net, error) {
	if ck == nil {
		return supernet.Init(space, c, 1), nil
	}
	net, err := supernet.Extract(ck, c)
	if err != nil {
		return nil, fmt.Errorf("extract subnet: %w", err)
	}
	return net, nil
}

// table returns the device's lookup table: --lut, a cached table whose
// fingerprint and settings match, or a new (resumable) profile.
func (o *runOptions) table(ctx context.Context, g *globalOptions, t devices.Target, status func(string, ...any)) (*profiler.LUT, string, bool, *devices.Fingerprint, error) {
	if o.LUT != "" {
		lut, err := profiler.LoadLUT(o.LUT)
		if err != nil {
			return nil, "", false, nil, err
		}
		if lut.Space != o.prof.Space {
			return nil, "", false, nil, usageErrorf("--lut %s is for %s, not %s", o.LUT, lut.Space, o.prof.Space)
		}
		fp, err := devices.Probe(ctx, t)
		if err != nil {
			return nil, "", false, nil, fmt.Errorf("probe %s: %w", t.Name(), err)
		}
		status("using lookup table %s (%d entries)", o.LUT, len(lut.Entries))
		return lut, o.LUT, true, fp, nil
	}
	popts := o.prof.profilerOptions(g.logger())
	plan, err := profiler.NewPlan(ctx, t, popts)
	if err != nil {
		return nil, "", false, nil, profileError(err)
	}
	dir := o.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, "", false, nil, fmt.Errorf("find a cache directory (pass --cache): %w", err)
		}
		dir = filepath.Join(base, "edgefit", "luts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", false, nil, fmt.Errorf("create table cache: %w", err)
	}
	path := filepath.Join(dir, tableKey(plan)+".lut.json")
	if lut, err := profiler.LoadLUT(path); err == nil {
		status("reusing the lookup table measured earlier on this device with these settings: %s", path)
		return lut, path, true, plan.Fingerprint, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		status("cached table %s is unusable (%v): measuring again", path, err)
	}
	popts.Journal = profiler.JournalPath(path)
	if plan, err = profiler.NewPlan(ctx, t, popts); err != nil {
		return nil, "", false, nil, profileError(err)
	}
	total := plan.Entries + plan.NetworksAll
	status("profiling %s (%s class): %d layer entries + %d whole subnets at %s; journal %s",
		plan.Target, plan.Class, plan.Entries, plan.NetworksAll, joinIntList(plan.Options.Resolutions), popts.Journal)
	if plan.Done > 0 {
		status("resuming: %d of %d already measured", plan.Done, total)
	}
	bar := g.newProgress(total, "profile")
	plan.Options.Progress = func(p profiler.Progress) { bar.Set(p.Done, p.Total) }
	lut, err := plan.Execute(ctx)
	bar.Done()
	if err != nil {
		return nil, "", false, nil, profileError(err)
	}
	if err := lut.WriteFile(path); err != nil {
		return nil, "", false, nil, err
	}
	return lut, path, false, plan.Fingerprint, nil
}

// tableKey names a cached table by what its numbers depend on: the
// profiling settings and the device's stable traits (not its temperatures
// or current clocks).
func tableKey(p *profiler.Plan) string {
	type stable struct {
		Target, OS, Kernel, Arch, CPU string
		Cores                         int
		Clusters                      any
		Mem                           int64
		Android, Jetson, Runtime      any
	}
	fp := p.Fingerprint
	var st stable
	if fp != nil {
		var clusters []string
		for _, c := range fp.Clusters {
			clusters = append(clusters, fmt.Sprintf("%v@%d/%s", c.CPUs, c.MaxFreqKHz, c.Governor))
		}
		st = stable{fp.Target, fp.OS, fp.Kernel, fp.Arch, fp.CPUModel, fp.Cores, clusters, fp.MemTotalBytes, fp.Android, fp.Jetson, fp.Runtime}
	}
	b, _ := json.Marshal(struct {
		Identity profiler.Identity
		Device   stable
	}{p.Identity, st})
	sum := sha256.Sum256(b)
	return p.Identity.Space + "-" + hex.EncodeToString(sum[:8])
}

// profilerOptions turns profile's flags into profiler options.
func (o *profileOptions) profilerOptions(log *slog.Logger) profiler.Options {
	return profiler.Options{
		Space: o.Space, Resolutions: o.Res, Batch: o.Batch, Threads: o.Threads, Provider: o.EP, Runner: o.Runner,
		CPUAffinity: o.Affinity, Networks: o.Networks, Seed: o.Seed, BatchModels: o.BatchModels,
		Measure: o.measurement(), Agent: o.target.agentOptions(log), DeviceDir: o.DeviceDir, Restart: o.Restart,
		Logger: log, Tool: version(),
	}
}

// measurement turns profile's timing flags into the profiler's discipline.
func (o *profileOptions) measurement() profiler.Measurement {
	m := profiler.Measurement{Warmup: o.Warmup, MinRuns: o.MinRuns, MaxRuns: o.MaxRuns, TargetCI: o.TargetCI / 100,
		MaxTime: o.MaxTime, DriftThreshold: o.Drift / 100, MaxCooldown: o.MaxCooldown, Rounds: o.Rounds, SampleMS: o.SampleMS}
	if o.SampleMS == 0 {
		m.SampleMS = -1 // one run per sample (0 would take the default)
	}
	if o.Warmup == 0 {
		m.Warmup = -1 // none (0 would take the default)
	}
	if o.MaxCooldown == 0 {
		m.MaxCooldown = -1
	}
	return m
}
