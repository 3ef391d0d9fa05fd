package profiler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/edgefit/edgefit/profiler/agent"
	"github.com/edgefit/edgefit/supernet"
)

// Runner names: what runs the models on the device.
const (
	RunnerAgent    = "agent"     // edgefit-agent with ONNX Runtime (every provider)
	RunnerTrtexec  = "trtexec"   // TensorRT's trtexec (NVIDIA GPUs)
	RunnerPerfTest = "perf-test" // onnxruntime_perf_test
)

// Runners lists the runner names [Options.Runner] accepts.
func Runners() []string { return []string{RunnerAgent, RunnerTrtexec, RunnerPerfTest} }

// Providers lists the execution providers [Options.Provider] accepts.
func Providers() []string { return []string{"cpu", "cuda", "tensorrt", "xnnpack", "nnapi"} }

// Target classes pick the defaults of [Options] (see [Defaults]).
const (
	ClassCPU    = "cpu"    // a Linux or macOS computer or board measured on its CPU
	ClassMobile = "mobile" // an Android phone
	ClassGPU    = "gpu"    // a machine measured on an NVIDIA GPU (Jetson, desktop)
)

// DefaultNetworks is how many random whole subnets are measured per
// resolution unless Options.Networks says otherwise.
const DefaultNetworks = 30

// DefaultResolutions are the input sizes profiled unless
// Options.Resolutions says otherwise: those of OFA's published tables.
func DefaultResolutions() []int { return []int{160, 176, 192, 208, 224} }

// Options say what to profile and how. Start from [DefaultOptions]; fields
// left zero take the defaults of the target's class, chosen by [Plan] once
// it has probed the device:
//
//	class   detected by                       threads  provider  runner                   pinning
//	cpu     any other Linux/macOS machine     1        cpu       agent                    last core(s) of the fastest cluster
//	mobile  Android                           1        cpu       agent                    last core(s) of the big cluster
//	gpu     Jetson, or --ep cuda|tensorrt     1        cuda      trtexec if found, else agent   none
//
// Batch is 1 everywhere, and each timed sample lasts about 2 ms
// (Measurement.SampleMS).
type Options struct {
	Space       string // "ofa-mbv3-w1.0" or "ofa-mbv3-w1.2"
	Resolutions []int  // input sizes; nil = DefaultResolutions
	Batch       int    // 0 = 1
	Threads     int    // intra-op threads; 0 = class default
	Provider    string // execution provider; "" = class default
	Runner      string // RunnerAgent, RunnerTrtexec, RunnerPerfTest; "" = class default
	// CPUAffinity is a taskset mask (hex, e.g. "f0") the runner is pinned
	// to; "" = class default; "none" = no pinning.
	CPUAffinity string
	// Networks is how many random subnets are measured whole at each
	// resolution (to calibrate and check the table's sums); 0 = none.
	Networks int
	Seed     uint64 // picks the subnets, the order of measurement and the weights

	Measure Measurement

	// BatchModels and BatchBytes bound one batch: the models pushed and
	// measured by one runner invocation, after which the reference is
	// re-measured and the journal synced.
	BatchModels int   // 0 = 48
	BatchBytes  int64 // 0 = 96 MiB

	// Agent says which edgefit-agent and ONNX Runtime library to deploy
	// (zero value: `make agents` and `make ort` outputs for the device).
	Agent agent.Options

	// DeviceDir is where the run's work directory is made on the device
	// ("" = the transport's default temporary directory).
	DeviceDir string

	// Journal is the path of the append-only journal that makes the run
	// resumable ("" = none: an interrupted run starts over). Restart sets
	// an existing journal aside (renamed with a timestamp) instead of
	// resuming it.
	Journal string
	Restart bool

	// Progress, if set, is called after every batch.
	Progress func(Progress)
	Logger   *slog.Logger // nil = slog.Default()
	// Tool is edgefit's version, recorded with the agent's.
	Tool string
}

