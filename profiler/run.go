package profiler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler/agent"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/supernet"
)

// Progress reports how far a profiling run is. Done and Total count
// models: layer entries plus whole networks, including those a resumed
// journal already held (Resumed of them).
type Progress struct {
	Done, Total int
	Resumed     int
	Elapsed     time.Duration // since this run started
	ETA         time.Duration // estimated time left; 0 until the first batch is in
	Batch       int           // batches finished in this run
	Drift       float64       // the reference's last ratio to its baseline
}

// Plan is a profiling run resolved against one device: the class defaults
// filled in, the models to measure in their order, and what an existing
// journal already holds. Make one with [NewPlan], run it with
// [Plan.Execute]; [Run] does both.
type Plan struct {
	Target      string
	Class       string  // ClassCPU, ClassMobile or ClassGPU
	Options     Options // with every default resolved
	Identity    Identity
	Fingerprint *devices.Fingerprint // before profiling
	Entries     int                  // layer entries to have in the table
	NetworksAll int                  // whole networks to have in the table
	Done        int                  // of Entries+NetworksAll, already in the journal
	Reference   string               // key of the drift reference layer
	Warnings    []string
	// Remeasured counts batches Execute measured again because the
	// reference drifted; Rebaselined those kept after the last retry, the
	// reference's new speed becoming the baseline.
	Remeasured, Rebaselined int
	// DriftNoise is the reference's estimated session-to-session noise
	// (relative standard deviation); the drift threshold in force is
	// at least three times it.
	DriftNoise float64

	space    *supernet.Space
	items    []item // every entry and network, in measuring order (planItems)
	todo     []item // of items, those the journal lacks
	refLayer supernet.Layer
	refR     int
	journal  *Journal // nil: none yet
	target   devices.Target
	log      *slog.Logger
}

// Run profiles target: see [NewPlan] and [Plan.Execute].
func Run(ctx context.Context, target devices.Target, o Options) (*lut.LUT, error) {
	p, err := NewPlan(ctx, target, o)
	if err != nil {
		return nil, err
	}
	return p.Execute(ctx)
}

// NewPlan checks the options, probes the device, fills in the defaults of
// its class, and reads the journal if there is one. It writes nothing,
// except that Options.Restart renames an existing journal aside.
func NewPlan(ctx context.Context, target devices.Target, o Options) (*Plan, error) {
	sp, err := o.validateStatic()
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	fp, err := devices.Probe(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", target.Name(), err)
	}
	p := &Plan{Target: target.Name(), Fingerprint: fp, space: sp, target: target, log: log}
	p.Class, p.Warnings, err = resolveDefaults(ctx, target, fp, &o)
	if err != nil {
		return nil, err
	}
	p.Options = o
	p.Identity = Identity{Space: sp.Name, Resolutions: o.Resolutions, Batch: o.Batch, Threads: o.Threads,
		Provider: o.Provider, Runner: o.Runner, CPUAffinity: o.CPUAffinity, Networks: o.Networks, Seed: o.Seed,
		Measure: identityMsr{Warmup: o.Measure.Warmup, MinRuns: o.Measure.MinRuns, MaxRuns: o.Measure.MaxRuns,
			TargetCI: o.Measure.TargetCI, MaxTime: o.Measure.MaxTime.Seconds(), SampleMS: o.Measure.SampleMS}}
	if o.Measure.Rounds > 1 {
		p.Identity.Measure.Rounds = o.Measure.Rounds
	}
	p.refLayer, p.refR = referenceLayer(sp, o.Resolutions)
	p.Reference = p.refLayer.Key()

	p.items = planItems(sp, &o)
	for _, it := range p.items {
		if it.kind == recEntry {
			p.Entries++
		} else {
			p.NetworksAll++
		}
	}
	if o.Journal != "" {
		if err := p.openJournal(); err != nil {
			return nil, err
		}
	}
	p.schedule()
	return p, nil
}

