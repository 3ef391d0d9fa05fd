package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/edgefit/edgefit/profiler"
	"github.com/edgefit/edgefit/profiler/lut"
)

func init() { register(newProfileCommand) }

// profileOptions are the flags of 'edgefit profile'.
type profileOptions struct {
	target      targetOptions
	Space       string
	Res         []int
	Batch       int
	Threads     int
	EP          string
	Runner      string
	Affinity    string
	Networks    int
	Seed        uint64
	Output      string
	Restart     bool
	DryRun      bool
	DeviceDir   string
	Warmup      int
	MinRuns     int
	MaxRuns     int
	TargetCI    float64 // percent
	MaxTime     time.Duration
	SampleMS    float64
	Drift       float64 // percent
	MaxCooldown time.Duration
	BatchModels int
	Rounds      int
}

func (o *profileOptions) AddFlags(f *pflag.FlagSet) {
	o.target.AddFlags(f)
	f.StringVar(&o.Space, "space", "", "search space to profile: ofa-mbv3-w1.0 or ofa-mbv3-w1.2 (required)")
	f.IntSliceVar(&o.Res, "res", profiler.DefaultResolutions(), "input resolutions to profile")
	f.IntVar(&o.Batch, "batch", 1, "batch size of every measurement")
	f.IntVar(&o.Threads, "threads", 0, "intra-op threads (default 1 for every class)")
	f.StringVar(&o.EP, "ep", "", "execution provider: "+strings.Join(profiler.Providers(), ", ")+" (default: cpu; cuda on GPU targets)")
	f.StringVar(&o.Runner, "runner", "", "what measures: "+strings.Join(profiler.Runners(), ", ")+" (default agent; trtexec on GPU targets that have it)")
	f.StringVar(&o.Affinity, "affinity", "", `taskset mask to pin to, e.g. f0 (default: one core per thread, the last of the fastest cluster; "none" to not pin)`)
	f.IntVar(&o.Networks, "networks", profiler.DefaultNetworks, "random whole subnets measured per resolution, to calibrate the table's sums")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the subnets, the measuring order and the weights")
	f.StringVarP(&o.Output, "output", "o", "", "lookup table to write (DEVICE.lut.json); its journal is DEVICE.lut.json.journal")
	f.BoolVar(&o.Restart, "restart", false, "set an existing journal aside (renamed, not deleted) and measure everything afresh")
	f.BoolVar(&o.DryRun, "dry-run", false, "probe the device and print the plan without measuring")
	f.StringVar(&o.DeviceDir, "device-dir", "", "directory on the device for the models being measured (default: its temporary directory)")
	f.IntVar(&o.Warmup, "warmup", 5, "untimed runs before timing each model")
	f.IntVar(&o.MinRuns, "min-runs", 10, "timed runs per model at least")
	f.IntVar(&o.MaxRuns, "max-runs", 200, "timed runs per model at most")
	f.Float64Var(&o.TargetCI, "target-ci", 2, "stop timing a model once the 95% confidence interval of its median is within this many percent")
	f.DurationVar(&o.MaxTime, "max-time", 2*time.Second, "timed running per model at most")
	f.Float64Var(&o.SampleMS, "sample-ms", 2, "each timed sample averages back-to-back runs lasting about this many ms (0 = one run per sample)")
	f.Float64Var(&o.Drift, "drift", 3, "re-measure a batch when the reference moved more than this many percent")
	f.DurationVar(&o.MaxCooldown, "max-cooldown", time.Minute, "longest wait for the device to cool back to its starting temperature (0 = never wait)")
	f.IntVar(&o.BatchModels, "batch-models", 48, "models pushed and measured per agent invocation")
	f.IntVar(&o.Rounds, "rounds", 0, "spread each model's timed runs over its batch in this many rounds and keep its undisturbed samples, for shared machines whose vCPU is taken away now and then (default 4, or 1 where --max-runs is below 12; 1 = time each model at once)")
}