// Measurement is the measurement discipline: how long each model is run
// and how drift is caught.
type Measurement struct {
	Warmup  int // untimed runs first (0 = 5; negative = none)
	MinRuns int // timed runs at least (0 = 10)
	MaxRuns int // timed runs at most (0 = 200)
	// TargetCI: stop once the 95% confidence interval of the median is
	// within ±TargetCI of it (0 = 0.02, i.e. 2%).
	TargetCI float64
	// MaxTime caps the timed runs of one model (0 = 2s).
	MaxTime time.Duration
	// SampleMS makes each timed sample the mean of as many back-to-back
	// runs as last about this long (0 = 2 ms; negative = one run per
	// sample): a layer of 20 µs is otherwise lost in the clock's and the
	// scheduler's jitter. Networks longer than that are timed run by run.
	SampleMS float64
	// DriftThreshold: a reference that moved more than this fraction from
	// the last good one voids the batch measured since, which is measured
	// again (0 = 0.03). Where the reference varies more than that from
	// session to session by itself, three times that noise is used
	// instead (see Plan.DriftNoise).
	DriftThreshold float64
	// ReferenceSessions is how many sessions (each with its own warm-up
	// and timing) make one measurement of the reference, whose median is
	// compared (0 = 3).
	ReferenceSessions int
	// DriftRetries bounds how often one batch is measured again before it
	// is kept with its drift recorded (0 = 2).
	DriftRetries int
	// CooldownDelta and MaxCooldown: before each batch, where the device
	// exposes temperatures, wait until the hottest thermal zone is within
	// CooldownDelta °C of where it was at the start, but at most MaxCooldown
	// (0 = 2 °C and 60s; MaxCooldown < 0 disables the wait).
	CooldownDelta float64
	MaxCooldown   time.Duration
	// Rounds spreads each model's timed runs over its whole batch in this
	// many rounds (round 1 of every model of the batch, then round 2, ...;
	// whole networks in half as many), each a fresh session with at most
	// two warm-up runs and MinRuns/Rounds (at least 3) timed samples. The
	// model's statistics are those of its samples within 10% of its
	// fastest: on a shared machine (a cloud VM whose vCPU the host takes
	// away for scheduler ticks) time is only ever added, and the rounds,
	// seconds apart, make it likely that some samples escaped. The drift
	// reference is timed in rounds too, so a batch is measured again only
	// when the device's level across the whole batch moved. TargetCI and
	// MaxRuns then do not apply (but MaxRuns must allow 3 runs per round).
	// 0 = 4, or 1 where MaxRuns is below 12; 1 = every model timed at
	// once, as before.
	Rounds int
}

// DefaultOptions returns the options of `edgefit profile` without flags,
// for space.
func DefaultOptions(space string) Options {
	return Options{Space: space, Resolutions: DefaultResolutions(), Networks: DefaultNetworks, Seed: 1}
}

// DefaultMeasurement returns the discipline a zero [Measurement] stands
// for, with every field filled in: the defaults edgefit's commands show
// for their measurement flags. Its Rounds is 4, the choice where MaxRuns
// allows 3 timed runs per round.
func DefaultMeasurement() Measurement { return Measurement{}.withDefaults() }

func (m Measurement) withDefaults() Measurement {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&m.Warmup, 5)
	m.Warmup = max(m.Warmup, 0)
	def(&m.MinRuns, 10)
	def(&m.MaxRuns, 200)
	def(&m.DriftRetries, 2)
	def(&m.ReferenceSessions, 3)
	if m.Rounds == 0 {
		// Interleaving needs at least 3 samples per round; a discipline
		// capped below that times each model at once, as before.
		m.Rounds = 4
		if m.MaxRuns < 3*m.Rounds {
			m.Rounds = 1
		}
	}
	if m.TargetCI == 0 {
		m.TargetCI = 0.02
	}
	if m.MaxTime == 0 {
		m.MaxTime = 2 * time.Second
	}
	if m.SampleMS == 0 {
		m.SampleMS = 2
	}
	m.SampleMS = max(m.SampleMS, 0)
	if m.DriftThreshold == 0 {
		m.DriftThreshold = 0.03
	}
	if m.CooldownDelta == 0 {
		m.CooldownDelta = 2
	}
	if m.MaxCooldown == 0 {
		m.MaxCooldown = 60 * time.Second
	}
	return m
}