// UseJournal makes p resume the journal at path (or start one there), as
// [NewPlan] does when Options.Journal is set, without probing the device
// again: for a caller that learns where the journal goes from the plan
// itself (a cache keyed by the device's fingerprint and the settings).
func (p *Plan) UseJournal(path string) error {
	p.Options.Journal, p.journal = path, nil
	if err := p.openJournal(); err != nil {
		return err
	}
	p.schedule()
	return nil
}

// schedule sets what is left to measure of p's items: what the journal
// has not measured yet.
func (p *Plan) schedule() {
	p.Done, p.todo = 0, nil
	for _, it := range p.items {
		if p.journal != nil {
			if _, done := p.journal.Done[it.id]; done {
				p.Done++
				continue
			}
		}
		p.todo = append(p.todo, it)
	}
}

// resolveDefaults fills the defaults of the device's class into o and
// returns the class, with warnings about settings that look wrong.
func resolveDefaults(ctx context.Context, t devices.Target, fp *devices.Fingerprint, o *Options) (class string, warnings []string, err error) {
	switch {
	case o.Provider == "cuda" || o.Provider == "tensorrt" || o.Runner == RunnerTrtexec || fp.Jetson != nil:
		class = ClassGPU
	case fp.OS == "android":
		class = ClassMobile
	default:
		class = ClassCPU
	}
	if o.Threads == 0 {
		o.Threads = 1
		if o.Provider == "xnnpack" {
			// XNNPACK runs on its own pool, one thread per big core
			// (see ort's XNNPACK settings).
			o.Threads = max(1, len(fastestCores(fp)))
		}
	}
	if o.Runner == "" {
		o.Runner = RunnerAgent
		if class == ClassGPU && (o.Provider == "" || o.Provider == "tensorrt") && hasCommand(ctx, t, "trtexec") {
			o.Runner = RunnerTrtexec
		}
	}
	if o.Provider == "" {
		switch {
		case o.Runner == RunnerTrtexec:
			o.Provider = "tensorrt"
		case class == ClassGPU:
			o.Provider = "cuda"
		default:
			o.Provider = "cpu"
		}
	}
	if o.Runner == RunnerTrtexec && o.Provider != "tensorrt" {
		return "", nil, fmt.Errorf("runner trtexec runs TensorRT only; drop --ep %s or use --runner agent", o.Provider)
	}
	if o.CPUAffinity == "" {
		o.CPUAffinity = "none"
		if class != ClassGPU {
			if cpus := defaultCPUs(fp, o.Threads); cpus != nil {
				o.CPUAffinity = maskOf(cpus)
			} else {
				warnings = append(warnings, fmt.Sprintf("%d threads do not fit the fastest cluster; not pinning", o.Threads))
			}
		}
	}
	if o.CPUAffinity != "none" {
		cpus, _ := parseMask(o.CPUAffinity)
		if len(cpus) < o.Threads {
			warnings = append(warnings, fmt.Sprintf("cpu affinity %s holds %d cores for %d threads", o.CPUAffinity, len(cpus), o.Threads))
		}
	}
	if fp.Cores > 0 && o.Threads > fp.Cores {
		warnings = append(warnings, fmt.Sprintf("%d threads on a device with %d cores", o.Threads, fp.Cores))
	}
	return class, warnings, nil
}

// defaultCPUs picks the cores a CPU or mobile measurement is pinned to:
// the highest-numbered threads cores of the fastest cluster (all cores
// when the device shows no cpufreq clusters). Pinning keeps the scheduler
// from moving the measuring thread between cores, which on big.LITTLE
// phones changes the core type and on shared or virtual machines alone
// makes one model's latency jump between sessions (measured: up to 1.6x
// on an idle 16-core VM, gone when pinned). It returns nil when the
// threads do not fit.
func defaultCPUs(fp *devices.Fingerprint, threads int) []int {
	pool := fastestCores(fp)
	if threads > len(pool) {
		return nil
	}
	return slices.Clone(pool[len(pool)-threads:])
}

