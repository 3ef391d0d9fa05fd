package cmd

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit/profiler"
)

func init() { register(newBenchCommand) }

// benchOptions are the flags of 'edgefit bench'.
type benchOptions struct {
	target targetOptions
	runtimeFlags
	Layers  bool
	Top     int
	measure measureFlags
}

func newBenchCommand(g *globalOptions) *cobra.Command {
	var o benchOptions
	c := &cobra.Command{
		Use:   "bench TARGET model.onnx",
		Short: "Measure any ONNX model's latency on a device, optionally node by node",
		Long: `bench runs model.onnx on TARGET (local, ssh://user@host[:port] or adb://SERIAL) with
edgefit-agent and ONNX Runtime, with the profiler's discipline: warm-up runs, then timed
runs until the 95% confidence interval of the median is within --target-ci percent, or
--max-runs or --max-time is reached. Symbolic dimensions take --batch.

--layers adds a breakdown by executed node from ONNX Runtime's profiler (a separate pass
of 20 runs, the first skipped, so that profiling does not slow the headline numbers):
the median kernel time of each node, its op and provider. Nodes are those ONNX Runtime
ran after its graph optimizations, so fused nodes (FusedConv, ...) stand for several
nodes of the file.

Threads, provider and pinning default as for 'edgefit profile' (1 thread, cpu, the
last core of the fastest cluster).`,
		Example: `  edgefit bench local model.onnx
  edgefit bench ssh://pi@raspberrypi.local model.onnx --layers --top 15
  edgefit bench adb:// model.onnx --threads 4 --affinity f0 --json`,
		Args: argsExactly("TARGET", "MODEL.onnx"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBench(cmd, g, &o, args[0], args[1])
		},
	}
	f := c.Flags()
	o.target.AddFlags(f)
	o.runtimeFlags.AddFlags(f)
	f.BoolVar(&o.Layers, "layers", false, "add a per-node breakdown from ONNX Runtime's profiler")
	f.IntVar(&o.Top, "top", 25, "nodes to list with --layers, slowest first (0 = all, in execution order)")
	o.measure.AddFlags(f)
	return c
}

func runBench(cmd *cobra.Command, g *globalOptions, o *benchOptions, target, model string) error {
	if err := o.runtimeFlags.verify(); err != nil {
		return err
	}
	if err := o.measure.verify(); err != nil {
		return err
	}
	if o.Top < 0 {
		return usageErrorf("--top must not be negative (got %d)", o.Top)
	}
	ctx := cmd.Context()
	log := g.logger()
	t, err := o.target.open(ctx, g, target)
	if err != nil {
		return err
	}
	defer t.Close()
	bo := profiler.BenchOptions{Batch: o.Batch, Threads: o.Threads, Provider: o.EP, CPUAffinity: o.Affinity, Layers: o.Layers,
		Measure: o.measure.measurement(), DeviceDir: o.DeviceDir, Seed: 1, Agent: o.target.agentOptions(log)}
	res, err := profiler.Bench(ctx, t, model, bo)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		log.Warn(w)
	}
	if g.JSON {
		return writeJSON(g.io.Out, res)
	}
	st := res.Stats
	if err := writeKV(g.io.Out, [][]string{
		{"model", res.Model},
		{"target", fmt.Sprintf("%s (%s)", res.Target, res.Class)},
		{"runtime", fmt.Sprintf("%s, cpus %s", res.Runtime, cpuList(res.CPUs))},
		{"latency", fmt.Sprintf("median %.3f ms ±%.1f%% (95%% CI), mean %.3f, p10 %.3f, p90 %.3f, CoV %.1f%%", st.Median, 100*res.CI, st.Mean, st.P10, st.P90, 100*st.CoV)},
		{"runs", fmt.Sprintf("%d timed (stopped: %s)", st.N, res.Stop)},
		{"load", fmt.Sprintf("%.1f ms, first run %.2f ms", res.LoadMS, res.FirstRunMS)},
		{"peak RSS", fmt.Sprintf("%.1f MiB", float64(res.PeakRSSBytes)/(1<<20))},
	}); err != nil {
		return err
	}
	if res.Layers == nil {
		return nil
	}
	nodes := res.Layers.Nodes
	if o.Top > 0 {
		nodes = append([]profiler.NodeProfile(nil), nodes...)
		sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].Stats.Median > nodes[j].Stats.Median })
		nodes = nodes[:min(o.Top, len(nodes))]
	}
	fmt.Fprintf(g.io.Out, "\n%d nodes, kernels sum to %.3f ms of the %.3f ms runs (profiled pass)\n", len(res.Layers.Nodes), res.Layers.Total(), res.Layers.Run.Median)
	rows := make([][]string, 0, len(nodes))
	for _, n := range nodes {
		rows = append(rows, []string{n.Name, n.Op, strings.TrimSuffix(n.Provider, "ExecutionProvider"),
			fmt.Sprintf("%.4f", n.Stats.Median), fmt.Sprintf("%.1f%%", 100*n.Share), shapesString(n.InputShapes), shapesString(n.OutputShapes)})
	}
	return writeTable(g.io.Out, []string{"node", "op", "provider", "median ms", "share", "inputs", "outputs"}, rows)
}

func cpuList(cpus []int) string {
	if len(cpus) == 0 {
		return "any"
	}
	return joinIntList(cpus)
}

func shapesString(shapes [][]int64) string {
	parts := make([]string, len(shapes))
	for i, s := range shapes {
		d := make([]string, len(s))
		for j, v := range s {
			d[j] = strconv.FormatInt(v, 10)
		}
		parts[i] = strings.Join(d, "x")
	}
	return strings.Join(parts, " ")
}