func newProfileCommand(g *globalOptions) *cobra.Command {
	var o profileOptions
	c := &cobra.Command{
		Use:   "profile TARGET --space SPACE -o DEVICE.lut.json",
		Short: "Measure a device's per-layer latency lookup table and whole subnets",
		Long: `profile measures, on TARGET (local, ssh://user@host[:port] or adb://SERIAL), every
distinct layer of the OFA MobileNetV3 space at each resolution (96 per resolution,
keyed the way OFA's lookup tables are) and --networks random whole subnets per
resolution, and writes them as a lookup table.

Measurement: edgefit-agent runs each model with ONNX Runtime: --warmup untimed runs,
then timed samples (each the mean of back-to-back runs lasting about --sample-ms) until
the 95% confidence interval of the median is within --target-ci percent, or --max-runs
or --max-time is reached. The device is pinned to one core per thread (the last of its
fastest cluster) unless --affinity says otherwise. Models are measured in a
seeded random order, in batches (one agent invocation each); a reference layer is
measured before and after every batch, and a batch is measured again when it moved by
more than --drift percent (clock change, throttling, other load). Where the device
exposes temperatures, each batch waits until it is back within 2 °C of the start.

Defaults by device class (from its fingerprint):
  cpu     Linux/macOS CPU     threads 1, ep cpu, runner agent, pinned to the last core
                              of the fastest cluster
  mobile  Android             threads 1, ep cpu, runner agent, pinned to the last core
                              of the big cluster
  gpu     Jetson, --ep cuda   threads 1, ep cuda (tensorrt with trtexec), runner
          or tensorrt         trtexec when the device has it, else agent
Batch is 1 everywhere.

Every finished batch is appended to DEVICE.lut.json.journal and synced. Rerun the same
command after an interruption (Ctrl-C, lost connection, crash) to continue where it
stopped: nothing measured is measured again. Changing a setting refuses to mix numbers:
use another -o, or --restart. The table is written, atomically, at the end.`,
		Example: `  edgefit profile local --space ofa-mbv3-w1.0 -o local.lut.json
  edgefit profile ssh://pi@raspberrypi.local --space ofa-mbv3-w1.0 --res 160,224 --networks 50 -o pi4.lut.json
  edgefit profile adb:// --space ofa-mbv3-w1.2 --affinity f0 -o pixel.lut.json
  edgefit profile ssh://nvidia@jetson --space ofa-mbv3-w1.0 --ep cuda --device-ort-lib /opt/ort/lib/libonnxruntime.so -o orin.lut.json`,
		Args: argsExactly("TARGET"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProfile(cmd, g, &o, args[0])
		},
	}
	o.AddFlags(c.Flags())
	return c
}

// verifyProfileOptions checks the flags before anything is contacted.
func verifyProfileOptions(o *profileOptions) error {
	switch {
	case o.Space == "":
		return usageErrorf("--space is required: ofa-mbv3-w1.0 or ofa-mbv3-w1.2")
	case o.Output == "" && !o.DryRun:
		return usageErrorf("-o is required: name the lookup table to write, e.g. -o device.lut.json")
	case o.Batch < 1:
		return usageErrorf("--batch must be at least 1 (got %d)", o.Batch)
	case o.Threads < 0:
		return usageErrorf("--threads must not be negative (got %d)", o.Threads)
	case o.Networks < 0:
		return usageErrorf("--networks must not be negative (got %d)", o.Networks)
	case o.TargetCI <= 0 || o.TargetCI >= 100:
		return usageErrorf("--target-ci is a percentage in (0, 100), e.g. 2 (got %v)", o.TargetCI)
	case o.Drift <= 0 || o.Drift >= 100:
		return usageErrorf("--drift is a percentage in (0, 100), e.g. 3 (got %v)", o.Drift)
	case o.MinRuns < 5:
		return usageErrorf("--min-runs must be at least 5, the fewest that bound a median (got %d)", o.MinRuns)
	case o.MaxRuns < o.MinRuns:
		return usageErrorf("--max-runs %d is below --min-runs %d", o.MaxRuns, o.MinRuns)
	case o.MaxTime <= 0:
		return usageErrorf("--max-time must be positive (got %v)", o.MaxTime)
	case o.SampleMS < 0 || o.SampleMS > 1000:
		return usageErrorf("--sample-ms must be 0..1000 (got %v)", o.SampleMS)
	case o.BatchModels < 1:
		return usageErrorf("--batch-models must be at least 1 (got %d)", o.BatchModels)
	}
	for _, r := range o.Res {
		if r < 32 || r > 1024 {
			return usageErrorf("--res %d is outside 32..1024", r)
		}
	}
	if o.Output != "" {
		dir := filepath.Dir(o.Output)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return usageErrorf("-o %s: directory %s does not exist", o.Output, dir)
		}
		if fi, err := os.Stat(o.Output); err == nil && fi.IsDir() {
			return usageErrorf("-o %s is a directory; name a file such as %s", o.Output, filepath.Join(o.Output, "device.lut.json"))
		}
	}
	return nil
}

// profileSummary is what 'edgefit profile' reports.
type profileSummary struct {
	lut.Summary
	Output      string   `json:"output"`
	Journal     string   `json:"journal"`
	Class       string   `json:"class"`
	Measured    int      `json:"measured"` // models measured by this run
	Resumed     int      `json:"resumed"`  // taken from the journal
	WallSeconds float64  `json:"wall_seconds"`
	Remeasured  int      `json:"remeasured_batches"`
	Rebaselined int      `json:"rebaselined"`
	DriftNoise  float64  `json:"drift_noise"` // the reference's session-to-session noise
	Warnings    []string `json:"warnings,omitempty"`
}