// fastestCores returns the CPUs of the fastest cluster (a phone's big
// cores), or every core when the device shows no cpufreq clusters.
func fastestCores(fp *devices.Fingerprint) []int {
	if cl := fp.Clusters; len(cl) > 0 && len(cl[len(cl)-1].CPUs) > 0 {
		return cl[len(cl)-1].CPUs // sorted fastest last
	}
	var pool []int
	for c := 0; c < fp.Cores; c++ {
		pool = append(pool, c)
	}
	return pool
}

func hasCommand(ctx context.Context, t devices.Target, name string) bool {
	_, err := t.Run(ctx, []string{"sh", "-c", "command -v " + devices.Quote(name) + " || test -x /usr/src/tensorrt/bin/" + devices.Quote(name)}, devices.RunOptions{})
	return err == nil
}

// deviceDigest hashes the fingerprint fields that identify the hardware and
// system, leaving out clocks, temperatures and free memory, which change
// from minute to minute.
func deviceDigest(fp *devices.Fingerprint) (digest, summary string) {
	type cl struct {
		CPUs   []int
		MaxKHz int64
		Type   string
	}
	id := struct {
		OS, Kernel, Arch, Machine, CPU string
		Cores                          int
		Clusters                       []cl
		Android                        *devices.AndroidInfo
		L4T, PowerMode                 string
	}{OS: fp.OS, Kernel: fp.Kernel, Arch: fp.Arch, Machine: fp.Machine, CPU: fp.CPUModel, Cores: fp.Cores, Android: fp.Android}
	for _, c := range fp.Clusters {
		id.Clusters = append(id.Clusters, cl{c.CPUs, c.MaxFreqKHz, c.CoreType})
	}
	if fp.Jetson != nil {
		id.L4T, id.PowerMode = fp.Jetson.L4T, fp.Jetson.PowerMode
	}
	b, _ := json.Marshal(id)
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:]), fp.Summary()
}

func (p *Plan) openJournal() error {
	path := p.Options.Journal
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if p.Options.Restart {
		aside := path + ".old-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(path, aside); err != nil {
			return fmt.Errorf("set journal aside: %w", err)
		}
		p.log.Info("restarting: previous journal set aside", "journal", aside)
		return nil
	}
	j, err := LoadJournal(path)
	if err != nil {
		return err
	}
	if j.Header.Journal == "" { // empty, or only a torn header: nothing measured
		return nil
	}
	if j.Header.Digest != p.Identity.digest() {
		ch := p.Identity.diff(j.Header.Identity)
		if len(ch) == 0 {
			ch = []string{"the journal's settings digest does not match"}
		}
		return &SettingsChangedError{Journal: path, Changes: ch}
	}
	dd, summary := deviceDigest(p.Fingerprint)
	if j.Header.DeviceDigest != "" && j.Header.DeviceDigest != dd {
		return &SettingsChangedError{Journal: path, Changes: []string{fmt.Sprintf("device was %q, now %q", j.Header.Device, summary)}}
	}
	p.journal = j
	return nil
}

// Remaining returns how many models Execute will measure.
func (p *Plan) Remaining() int { return len(p.todo) }

