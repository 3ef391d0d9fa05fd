package runners

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/profiler/bench/wire"
	"github.com/edgefit/edgefit/profiler/timing"
)

// trtSummary is one "Name: min = ..., percentile(90%) = ..." line or
// TensorRT 7 block.
type trtSummary struct {
	min, max, mean, median float64
	pct                    map[string]float64 // "90" → ms
	seen                   bool
}

var (
	trtLineRE   = regexp.MustCompile(`^(Latency|Host Latency|Enqueue Time|H2D Latency|GPU Compute Time|GPU Compute|D2H Latency):\s*(.*)$`)
	trtFieldRE  = regexp.MustCompile(`(min|max|mean|median)\s*[=:]\s*` + number + `\s*ms`)
	trtPctRE    = regexp.MustCompile(`percentile\((\d+(?:\.\d+)?)%\)\s*=\s*` + number + `\s*ms`)
	trtPctOldRE = regexp.MustCompile(`percentile:\s*` + number + `\s*ms\s*at\s*(\d+(?:\.\d+)?)%`)
	trtBlockRE  = regexp.MustCompile(`^(Host Latency|Enqueue Time|GPU Compute|H2D Latency|D2H Latency)$`)
	trtQueries  = regexp.MustCompile(`Timing trace has (\d+) queries over ` + number + ` s`)
	trtThruRE   = regexp.MustCompile(`^[Tt]hroughput:\s*` + number + `\s*qps`)
	trtCoVRE    = regexp.MustCompile(`coefficient of variance(?: \(CoV\))?\s*=\s*` + number + `%`)
	trtWallRE   = regexp.MustCompile(`^(?:Total Host Walltime|walltime):\s*` + number + `\s*s`)
	trtTotalGPU = regexp.MustCompile(`^(?:Total GPU Compute Time|total compute time):\s*` + number + `\s*s`)
)

func (s *trtSummary) fields(text string) {
	for _, m := range trtFieldRE.FindAllStringSubmatch(text, -1) {
		v, ok := parseFloat(m[2])
		if !ok {
			continue
		}
		s.seen = true
		switch m[1] {
		case "min":
			s.min = v
		case "max":
			s.max = v
		case "mean":
			s.mean = v
		case "median":
			s.median = v
		}
	}
	for _, m := range trtPctRE.FindAllStringSubmatch(text, -1) {
		if v, ok := parseFloat(m[2]); ok {
			s.pct[m[1]] = v
			s.seen = true
		}
	}
	for _, m := range trtPctOldRE.FindAllStringSubmatch(text, -1) {
		if v, ok := parseFloat(m[1]); ok {
			s.pct[m[2]] = v
			s.seen = true
		}
	}
}