func runProfile(cmd *cobra.Command, g *globalOptions, o *profileOptions, target string) error {
	if err := verifyProfileOptions(o); err != nil {
		return err
	}
	ctx := cmd.Context()
	log := g.logger()
	popts := o.profilerOptions(log)
	if o.Output != "" {
		popts.Journal = profiler.JournalPath(o.Output)
	}
	t, err := o.target.open(ctx, g, target)
	if err != nil {
		return err
	}
	defer t.Close()

	plan, err := profiler.NewPlan(ctx, t, popts)
	if err != nil {
		return profileError(err)
	}
	po := plan.Options
	total := plan.Entries + plan.NetworksAll
	fmt.Fprintf(g.io.Err, "profiling %s (%s class): %s at %s, %d layer entries + %d networks; %s, %d thread(s), batch %d, runner %s, affinity %s\n",
		plan.Target, plan.Class, po.Space, joinIntList(po.Resolutions), plan.Entries, plan.NetworksAll, po.Provider, po.Threads, po.Batch, po.Runner, po.CPUAffinity)
	if plan.Done > 0 {
		fmt.Fprintf(g.io.Err, "resuming %s: %d of %d already measured\n", popts.Journal, plan.Done, total)
	}
	for _, w := range plan.Warnings {
		log.Warn(w)
	}
	if o.DryRun {
		if g.JSON {
			return writeJSON(g.io.Out, map[string]any{"target": plan.Target, "class": plan.Class, "identity": plan.Identity,
				"entries": plan.Entries, "networks": plan.NetworksAll, "done": plan.Done, "remaining": plan.Remaining(),
				"reference": plan.Reference, "warnings": plan.Warnings})
		}
		fmt.Fprintf(g.io.Out, "would measure %d models (%d already in the journal); drift reference %s\n", plan.Remaining(), plan.Done, plan.Reference)
		return nil
	}

	start := time.Now()
	bar := g.newProgress(total, "profile")
	lastLine := time.Time{}
	plan.Options.Progress = func(p profiler.Progress) {
		if bar.plain {
			// Plain lines for logs: at most one every 10 s, plus the last.
			if p.Done == p.Total || time.Since(lastLine) >= 10*time.Second {
				lastLine = time.Now()
				eta := "estimating"
				if p.Done == p.Total {
					eta = "done"
				} else if p.ETA > 0 {
					eta = "about " + p.ETA.Round(time.Second).String() + " left"
				}
				fmt.Fprintf(g.io.Err, "profile: %d/%d models, %s elapsed, %s\n", p.Done, p.Total, p.Elapsed.Round(time.Second), eta)
			}
			return
		}
		bar.Set(p.Done, p.Total)
	}
	tbl, err := plan.Execute(ctx)
	bar.Done()
	if err != nil {
		return profileError(err)
	}
	if err := tbl.WriteFile(o.Output); err != nil {
		return withHint(err, "the measurements are safe in "+popts.Journal+": rerun the same command to write the table")
	}
	s := profileSummary{Summary: tbl.Summary(), Output: o.Output, Journal: popts.Journal, Class: plan.Class,
		Measured: plan.Remaining(), Resumed: plan.Done, WallSeconds: time.Since(start).Seconds(),
		Remeasured: plan.Remeasured, Rebaselined: plan.Rebaselined, DriftNoise: plan.DriftNoise, Warnings: plan.Warnings}
	if g.JSON {
		return writeJSON(g.io.Out, s)
	}
	return writeKV(g.io.Out, [][]string{
		{"table", s.Output},
		{"journal", s.Journal},
		{"space", s.Space},
		{"target", fmt.Sprintf("%s (%s)", s.Target, s.Class)},
		{"runtime", fmt.Sprintf("%s %s, %s, %d thread(s), batch %d", s.Runtime.Name, s.Runtime.Version, s.Runtime.Provider, s.Runtime.Threads, s.Runtime.Batch)},
		{"resolutions", joinIntList(s.Resolutions)},
		{"entries", strconv.Itoa(s.Entries)},
		{"networks", strconv.Itoa(s.Networks)},
		{"measured now", fmt.Sprintf("%d (%d from the journal)", s.Measured, s.Resumed)},
		{"wall time", (time.Duration(s.WallSeconds * float64(time.Second))).Round(time.Second).String()},
		{"median CoV", fmt.Sprintf("%.2f%%", 100*s.MedianCoV)},
		{"median runs", fmt.Sprintf("%.0f", s.MedianRuns)},
		{"drift", fmt.Sprintf("%d batch(es) measured again, %d kept drifted; reference noise %.1f%% per session", s.Remeasured, s.Rebaselined, 100*s.DriftNoise)},
	})
}

// profileError attaches the profiler's own hints (journal, settings, full
// disk, runtime) to err.
func profileError(err error) error {
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		return withHint(err, h.Hint())
	}
	return err
}

func joinIntList(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// argsExactly accepts exactly the named positional arguments, reporting
// anything else as a usage error (exit code 2) that names them.
func argsExactly(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return withHint(usageErrorf("%s takes %d argument(s), %s; got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args)),
				fmt.Sprintf("see '%s --help'", cmd.CommandPath()))
		}
		return nil
	}
}

// argsAtLeast accepts one or more of the named argument.
func argsAtLeast(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return withHint(usageErrorf("%s needs at least one %s", cmd.CommandPath(), name), fmt.Sprintf("see '%s --help'", cmd.CommandPath()))
		}
		return nil
	}
}