// Execute measures the plan's models on the device in batches, journalling
// each batch as it completes, and returns the table: every entry and
// network of the journal, old and new. Cancelling ctx stops after the
// current batch's runner is killed; what was journalled is kept and a
// rerun with the same options resumes.
func (p *Plan) Execute(ctx context.Context) (*lut.LUT, error) {
	o := &p.Options
	start := time.Now()
	r, err := newRunner(ctx, p)
	if err != nil {
		return nil, err
	}
	defer r.Close(context.WithoutCancel(ctx))
	rt := r.Runtime()
	rt.Batch, rt.Threads, rt.Provider = o.Batch, o.Threads, o.Provider
	if ar, ok := r.(*agentRunner); ok {
		p.Fingerprint.Runtime = agent.RuntimeInfo(ar.agent.Info)
	}

	var jw *journalWriter
	if o.Journal != "" {
		if p.journal == nil {
			dd, summary := deviceDigest(p.Fingerprint)
			h := journalHeader{Journal: journalMagic, Version: journalVersion, Created: time.Now().UTC(), Target: p.Target,
				Identity: p.Identity, Digest: p.Identity.digest(), DeviceDigest: dd, Device: summary}
			// An empty or header-torn file holds nothing: replace it.
			if fi, err := os.Stat(o.Journal); err == nil && fi.Mode().IsRegular() {
				if err := os.Remove(o.Journal); err != nil {
					return nil, fmt.Errorf("journal: %w", err)
				}
			}
			jw, err = createJournal(o.Journal, h)
			if err != nil {
				return nil, hostErr(o.Journal, err)
			}
			p.journal = &Journal{Header: h, Done: map[string]int{}}
		} else {
			if prev := p.sessionRuntime(); prev != nil && (prev.Name != rt.Name || prev.Version != rt.Version) {
				return nil, &SettingsChangedError{Journal: o.Journal, Changes: []string{
					fmt.Sprintf("runtime was %s %s, now %s %s", prev.Name, prev.Version, rt.Name, rt.Version)}}
			}
			jw, err = appendJournal(o.Journal, p.journal)
			if err != nil {
				return nil, hostErr(o.Journal, err)
			}
			if p.journal.Torn {
				p.log.Warn("dropped the torn last line of the journal (a previous run was killed while writing it)", "journal", o.Journal)
			}
		}
		defer jw.Close()
		fpJSON, _ := json.Marshal(p.Fingerprint)
		if err := p.record(jw, journalRecord{Kind: recSession, Fingerprint: fpJSON, Runtime: &rt}); err != nil {
			return nil, err
		}
	} else {
		p.journal = &Journal{Done: map[string]int{}}
	}

	ex := &executor{plan: p, runner: r, jw: jw, start: start, log: p.log}
	if err := ex.run(ctx); err != nil {
		return nil, err
	}

	after, err := devices.Probe(ctx, p.target)
	if err != nil {
		return nil, fmt.Errorf("probe %s after profiling: %w", p.Target, err)
	}
	if ar, ok := r.(*agentRunner); ok {
		after.Runtime = ar.usedRuntime() // with the provider actually used
	}
	afterJSON, _ := json.Marshal(after)
	if err := p.record(jw, journalRecord{Kind: recFinish, Fingerprint: afterJSON}); err != nil {
		return nil, err
	}
	return p.table(rt, afterJSON)
}

// record appends to the journal (if any) and to the in-memory copy.
func (p *Plan) record(jw *journalWriter, recs ...journalRecord) error {
	if jw != nil {
		if err := jw.append(recs...); err != nil {
			return hostErr(p.Options.Journal, err)
		}
	}
	for _, rec := range recs {
		// Keep what the journal holds, so that the table assembled now is
		// the one a resumed run assembles from the file (statistics keep
		// no min, max or interval there; see timing.Stats).
		b, err := json.Marshal(&rec)
		if err == nil {
			rec = journalRecord{}
			err = json.Unmarshal(b, &rec)
		}
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		p.journal.Records = append(p.journal.Records, rec)
		if id := rec.id(); id != "" {
			if _, dup := p.journal.Done[id]; dup {
				p.journal.Duplicates++
			} else {
				p.journal.Done[id] = len(p.journal.Records) - 1
			}
		}
	}
	return nil
}

func hostErr(path string, err error) error {
	if isNoSpace(err) {
		return &DeviceFullError{Where: path, Host: true, Err: err}
	}
	return err
}

// sessionRuntime returns the runtime of the journal's first session.
func (p *Plan) sessionRuntime() *lut.Runtime {
	for _, rec := range p.journal.Records {
		if rec.Kind == recSession && rec.Runtime != nil {
			return rec.Runtime
		}
	}
	return nil
}

