package profiler

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler/bench/wire"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/runners"
)

func init() {
	runnerFactories[RunnerTrtexec] = func(ctx context.Context, p *Plan) (runner, error) {
		return startTool(ctx, p.target, &p.Options, trtexecTool)
	}
	runnerFactories[RunnerPerfTest] = func(ctx context.Context, p *Plan) (runner, error) {
		return startTool(ctx, p.target, &p.Options, perfTestTool)
	}
}

// tool is a stock benchmark program on the device (see package runners,
// which builds its command lines and parses its reports).
type tool struct {
	runner   string   // RunnerTrtexec or RunnerPerfTest
	names    []string // executable names or paths to look for, in order
	runtime  string   // Runtime.Name
	argv     func(bin, model string, m runModel, o *Options) []string
	parse    func(out string) (wire.Result, error)
	versionR *regexp.Regexp // reads the version from `bin --help`
}

var trtexecTool = &tool{
	runner:  RunnerTrtexec,
	names:   []string{"trtexec", "/usr/src/tensorrt/bin/trtexec"},
	runtime: "tensorrt",
	argv: func(bin, model string, m runModel, o *Options) []string {
		to := runners.TrtexecOptions{WarmUpMS: 200, Iterations: o.Measure.MinRuns, DurationS: o.Measure.MaxTime.Seconds()}
		if len(m.Shape) > 0 {
			to.Shapes = "input:" + joinShape(m.Shape)
		}
		return runners.TrtexecArgv(bin, model, to)
	},
	parse:    runners.ParseTrtexec,
	versionR: regexp.MustCompile(`TensorRT v(\d+)`),
}

var perfTestTool = &tool{
	runner:  RunnerPerfTest,
	names:   []string{"onnxruntime_perf_test"},
	runtime: "onnxruntime",
	argv: func(bin, model string, m runModel, o *Options) []string {
		runs := min(o.Measure.MaxRuns, max(o.Measure.MinRuns, 50))
		return runners.PerfTestArgv(bin, model, runners.PerfTestOptions{Provider: o.Provider, Threads: o.Threads, Runs: runs})
	},
	parse:    runners.ParsePerfTest,
	versionR: regexp.MustCompile(`(?i)onnxruntime[^0-9]*v?(\d+\.\d+(?:\.\d+)?)`),
}

// toolRunner measures each model of a batch with one run of a stock tool;
// all runs of a batch go through one shell round trip. These tools time a
// fixed number of runs (no confidence-interval stopping) and report no
// interval, so CI stays 0.
type toolRunner struct {
	*workspace
	tool    *tool
	bin     string
	taskset []string // "taskset MASK" prefix, where pinning is asked for
	o       *Options
	rt      lut.Runtime
}