// ParseTrtexec reads trtexec's stdout (with or without log prefixes). The
// Result's Stats describe the GPU compute time per inference when present,
// else the host latency; Extra holds throughput_qps, host_latency_median_ms,
// gpu_compute_median_ms, enqueue/h2d/d2h medians, p95/p99, walltime_s and
// the CoV trtexec warns about (cov_percent).
func ParseTrtexec(out string) (wire.Result, error) {
	res := wire.Result{Source: wire.SourceTrtexec}
	sums := map[string]*trtSummary{}
	get := func(name string) *trtSummary {
		switch name { // TensorRT ≤ 8.2 names
		case "Host Latency":
			name = "Latency"
		case "GPU Compute":
			name = "GPU Compute Time"
		}
		if sums[name] == nil {
			sums[name] = &trtSummary{pct: map[string]float64{}}
		}
		return sums[name]
	}
	n := 0
	block := ""
	failed := false
	for _, l := range lines(out) {
		if strings.HasPrefix(l, "&&&& FAILED") {
			failed = true
		}
		if m := trtQueries.FindStringSubmatch(l); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		if m := trtThruRE.FindStringSubmatch(l); m != nil {
			if v, ok := parseFloat(m[1]); ok && v > 0 {
				setExtra(&res, "throughput_qps", v)
			}
		}
		if m := trtCoVRE.FindStringSubmatch(l); m != nil {
			if v, ok := parseFloat(m[1]); ok {
				setExtra(&res, "cov_percent", v)
			}
		}
		if m := trtWallRE.FindStringSubmatch(l); m != nil {
			if v, ok := parseFloat(m[1]); ok {
				setExtra(&res, "walltime_s", v)
			}
		}
		if m := trtTotalGPU.FindStringSubmatch(l); m != nil {
			if v, ok := parseFloat(m[1]); ok {
				setExtra(&res, "gpu_compute_total_s", v)
			}
		}
		if m := trtLineRE.FindStringSubmatch(l); m != nil && m[2] != "" {
			get(m[1]).fields(m[2])
			block = ""
			continue
		}
		if m := trtBlockRE.FindStringSubmatch(l); m != nil {
			block = m[1] // TensorRT 7: a header, then one statistic per line
			continue
		}
		if block != "" {
			if trtFieldRE.MatchString(l) || trtPctOldRE.MatchString(l) {
				// Keep "1.8 ms (end to end 3.4 ms)" to its first number.
				if i := strings.Index(l, "("); i > 0 {
					l = l[:i]
				}
				get(block).fields(l)
			} else if !strings.HasPrefix(l, "throughput") && !strings.HasPrefix(l, "walltime") && !strings.HasPrefix(l, "total compute") {
				block = ""
			}
		}
	}
	gpu, host := sums["GPU Compute Time"], sums["Latency"]
	main := gpu
	if main == nil || !main.seen || main.median == 0 {
		main = host
	}
	if main == nil || !main.seen || main.median == 0 {
		if failed {
			return res, noSummary("trtexec", out, "[E]", "&&&& FAILED")
		}
		return res, noSummary("trtexec", out, "[E]")
	}
	res.Stats = timing.Stats{N: n, Median: main.median, Mean: main.mean, Min: main.min, Max: main.max, P10: main.pct["10"], P90: main.pct["90"]}
	for _, p := range []string{"95", "99"} {
		if v, ok := main.pct[p]; ok {
			setExtra(&res, "p"+p+"_ms", v)
		}
	}
	for name, key := range map[string]string{"Latency": "host_latency", "GPU Compute Time": "gpu_compute", "Enqueue Time": "enqueue", "H2D Latency": "h2d", "D2H Latency": "d2h"} {
		if s := sums[name]; s != nil && s.median > 0 {
			setExtra(&res, key+"_median_ms", s.median)
		}
	}
	if cov, ok := res.Extra["cov_percent"]; ok && main == gpu {
		res.Stats.CoV = cov / 100
	}
	if failed {
		res.Error = "trtexec reported FAILED after timing"
	}
	return res, nil
}

// TrtexecOptions shape a trtexec command line.
type TrtexecOptions struct {
	FP16, INT8   bool
	Shapes       string  // e.g. "input:1x3x224x224" for dynamic inputs
	WarmUpMS     int     // --warmUp (0 = trtexec's 200 ms)
	DurationS    float64 // --duration (0 = trtexec's 3 s)
	Iterations   int     // --iterations, a minimum (0 = trtexec's 10)
	ExportTimes  string  // --exportTimes=FILE: every inference's times
	ExportLayers string  // --exportProfile=FILE: per-layer times (runs a separate profiling pass)
}

// TrtexecArgv builds a trtexec command line for model that prints what
// ParseTrtexec reads: spin-wait and CUDA graphs for stable timings,
// percentiles 10/90/95/99, one sample per inference (--avgRuns=1).
func TrtexecArgv(trtexec, model string, o TrtexecOptions) []string {
	argv := []string{trtexec, "--onnx=" + model, "--useSpinWait", "--useCudaGraph", "--avgRuns=1", "--percentile=10,90,95,99"}
	if o.FP16 {
		argv = append(argv, "--fp16")
	}
	if o.INT8 {
		argv = append(argv, "--int8")
	}
	if o.Shapes != "" {
		argv = append(argv, "--shapes="+o.Shapes)
	}
	if o.WarmUpMS > 0 {
		argv = append(argv, fmt.Sprintf("--warmUp=%d", o.WarmUpMS))
	}
	if o.DurationS > 0 {
		argv = append(argv, "--duration="+strconv.FormatFloat(o.DurationS, 'g', -1, 64))
	}
	if o.Iterations > 0 {
		argv = append(argv, fmt.Sprintf("--iterations=%d", o.Iterations))
	}
	if o.ExportTimes != "" {
		argv = append(argv, "--exportTimes="+o.ExportTimes)
	}
	if o.ExportLayers != "" {
		argv = append(argv, "--separateProfileRun", "--dumpProfile", "--profilingVerbosity=detailed", "--exportProfile="+o.ExportLayers)
	}
	return argv
}
