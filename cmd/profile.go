package cmd

import (
	"encoding/json"
	"fmt"
	"log/slog"
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
	target targetOptions
	runtimeFlags
	Space       string
	Res         []int
	Runner      string
	Networks    int
	Seed        uint64
	Output      string
	Restart     bool
	DryRun      bool
	measure     measureFlags
	BatchModels int
}

func (o *profileOptions) AddFlags(f *pflag.FlagSet) {
	o.target.AddFlags(f)
	o.runtimeFlags.AddFlags(f)
	f.StringVar(&o.Space, "space", "", "search space to profile: ofa-mbv3-w1.0 or ofa-mbv3-w1.2 (required)")
	f.IntSliceVar(&o.Res, "res", profiler.DefaultResolutions(), "input resolutions to profile")
	f.StringVar(&o.Runner, "runner", "", "what measures: "+strings.Join(profiler.Runners(), ", ")+" (default agent; trtexec on GPU targets that have it)")
	f.IntVar(&o.Networks, "networks", profiler.DefaultNetworks, "random whole subnets measured per resolution, to calibrate the table's sums")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the subnets, the measuring order and the weights")
	f.StringVarP(&o.Output, "output", "o", "", "lookup table to write (DEVICE.lut.json); its journal is DEVICE.lut.json.journal")
	f.BoolVar(&o.Restart, "restart", false, "set an existing journal aside (renamed, not deleted) and measure everything afresh")
	f.BoolVar(&o.DryRun, "dry-run", false, "probe the device and print the plan without measuring")
	o.measure.AddFlags(f)
	o.measure.AddDriftFlags(f)
	f.IntVar(&o.BatchModels, "batch-models", 48, "models pushed and measured per agent invocation")
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
use another -o, or --restart. The table is written, atomically, at the end; rerunning a
finished profile measures nothing and leaves the table as it is.`,
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
	}
	if err := o.verifySettings(); err != nil {
		return err
	}
	if o.Output != "" {
		// The table and its journal beside it, before anything is deployed.
		if fi, err := os.Stat(o.Output); err == nil && fi.IsDir() {
			return usageErrorf("-o %s is a directory; name a file such as %s", o.Output, filepath.Join(o.Output, "device.lut.json"))
		}
		return checkOutput("-o", o.Output)
	}
	return nil
}

// verifySettings checks the profiling settings, which 'edgefit run' shares.
func (o *profileOptions) verifySettings() error {
	if err := o.runtimeFlags.verify(); err != nil {
		return err
	}
	switch {
	case o.Networks < 0:
		return usageErrorf("--networks must not be negative (got %d)", o.Networks)
	case o.BatchModels < 1:
		return usageErrorf("--batch-models must be at least 1 (got %d)", o.BatchModels)
	}
	if err := o.measure.verify(); err != nil {
		return err
	}
	if err := o.measure.verifyDrift(); err != nil {
		return err
	}
	for _, r := range o.Res {
		if r < 32 || r > 1024 {
			return usageErrorf("--res %d is outside 32..1024", r)
		}
	}
	return nil
}

// profilerOptions turns profile's flags into profiler options.
func (o *profileOptions) profilerOptions(log *slog.Logger) profiler.Options {
	return profiler.Options{
		Space: o.Space, Resolutions: o.Res, Batch: o.Batch, Threads: o.Threads, Provider: o.EP, Runner: o.Runner,
		CPUAffinity: o.Affinity, Networks: o.Networks, Seed: o.Seed, BatchModels: o.BatchModels,
		Measure: o.measure.measurement(), Agent: o.target.agentOptions(log), DeviceDir: o.DeviceDir, Restart: o.Restart,
		Logger: log, Tool: version(),
	}
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
	Rebaselined int      `json:"rebaselined_batches"`
	DriftNoise  float64  `json:"drift_noise_fraction"` // the reference's session-to-session noise
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
		return err
	}
	if tbl := plan.Finished(o.Output); tbl != nil && !o.DryRun {
		// Nothing to measure and the table is the journal's: leave it as
		// it is rather than write it again (new fingerprints, order).
		fmt.Fprintf(g.io.Err, "%s is complete (all %d models are in %s): nothing to measure, the table is left as it is; --restart measures afresh\n",
			o.Output, plan.Done, popts.Journal)
		return printProfileSummary(g, profileSummary{Summary: tbl.Summary(), Output: o.Output, Journal: popts.Journal, Class: plan.Class,
			Resumed: plan.Done, DriftNoise: tableDriftNoise(tbl), Warnings: plan.Warnings})
	}
	announcePlan(g, plan)
	for _, w := range plan.Warnings {
		log.Warn(w)
	}
	if o.DryRun {
		return printDryRun(g, plan)
	}

	start := time.Now()
	bar := g.newProgress(plan.Entries+plan.NetworksAll, "profile")
	plan.Options.Progress = profileProgress(bar)
	tbl, err := plan.Execute(ctx)
	bar.Done()
	if err != nil {
		return err
	}
	if err := tbl.WriteFile(o.Output); err != nil {
		return withHint(err, "the measurements are safe in "+popts.Journal+": rerun the same command to write the table")
	}
	s := profileSummary{Summary: tbl.Summary(), Output: o.Output, Journal: popts.Journal, Class: plan.Class,
		Measured: plan.Remaining(), Resumed: plan.Done, WallSeconds: time.Since(start).Seconds(),
		Remeasured: plan.Remeasured, Rebaselined: plan.Rebaselined, DriftNoise: plan.DriftNoise, Warnings: plan.Warnings}
	return printProfileSummary(g, s)
}

func printProfileSummary(g *globalOptions, s profileSummary) error {
	if g.JSON {
		return writeJSON(g.io.Out, s)
	}
	return writeKV(g.io.Out, s.rows())
}

// tableDriftNoise is the drift noise a table records in its settings.
func tableDriftNoise(t *lut.LUT) float64 {
	v, _ := strconv.ParseFloat(t.Settings.Extra["drift_noise"], 64)
	return v
}

// announcePlan says on stderr what the plan will measure, and how much of it
// the journal already holds.
func announcePlan(g *globalOptions, plan *profiler.Plan) {
	po := plan.Options
	log := g.logger()
	log.Info(fmt.Sprintf("profiling %s (%s class): %s at %s, %d layer entries + %d networks; %s, %d thread(s), batch %d, runner %s, affinity %s",
		plan.Target, plan.Class, po.Space, joinIntList(po.Resolutions), plan.Entries, plan.NetworksAll, po.Provider, po.Threads, po.Batch, po.Runner, po.CPUAffinity))
	if plan.Done > 0 {
		log.Info(fmt.Sprintf("resuming %s: %d of %d already measured", po.Journal, plan.Done, plan.Entries+plan.NetworksAll))
	}
}

// printDryRun prints the plan of --dry-run.
func printDryRun(g *globalOptions, plan *profiler.Plan) error {
	if g.JSON {
		return writeJSON(g.io.Out, map[string]any{"target": plan.Target, "class": plan.Class, "identity": identityJSON(plan.Identity),
			"entries": plan.Entries, "networks": plan.NetworksAll, "done": plan.Done, "remaining": plan.Remaining(),
			"reference": plan.Reference, "warnings": plan.Warnings})
	}
	fmt.Fprintf(g.io.Out, "would measure %d models (%d already in the journal); drift reference %s\n", plan.Remaining(), plan.Done, plan.Reference)
	return nil
}

// identityJSON is the plan's identity in edgefit's JSON schema. The
// journal's own form of it stays as it is (max_time_s, target_ci): its
// digest identifies the journals already written.
func identityJSON(id profiler.Identity) map[string]any {
	var m map[string]any
	b, _ := json.Marshal(id)
	_ = json.Unmarshal(b, &m)
	if ms, ok := m["measure"].(map[string]any); ok {
		for old, cur := range map[string]string{"target_ci": "target_ci_fraction", "max_time_s": "max_time_seconds"} {
			if v, ok := ms[old]; ok {
				ms[cur] = v
				delete(ms, old)
			}
		}
	}
	return m
}

// profileProgress moves the bar on a terminal (nothing elsewhere).
func profileProgress(bar *progress) func(profiler.Progress) {
	return func(p profiler.Progress) { bar.Set(p.Done, p.Total) }
}

// rows describe the profile for a person.
func (s *profileSummary) rows() [][]string {
	return [][]string{
		{"table", s.Output},
		{"journal", s.Journal},
		{"space", s.Space},
		{"target", fmt.Sprintf("%s (%s)", s.Target, s.Class)},
		{"runtime", s.Runtime.String()},
		{"resolutions", joinIntList(s.Resolutions)},
		{"entries", strconv.Itoa(s.Entries)},
		{"networks", strconv.Itoa(s.Networks)},
		{"measured now", fmt.Sprintf("%d (%d from the journal)", s.Measured, s.Resumed)},
		{"wall time", (time.Duration(s.WallSeconds * float64(time.Second))).Round(time.Second).String()},
		{"median CoV", fmt.Sprintf("%.2f%%", 100*s.MedianCoV)},
		{"median runs", fmt.Sprintf("%.0f kept for the statistics per entry (undisturbed samples; --min-runs counts the timed ones)", s.MedianRuns)},
		{"drift", fmt.Sprintf("%d batch(es) measured again, %d kept drifted; reference noise %.1f%% per session", s.Remeasured, s.Rebaselined, 100*s.DriftNoise)},
	}
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