func startTool(ctx context.Context, t devices.Target, o *Options, tl *tool) (*toolRunner, error) {
	var bin string
	for _, n := range tl.names {
		res, err := t.Run(ctx, []string{"sh", "-c", `command -v "$1" || { test -x "$1" && echo "$1"; }`, "sh", n}, devices.RunOptions{})
		if err == nil {
			if b := strings.TrimSpace(string(res.Stdout)); b != "" {
				bin = b
				break
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if bin == "" {
		return nil, &RuntimeError{Target: t.Name(), Runner: tl.runner, Err: fmt.Errorf("%s not found on the device (looked for %s)", tl.names[0], strings.Join(tl.names, ", "))}
	}
	r := &toolRunner{tool: tl, bin: bin, o: o, rt: lut.Runtime{Name: tl.runtime}}
	if help, err := t.Run(ctx, []string{bin, "--help"}, devices.RunOptions{}); err == nil || len(help.Stdout)+len(help.Stderr) > 0 {
		if m := tl.versionR.FindStringSubmatch(string(help.Stdout) + string(help.Stderr)); m != nil {
			r.rt.Version = m[1]
		}
	}
	if o.CPUAffinity != "" && o.CPUAffinity != "none" {
		if !hasCommand(ctx, t, "taskset") {
			return nil, &RuntimeError{Target: t.Name(), Runner: tl.runner, Err: fmt.Errorf("pinning to %s needs taskset on the device; install it or pass --affinity none", o.CPUAffinity)}
		}
		r.taskset = []string{"taskset", o.CPUAffinity}
	}
	ws, err := newWorkspace(ctx, t, o.DeviceDir)
	if err != nil {
		return nil, err
	}
	r.workspace = ws
	return r, nil
}

func (r *toolRunner) Runtime() lut.Runtime { return r.rt }

// markers separate the models' reports in the batch's combined output.
const (
	toolMarker = "@@edgefit-model "
	toolExit   = "@@edgefit-exit "
)

func (r *toolRunner) Measure(ctx context.Context, models []runModel) ([]runResult, error) {
	temp, err := r.stage(ctx, models, nil)
	defer r.remove(ctx, temp)
	if err != nil {
		return nil, err
	}
	var script strings.Builder
	for i, m := range models {
		argv := append(append([]string(nil), r.taskset...), r.tool.argv(r.bin, path.Join(r.dir, m.Name), m, r.o)...)
		fmt.Fprintf(&script, "echo '%s%d'; %s 2>&1; echo \"%s$?\"\n", toolMarker, i, devices.QuoteArgs(argv), toolExit)
	}
	res, err := r.t.Run(ctx, []string{"sh", "-c", script.String()}, devices.RunOptions{Dir: r.dir})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", r.tool.runner, r.t.Name(), err)
	}
	reports, err := splitToolOutput(string(res.Stdout), len(models))
	if err != nil {
		return nil, fmt.Errorf("%s on %s: %w", r.tool.runner, r.t.Name(), err)
	}
	out := make([]runResult, len(models))
	for i, rep := range reports {
		if rep.exit != 0 {
			return nil, fmt.Errorf("%s on %s failed on %s (exit %d): %s", r.tool.runner, r.t.Name(), models[i].Name, rep.exit, tail([]byte(rep.out), 600))
		}
		w, err := r.tool.parse(rep.out)
		if err != nil {
			return nil, fmt.Errorf("%s on %s, model %s: %w", r.tool.runner, r.t.Name(), models[i].Name, err)
		}
		st := w.Stats
		if st.Median == 0 { // old tool builds report the mean only
			st.Median = st.Mean
		}
		out[i] = runResult{Stats: st}
	}
	return out, nil
}

// toolReport is one model's part of a batch's output.
type toolReport struct {
	out  string
	exit int
}

// splitToolOutput cuts the combined output of a batch script into the
// reports of its n models, by the marker lines the script prints.
func splitToolOutput(out string, n int) ([]toolReport, error) {
	reports := make([]toolReport, n)
	seen := make([]bool, n)
	cur := -1
	var buf strings.Builder
	for _, line := range strings.SplitAfter(out, "\n") {
		trimmed := strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(trimmed, toolMarker):
			i, err := strconv.Atoi(strings.TrimPrefix(trimmed, toolMarker))
			if err != nil || i < 0 || i >= n || seen[i] {
				return nil, fmt.Errorf("garbled batch output near %q", trimmed)
			}
			cur = i
			buf.Reset()
		case strings.HasPrefix(trimmed, toolExit) && cur >= 0:
			code, err := strconv.Atoi(strings.TrimPrefix(trimmed, toolExit))
			if err != nil {
				return nil, fmt.Errorf("garbled exit status %q", trimmed)
			}
			reports[cur] = toolReport{out: buf.String(), exit: code}
			seen[cur] = true
			cur = -1
		case cur >= 0:
			buf.WriteString(line)
		}
	}
	for i, ok := range seen {
		if !ok {
			return nil, errors.New("the batch ended before model " + strconv.Itoa(i) + " reported (connection lost or the tool hung)")
		}
	}
	return reports, nil
}

func joinShape(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return strings.Join(parts, "x")
}
