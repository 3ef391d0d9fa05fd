package runners

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/profiler/bench/wire"
)

var (
	bmCount   = regexp.MustCompile(`(?:^|\s)count=(\d+)\b(.*)$`)
	bmField   = regexp.MustCompile(`\b(first|curr|min|max|avg|std|p5|median|p95)=` + number)
	bmTimings = regexp.MustCompile(`[Ii]nference timings in us:(.*)$`)
	bmPair    = regexp.MustCompile(`(Init|First inference|Warmup \(avg\)|Inference \(avg\)|Warmup|Inference):\s*` + number)
	bmMem     = regexp.MustCompile(`Memory footprint delta from the start of the tool \(MB\): init=` + number + ` overall=` + number)
	bmPeakMem = regexp.MustCompile(`Peak memory footprint \(MB\): init=` + number + ` overall=` + number)
)

// ParseBenchmarkModel reads TensorFlow Lite's benchmark_model output. The
// timed phase is the last "count=" line that is not an op-profiling or
// memory summary; its microseconds become milliseconds (p5/median/p95 on
// new builds; old builds have no percentiles, so Median stays 0 and Mean
// is the number to use). Extra holds p5_ms, p95_ms, warmup_avg_ms and the
// memory footprints in MB.
func ParseBenchmarkModel(out string) (wire.Result, error) {
	res := wire.Result{Source: wire.SourceBenchmarkModel}
	var timed, profiled string
	for _, l := range lines(out) {
		if m := bmCount.FindStringSubmatch(l); m != nil && m[1] != "0" {
			switch {
			case strings.HasPrefix(l, "Timings (microseconds)"):
				profiled = l
			case strings.HasPrefix(l, "Memory"):
			default:
				timed = l
			}
		}
		if m := bmTimings.FindStringSubmatch(l); m != nil {
			for _, p := range bmPair.FindAllStringSubmatch(m[1], -1) {
				v, ok := parseFloat(p[2])
				if !ok {
					continue
				}
				switch p[1] {
				case "Init":
					res.LoadMS = v / 1000
				case "First inference":
					res.FirstRunMS = v / 1000
				case "Warmup (avg)", "Warmup":
					setExtra(&res, "warmup_avg_ms", v/1000)
				}
			}
		}
		if m := bmMem.FindStringSubmatch(l); m != nil {
			if v, ok := parseFloat(m[2]); ok {
				setExtra(&res, "memory_delta_mb", v)
			}
		}
		if m := bmPeakMem.FindStringSubmatch(l); m != nil {
			if v, ok := parseFloat(m[2]); ok {
				setExtra(&res, "peak_memory_mb", v)
			}
		}
	}
	if timed == "" {
		timed = profiled
	}
	m := bmCount.FindStringSubmatch(timed)
	if m == nil {
		return res, noSummary("benchmark_model", out, "ERROR", "rror", "Failed")
	}
	res.Stats.N, _ = strconv.Atoi(m[1])
	for _, f := range bmField.FindAllStringSubmatch(m[2], -1) {
		v, ok := parseFloat(f[2])
		if !ok {
			continue
		}
		v /= 1000
		switch f[1] {
		case "min":
			res.Stats.Min = v
		case "max":
			res.Stats.Max = v
		case "avg":
			res.Stats.Mean = v
		case "std":
			res.Stats.Std = v
		case "median":
			res.Stats.Median = v
		case "p5":
			setExtra(&res, "p5_ms", v)
		case "p95":
			setExtra(&res, "p95_ms", v)
		}
	}
	if res.Stats.Mean > 0 {
		res.Stats.CoV = res.Stats.Std / res.Stats.Mean
	}
	if res.Stats.Mean == 0 && res.Stats.Median == 0 {
		return res, noSummary("benchmark_model", out, "ERROR", "rror", "Failed")
	}
	return res, nil
}

// BenchmarkModelOptions shape a benchmark_model command line.
type BenchmarkModelOptions struct {
	Threads    int    // --num_threads (0 = 1)
	Runs       int    // --num_runs (0 = 50)
	Warmup     int    // --warmup_runs (0 = 10)
	Delegate   string // "", "xnnpack", "gpu", "nnapi"
	OpProfile  string // --profiling_output_csv_file (with --enable_op_profiling)
	PeakMemory bool   // --report_peak_memory_footprint
}

// BenchmarkModelArgv builds a benchmark_model command line for graph.
func BenchmarkModelArgv(benchmarkModel, graph string, o BenchmarkModelOptions) []string {
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	argv := []string{benchmarkModel, "--graph=" + graph,
		"--num_threads=" + strconv.Itoa(def(o.Threads, 1)),
		"--num_runs=" + strconv.Itoa(def(o.Runs, 50)),
		"--warmup_runs=" + strconv.Itoa(def(o.Warmup, 10))}
	switch o.Delegate {
	case "xnnpack":
		argv = append(argv, "--use_xnnpack=true")
	case "gpu":
		argv = append(argv, "--use_gpu=true")
	case "nnapi":
		argv = append(argv, "--use_nnapi=true")
	}
	if o.OpProfile != "" {
		argv = append(argv, "--enable_op_profiling=true", "--profiling_output_csv_file="+o.OpProfile)
	}
	if o.PeakMemory {
		argv = append(argv, "--report_peak_memory_footprint=true")
	}
	return argv
}