func (m Measurement) validate() error {
	switch {
	case m.Warmup < 0:
		return fmt.Errorf("warm-up runs must not be negative (got %d)", m.Warmup)
	case m.MinRuns < 5:
		return fmt.Errorf("at least 5 timed runs are needed for a confidence interval (got min runs %d)", m.MinRuns)
	case m.MaxRuns < m.MinRuns:
		return fmt.Errorf("max runs %d is below min runs %d", m.MaxRuns, m.MinRuns)
	case !(m.TargetCI > 0 && m.TargetCI < 1):
		return fmt.Errorf("target CI must be a fraction in (0, 1), such as 0.02 (got %v)", m.TargetCI)
	case m.MaxTime <= 0:
		return fmt.Errorf("max time per model must be positive (got %v)", m.MaxTime)
	case !(m.DriftThreshold > 0 && m.DriftThreshold < 1):
		return fmt.Errorf("drift threshold must be a fraction in (0, 1) (got %v)", m.DriftThreshold)
	case m.ReferenceSessions < 1 || m.ReferenceSessions > 15:
		return fmt.Errorf("reference sessions must be 1..15 (got %d)", m.ReferenceSessions)
	case m.Rounds < 1 || m.Rounds > 50:
		return fmt.Errorf("rounds must be 1..50 (got %d); 1 times every model at once", m.Rounds)
	case m.Rounds > 1 && m.MaxRuns < 3*m.Rounds:
		return fmt.Errorf("%d rounds need at least 3 timed runs each, but max runs is %d: raise max runs to %d or lower rounds", m.Rounds, m.MaxRuns, 3*m.Rounds)
	case m.DriftRetries < 0:
		return fmt.Errorf("drift retries must not be negative (got %d)", m.DriftRetries)
	}
	return nil
}

// Identity is what a profile's numbers depend on. A journal records it;
// resuming with a different Identity is refused, so that one table never
// mixes numbers measured differently.
type Identity struct {
	Space       string      `json:"space"`
	Resolutions []int       `json:"resolutions"`
	Batch       int         `json:"batch"`
	Threads     int         `json:"threads"`
	Provider    string      `json:"provider"`
	Runner      string      `json:"runner"`
	CPUAffinity string      `json:"cpu_affinity,omitempty"`
	Networks    int         `json:"networks"`
	Seed        uint64      `json:"seed"`
	Measure     identityMsr `json:"measure"`
}

type identityMsr struct {
	Warmup   int     `json:"warmup"`
	MinRuns  int     `json:"min_runs"`
	MaxRuns  int     `json:"max_runs"`
	TargetCI float64 `json:"target_ci"`
	MaxTime  float64 `json:"max_time_s"`
	SampleMS float64 `json:"sample_ms"`
	Rounds   int     `json:"rounds,omitempty"` // 0 where 1, so that older journals still match
}

