package runners

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/profiler/bench/wire"
)

var (
	ptSession  = regexp.MustCompile(`^Session creation time cost:\s*` + number + `\s*s`)
	ptFirst    = regexp.MustCompile(`^First inference time cost:\s*` + number + `\s*ms`)
	ptRequests = regexp.MustCompile(`^(?:Total inference requests:\s*|Runs:\s*)(\d+)`)
	ptAverage  = regexp.MustCompile(`^Average (?:inference )?time cost(?: total)?:\s*` + number + `\s*ms`)
	ptLatency  = regexp.MustCompile(`^(Min|Max|P50|P90|P95|P99|P999) Latency(?::\s*|\s+is\s+)` + number + `\s*s(?:ec)?\b`)
	ptPeak     = regexp.MustCompile(`^Peak working set size:\s*(\d+)`)
	ptRate     = regexp.MustCompile(`^Number of inferences per second:\s*` + number)
	ptCPU      = regexp.MustCompile(`^Avg CPU usage:\s*` + number)
)

// ParsePerfTest reads onnxruntime_perf_test's report, old ("Average time
// cost", "P50 Latency is 0.0013sec") and new ("Average inference time
// cost", "P50 Latency: 0.0013 s") alike. Latencies in seconds become
// milliseconds; P50 is the median. Extra holds p95_ms, p99_ms, p999_ms,
// throughput_qps and cpu_percent.
func ParsePerfTest(out string) (wire.Result, error) {
	res := wire.Result{Source: wire.SourcePerfTest}
	seen := false
	for _, l := range lines(out) {
		switch {
		case ptSession.MatchString(l):
			if v, ok := parseFloat(ptSession.FindStringSubmatch(l)[1]); ok {
				res.LoadMS = v * 1000
			}
		case ptFirst.MatchString(l):
			if v, ok := parseFloat(ptFirst.FindStringSubmatch(l)[1]); ok {
				res.FirstRunMS = v
			}
		case ptRequests.MatchString(l):
			if n, err := strconv.Atoi(ptRequests.FindStringSubmatch(l)[1]); err == nil {
				res.Stats.N = n
			}
		case ptAverage.MatchString(l):
			if v, ok := parseFloat(ptAverage.FindStringSubmatch(l)[1]); ok {
				res.Stats.Mean = v
				seen = true
			}
		case ptLatency.MatchString(l):
			m := ptLatency.FindStringSubmatch(l)
			v, ok := parseFloat(m[2])
			if !ok {
				continue
			}
			v *= 1000
			seen = true
			switch m[1] {
			case "Min":
				res.Stats.Min = v
			case "Max":
				res.Stats.Max = v
			case "P50":
				res.Stats.Median = v
			case "P90":
				res.Stats.P90 = v
			default:
				setExtra(&res, strings.ToLower(m[1])+"_ms", v)
			}
		case ptPeak.MatchString(l):
			if n, err := strconv.ParseInt(ptPeak.FindStringSubmatch(l)[1], 10, 64); err == nil {
				res.PeakRSSBytes = n
			}
		case ptRate.MatchString(l):
			if v, ok := parseFloat(ptRate.FindStringSubmatch(l)[1]); ok {
				setExtra(&res, "throughput_qps", v)
			}
		case ptCPU.MatchString(l):
			if v, ok := parseFloat(ptCPU.FindStringSubmatch(l)[1]); ok {
				setExtra(&res, "cpu_percent", v)
			}
		}
	}
	if !seen || (res.Stats.Median == 0 && res.Stats.Mean == 0) {
		return res, noSummary("onnxruntime_perf_test", out, "rror", "xception", "failed")
	}
	return res, nil
}

// PerfTestOptions shape an onnxruntime_perf_test command line.
type PerfTestOptions struct {
	Provider string // -e: cpu, cuda, tensorrt, nnapi, xnnpack, qnn, ... ("" = cpu)
	Threads  int    // -x intra-op threads (0 = default)
	Runs     int    // -r, with -m times (0 = 100)
	Profile  string // -p FILE: ONNX Runtime profile
}

// PerfTestArgv builds an onnxruntime_perf_test command line that runs a
// fixed number of inferences (not the default 600 s duration mode) on
// generated inputs, one at a time, and prints the statistics ParsePerfTest
// reads.
func PerfTestArgv(perfTest, model string, o PerfTestOptions) []string {
	runs := o.Runs
	if runs == 0 {
		runs = 100
	}
	ep := o.Provider
	if ep == "" {
		ep = "cpu"
	}
	argv := []string{perfTest, "-I", "-m", "times", "-r", strconv.Itoa(runs), "-e", ep, "-s", "-y", "1", "-c", "1"}
	if o.Threads > 0 {
		argv = append(argv, "-x", strconv.Itoa(o.Threads))
	}
	if o.Profile != "" {
		argv = append(argv, "-p", o.Profile)
	}
	return append(argv, model)
}