// table assembles the LUT from the journal.
func (p *Plan) table(rt lut.Runtime, after json.RawMessage) (*lut.LUT, error) {
	o := p.Options
	t := &lut.LUT{Version: lut.Version, Space: p.space.Name, Target: p.Target, Runtime: rt, Unit: "ms", Stat: lut.StatMedian,
		FingerprintAfter: after}
	for _, rec := range p.journal.Records {
		if rec.Kind == recSession && rec.Fingerprint != nil {
			t.FingerprintBefore = rec.Fingerprint
			break
		}
	}
	t.Settings = lut.MeasurementSettings{Warmup: o.Measure.Warmup, MinRuns: o.Measure.MinRuns, MaxRuns: o.Measure.MaxRuns,
		TargetCIPercent: o.Measure.TargetCI * 100, MaxSeconds: o.Measure.MaxTime.Seconds(), Shuffled: true,
		Extra: map[string]string{
			"runner":          o.Runner,
			"seed":            strconv.FormatUint(o.Seed, 10),
			"networks":        strconv.Itoa(o.Networks),
			"reference":       fmt.Sprintf("%d/%s", p.refR, p.Reference),
			"drift_threshold": strconv.FormatFloat(o.Measure.DriftThreshold, 'g', -1, 64),
			"class":           p.Class,
			"sample_ms":       strconv.FormatFloat(o.Measure.SampleMS, 'g', -1, 64),
			"rounds":          strconv.Itoa(o.Measure.Rounds),
			"drift_noise":     strconv.FormatFloat(p.DriftNoise, 'f', 4, 64),
		}}
	if o.CPUAffinity != "none" {
		t.Settings.CPUAffinity = o.CPUAffinity
	}
	if o.Measure.MaxCooldown > 0 {
		t.Settings.Extra["cooldown"] = fmt.Sprintf("hottest zone within %g C of start, at most %s", o.Measure.CooldownDelta, o.Measure.MaxCooldown)
	}
	// In journal order, so that the table is the same however often the
	// run was resumed (Sort keeps that order within a resolution).
	done := slices.Sorted(maps.Values(p.journal.Done))
	for _, i := range done {
		rec := p.journal.Records[i]
		switch rec.Kind {
		case recEntry:
			l, err := lut.ParseKey(rec.Key)
			if err != nil {
				return nil, fmt.Errorf("journal entry %s: %w", rec.Key, err)
			}
			t.Entries = append(t.Entries, lut.NewEntry(l, rec.R, *rec.Stats))
		case recNetwork:
			t.Networks = append(t.Networks, lut.NetworkMeasurement{Config: *rec.Config, Stats: *rec.Stats})
		}
	}
	t.Sort()
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("assemble lookup table: %w", err)
	}
	return t, nil
}

// Finished returns the table at path when the plan has nothing left to
// measure and that table holds exactly the journal's measurements for the
// plan's space and runtime settings: the table the run that finished the
// journal wrote. A rerun of a finished profile then leaves it as it is
// (its fingerprints, drift noise and order included) instead of writing it
// anew. It returns nil otherwise: work remains, there is no journal, or the
// file is missing, invalid or holds other numbers.
func (p *Plan) Finished(path string) *lut.LUT {
	if len(p.todo) > 0 || p.journal == nil || path == "" {
		return nil
	}
	t, err := lut.Load(path)
	if err != nil || t.Space != p.space.Name || t.Runtime.Batch != p.Options.Batch ||
		t.Runtime.Threads != p.Options.Threads || t.Runtime.Provider != p.Options.Provider {
		return nil
	}
	nets := map[string]int{}
	entries := 0
	for _, i := range p.journal.Done {
		rec := p.journal.Records[i]
		switch rec.Kind {
		case recEntry:
			e, ok := t.Lookup(rec.R, rec.Key)
			if !ok || e.Stats.Median != rec.Stats.Median || e.Stats.N != rec.Stats.N {
				return nil
			}
			entries++
		case recNetwork:
			nets[fmt.Sprintf("%s %v %d", rec.Config, rec.Stats.Median, rec.Stats.N)]++
		}
	}
	if entries != len(t.Entries) || len(t.Networks) != p.NetworksAll {
		return nil
	}
	for _, n := range t.Networks {
		k := fmt.Sprintf("%s %v %d", n.Config, n.Stats.Median, n.Stats.N)
		if nets[k] == 0 {
			return nil
		}
		nets[k]--
	}
	return t
}