func (id Identity) digest() string {
	b, _ := json.Marshal(id)
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// diff lists the settings that differ from old, as flag-like text.
func (id Identity) diff(old Identity) []string {
	var d []string
	add := func(name string, was, now any) {
		if fmt.Sprint(was) != fmt.Sprint(now) {
			d = append(d, fmt.Sprintf("%s was %v, now %v", name, was, now))
		}
	}
	add("space", old.Space, id.Space)
	add("resolutions", intsString(old.Resolutions), intsString(id.Resolutions))
	add("batch", old.Batch, id.Batch)
	add("threads", old.Threads, id.Threads)
	add("execution provider", old.Provider, id.Provider)
	add("runner", old.Runner, id.Runner)
	add("cpu affinity", old.CPUAffinity, id.CPUAffinity)
	add("networks", old.Networks, id.Networks)
	add("seed", old.Seed, id.Seed)
	add("measurement", fmt.Sprintf("%+v", old.Measure), fmt.Sprintf("%+v", id.Measure))
	return d
}

func intsString(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

// Validate checks the options as [NewPlan] does before it probes the
// device, without changing them, so that a caller can refuse bad options
// before it creates anything.
func (o Options) Validate() error {
	_, err := o.validateStatic()
	return err
}

// validateStatic checks what can be checked before the device is probed.
func (o *Options) validateStatic() (*supernet.Space, error) {
	sp, err := supernet.SpaceByName(o.Space)
	if err != nil {
		return nil, fmt.Errorf("space %q: %w (choose one of %s)", o.Space, err, strings.Join(supernet.SpaceNames(), ", "))
	}
	if len(o.Resolutions) == 0 {
		o.Resolutions = DefaultResolutions()
	}
	rs := slices.Clone(o.Resolutions)
	slices.Sort(rs)
	rs = slices.Compact(rs)
	for _, r := range rs {
		if r < 32 || r > 1024 {
			return nil, fmt.Errorf("resolution %d is outside 32..1024", r)
		}
	}
	o.Resolutions = rs
	if o.Batch == 0 {
		o.Batch = 1
	}
	if o.Batch < 0 || o.Batch > 1024 {
		return nil, fmt.Errorf("batch must be 1..1024 (got %d)", o.Batch)
	}
	if o.Threads < 0 || o.Threads > 1024 {
		return nil, fmt.Errorf("threads must be 1..1024, or 0 for the default (got %d)", o.Threads)
	}
	if o.Provider != "" && !slices.Contains(Providers(), o.Provider) {
		return nil, fmt.Errorf("unknown execution provider %q (choose one of %s)", o.Provider, strings.Join(Providers(), ", "))
	}
	if o.Runner != "" && !slices.Contains(Runners(), o.Runner) {
		return nil, fmt.Errorf("unknown runner %q (choose one of %s)", o.Runner, strings.Join(Runners(), ", "))
	}
	if o.CPUAffinity != "" && o.CPUAffinity != "none" {
		if _, err := parseMask(o.CPUAffinity); err != nil {
			return nil, err
		}
	}
	if o.Networks < 0 || o.Networks > 100000 {
		return nil, fmt.Errorf("networks must be 0..100000 (got %d)", o.Networks)
	}
	if o.BatchModels < 0 || o.BatchBytes < 0 {
		return nil, fmt.Errorf("batch bounds must not be negative")
	}
	if o.BatchModels == 0 {
		o.BatchModels = 48
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = 96 << 20
	}
	o.Measure = o.Measure.withDefaults()
	if err := o.Measure.validate(); err != nil {
		return nil, err
	}
	return sp, nil
}

// parseMask reads a taskset mask such as "f0" or "0x70" into CPU numbers.
func parseMask(s string) ([]int, error) {
	h := strings.TrimPrefix(strings.ToLower(s), "0x")
	if h == "" || len(h) > 16 {
		return nil, fmt.Errorf("cpu affinity %q is not a hex taskset mask such as f0", s)
	}
	var cpus []int
	for i := 0; i < len(h); i++ {
		c := h[len(h)-1-i]
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'a' && c <= 'f':
			v = int(c-'a') + 10
		default:
			return nil, fmt.Errorf("cpu affinity %q is not a hex taskset mask such as f0", s)
		}
		for b := range 4 {
			if v&(1<<b) != 0 {
				cpus = append(cpus, i*4+b)
			}
		}
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("cpu affinity %q selects no CPU", s)
	}
	return cpus, nil
}

// maskOf writes CPU numbers as a taskset mask.
func maskOf(cpus []int) string {
	var digits []byte
	for _, c := range cpus {
		for len(digits) <= c/4 {
			digits = append(digits, 0)
		}
		digits[c/4] |= 1 << (c % 4)
	}
	out := make([]byte, len(digits))
	for i, d := range digits {
		out[len(digits)-1-i] = "0123456789abcdef"[d]
	}
	return string(out)
}
