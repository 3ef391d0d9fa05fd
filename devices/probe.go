package devices

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Fingerprint is what a latency measurement depends on, read from the
// device by [Probe]. Fields the device does not expose stay empty.
type Fingerprint struct {
	Target   string `json:"target"`
	OS       string `json:"os"`               // "linux", "android"
	Kernel   string `json:"kernel,omitempty"` // uname -r
	Arch     string `json:"arch"`             // GOARCH name: "arm64", "amd64", ...
	Machine  string `json:"machine"`          // uname -m
	Distro   string `json:"distro,omitempty"` // /etc/os-release PRETTY_NAME
	CPUModel string `json:"cpu_model,omitempty"`
	Cores    int    `json:"cores"` // online logical CPUs

	Clusters []Cluster     `json:"clusters,omitempty"` // one per cpufreq policy, fastest last
	Thermal  []ThermalZone `json:"thermal,omitempty"`

	MemTotalBytes     int64 `json:"mem_total_bytes,omitempty"`
	MemAvailableBytes int64 `json:"mem_available_bytes,omitempty"`

	Android *AndroidInfo `json:"android,omitempty"`
	Jetson  *JetsonInfo  `json:"jetson,omitempty"`

	// Runtime is filled by the agent's info mode when an agent is deployed
	// (profiler/agent); Probe alone leaves it nil.
	Runtime *RuntimeInfo `json:"runtime,omitempty"`
}

// Cluster is a set of cores sharing one clock (a cpufreq policy): on
// big.LITTLE phones, one per core type.
type Cluster struct {
	Policy        string `json:"policy"` // "policy0"
	CPUs          []int  `json:"cpus"`
	CoreType      string `json:"core_type,omitempty"` // e.g. "Cortex-A76", from /proc/cpuinfo
	MinFreqKHz    int64  `json:"min_freq_khz,omitempty"`
	MaxFreqKHz    int64  `json:"max_freq_khz,omitempty"`
	CurFreqKHz    int64  `json:"cur_freq_khz,omitempty"`
	Governor      string `json:"governor,omitempty"`
	ScalingMinKHz int64  `json:"scaling_min_khz,omitempty"`
	ScalingMaxKHz int64  `json:"scaling_max_khz,omitempty"`
}

// ThermalZone is one /sys/class/thermal zone.
type ThermalZone struct {
	Zone  string  `json:"zone"` // "thermal_zone0"
	Type  string  `json:"type,omitempty"`
	TempC float64 `json:"temp_c"`
}

// AndroidInfo holds system properties of an Android device.
type AndroidInfo struct {
	Model        string `json:"model,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	SoC          string `json:"soc,omitempty"` // ro.soc.model, else ro.board.platform, else ro.hardware
	ABI          string `json:"abi,omitempty"`
	Release      string `json:"release,omitempty"` // Android version
	SDK          string `json:"sdk,omitempty"`
}

// JetsonInfo holds NVIDIA Jetson specifics.
type JetsonInfo struct {
	L4T       string `json:"l4t,omitempty"`        // first line of /etc/nv_tegra_release
	PowerMode string `json:"power_mode,omitempty"` // nvpmodel -q, e.g. "MAXN (0)"
}

// RuntimeInfo says which ONNX Runtime the agent loaded on the device.
type RuntimeInfo struct {
	ORTVersion string   `json:"ort_version"`
	Library    string   `json:"library,omitempty"`
	Providers  []string `json:"providers"`
	Agent      string   `json:"agent,omitempty"` // agent version
	// Provider is the execution provider measurements actually ran on
	// (ONNX Runtime's name), and ProviderNodes how many model nodes ONNX
	// Runtime assigned to each provider, summed over the models measured;
	// both are set once models have run.
	Provider      string         `json:"provider,omitempty"`
	ProviderNodes map[string]int `json:"provider_nodes,omitempty"`
	// ProviderChecks say which of Providers (every provider the library
	// was built with) can actually run on the device, and why not; set by
	// a probe with the agent.
	ProviderChecks []ProviderCheck `json:"provider_checks,omitempty"`
}

// ProviderCheck is whether one execution provider ran a probe model on the
// device.
type ProviderCheck struct {
	Name   string `json:"name"`
	Usable bool   `json:"usable"`
	Reason string `json:"reason,omitempty"` // why it cannot run, or a note
}

// probeScript prints sections "@@edgefit <name>" for the Go parser. Every
// read tolerates a missing file: containers and phones hide many.
const probeScript = `s() { echo "@@edgefit $1"; }
s uname; uname -s; uname -r; uname -m
s os-release; cat /etc/os-release 2>/dev/null
s cpuinfo; cat /proc/cpuinfo 2>/dev/null
s meminfo; cat /proc/meminfo 2>/dev/null
s online; cat /sys/devices/system/cpu/online 2>/dev/null
s nproc; (nproc || getconf _NPROCESSORS_ONLN) 2>/dev/null
for p in /sys/devices/system/cpu/cpufreq/policy*; do
  [ -d "$p" ] || continue
  s "policy ${p##*/}"
  for f in related_cpus cpuinfo_min_freq cpuinfo_max_freq scaling_cur_freq scaling_governor scaling_min_freq scaling_max_freq; do
    [ -r "$p/$f" ] && echo "$f=$(cat "$p/$f" 2>/dev/null)"
  done
done
for z in /sys/class/thermal/thermal_zone*; do
  [ -d "$z" ] || continue
  s "thermal ${z##*/}"
  echo "type=$(cat "$z/type" 2>/dev/null)"
  echo "temp=$(cat "$z/temp" 2>/dev/null)"
done
if command -v getprop >/dev/null 2>&1; then
  s getprop
  for k in ro.product.model ro.product.manufacturer ro.soc.model ro.board.platform ro.hardware ro.product.cpu.abi ro.build.version.release ro.build.version.sdk; do
    echo "$k=$(getprop $k 2>/dev/null)"
  done
fi
if [ -r /etc/nv_tegra_release ]; then s tegra; head -n 1 /etc/nv_tegra_release; fi
if command -v nvpmodel >/dev/null 2>&1; then s nvpmodel; nvpmodel -q 2>/dev/null; fi
s end
`

// Probe reads the device's [Fingerprint] with one shell round trip.
func Probe(ctx context.Context, t Target) (*Fingerprint, error) {
	res, err := t.Run(ctx, []string{"sh", "-c", probeScript}, RunOptions{})
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", t.Name(), err)
	}
	fp, err := ParseProbe(string(res.Stdout))
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", t.Name(), err)
	}
	fp.Target = t.Name()
	return fp, nil
}

// ParseProbe parses the sectioned output of the probe script. It fails
// only when the output is not the script's at all (no "uname" section);
// anything else missing or malformed leaves fields empty.
func ParseProbe(out string) (*Fingerprint, error) {
	sections := map[string][]string{}
	var order []string
	cur := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if name, ok := strings.CutPrefix(line, "@@edgefit "); ok {
			cur = strings.TrimSpace(name)
			if _, seen := sections[cur]; !seen {
				order = append(order, cur)
			}
			sections[cur] = sections[cur][:0:0]
			continue
		}
		if cur != "" {
			sections[cur] = append(sections[cur], line)
		}
	}
	un, ok := sections["uname"]
	if !ok {
		return nil, fmt.Errorf("unexpected probe output (no uname section): %.200q", out)
	}
	fp := &Fingerprint{}
	if len(un) > 0 {
		fp.OS = strings.ToLower(strings.TrimSpace(un[0]))
	}
	if len(un) > 1 {
		fp.Kernel = strings.TrimSpace(un[1])
	}
	if len(un) > 2 {
		fp.Machine = strings.TrimSpace(un[2])
		fp.Arch = GoArch(fp.Machine)
	}
	if osr := keyValues(sections["os-release"], "="); osr["PRETTY_NAME"] != "" {
		fp.Distro = strings.Trim(osr["PRETTY_NAME"], `"'`)
	}
	coreTypes := parseCPUInfo(fp, sections["cpuinfo"])
	parseMemInfo(fp, sections["meminfo"])
	if on := strings.TrimSpace(first(sections["online"])); on != "" {
		fp.Cores = len(parseCPUList(on))
	}
	if fp.Cores == 0 {
		fp.Cores, _ = strconv.Atoi(strings.TrimSpace(first(sections["nproc"])))
	}
	for _, name := range order {
		body := sections[name]
		switch {
		case strings.HasPrefix(name, "policy "):
			fp.Clusters = append(fp.Clusters, parsePolicy(strings.TrimPrefix(name, "policy "), body, coreTypes))
		case strings.HasPrefix(name, "thermal "):
			if z, ok := parseThermal(strings.TrimPrefix(name, "thermal "), body); ok {
				fp.Thermal = append(fp.Thermal, z)
			}
		}
	}
	sort.SliceStable(fp.Clusters, func(i, j int) bool {
		if fp.Clusters[i].MaxFreqKHz != fp.Clusters[j].MaxFreqKHz {
			return fp.Clusters[i].MaxFreqKHz < fp.Clusters[j].MaxFreqKHz
		}
		return firstCPU(fp.Clusters[i].CPUs) < firstCPU(fp.Clusters[j].CPUs)
	})
	if props, ok := sections["getprop"]; ok {
		p := keyValues(props, "=")
		if p["ro.build.version.sdk"] != "" || p["ro.product.model"] != "" {
			fp.OS = "android"
			a := &AndroidInfo{
				Model:        p["ro.product.model"],
				Manufacturer: p["ro.product.manufacturer"],
				ABI:          p["ro.product.cpu.abi"],
				Release:      p["ro.build.version.release"],
				SDK:          p["ro.build.version.sdk"],
			}
			for _, k := range []string{"ro.soc.model", "ro.board.platform", "ro.hardware"} {
				if p[k] != "" {
					a.SoC = p[k]
					break
				}
			}
			fp.Android = a
		}
	}
	tegra, hasTegra := sections["tegra"]
	nvp, hasNvp := sections["nvpmodel"]
	if hasTegra || hasNvp {
		j := &JetsonInfo{L4T: strings.TrimSpace(strings.TrimPrefix(first(tegra), "#"))}
		j.PowerMode = parseNvpmodel(nvp)
		fp.Jetson = j
	}
	return fp, nil
}

func first(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[0]
}

func firstCPU(cpus []int) int {
	if len(cpus) == 0 {
		return math.MaxInt
	}
	return cpus[0]
}

// keyValues reads "key<sep>value" lines; later keys win.
func keyValues(lines []string, sep string) map[string]string {
	m := map[string]string{}
	for _, l := range lines {
		if k, v, ok := strings.Cut(l, sep); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// parseCPUList reads Linux CPU lists such as "0-3,6,8-9". Bad parts are
// skipped; the list is capped so hostile input cannot exhaust memory.
func parseCPUList(s string) []int {
	var cpus []int
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				continue
			}
		}
		for c := a; c <= b && len(cpus) < 4096; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// parseCPUInfo fills the CPU model and returns the core type per CPU
// number (ARM "CPU part" names), for labelling clusters.
func parseCPUInfo(fp *Fingerprint, lines []string) map[int]string {
	types := map[int]string{}
	cpu := -1
	var impl string
	counts := map[string]int{}
	var kinds []string
	hardware := ""
	flush := func(part string) {
		if cpu < 0 || part == "" {
			return
		}
		name := armCoreName(impl, part)
		types[cpu] = name
		if counts[name] == 0 {
			kinds = append(kinds, name)
		}
		counts[name]++
	}
	var part string
	for _, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			flush(part)
			part, impl = "", ""
			cpu = -1
			if n, err := strconv.Atoi(v); err == nil {
				cpu = n
			}
		case "model name":
			if fp.CPUModel == "" {
				fp.CPUModel = v
			}
		case "CPU implementer":
			impl = v
		case "CPU part":
			part = v
		case "Hardware":
			hardware = v
		}
	}
	flush(part)
	if fp.CPUModel == "" && len(kinds) > 0 {
		var parts []string
		for _, k := range kinds {
			parts = append(parts, fmt.Sprintf("%d× %s", counts[k], k))
		}
		fp.CPUModel = strings.Join(parts, " + ")
	}
	if hardware != "" {
		if fp.CPUModel == "" {
			fp.CPUModel = hardware
		} else if !strings.Contains(fp.CPUModel, hardware) {
			fp.CPUModel += " (" + hardware + ")"
		}
	}
	return types
}

// armCores names common ARM-designed cores by "CPU part" (implementer 0x41).
var armCores = map[string]string{
	"0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
	"0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
	"0xd0c": "Neoverse-N1", "0xd0d": "Cortex-A77", "0xd0e": "Cortex-A76AE", "0xd40": "Neoverse-V1",
	"0xd41": "Cortex-A78", "0xd42": "Cortex-A78AE", "0xd44": "Cortex-X1", "0xd46": "Cortex-A510",
	"0xd47": "Cortex-A710", "0xd48": "Cortex-X2", "0xd49": "Neoverse-N2", "0xd4b": "Cortex-A78C",
	"0xd4d": "Cortex-A715", "0xd4e": "Cortex-X3", "0xd4f": "Neoverse-V2", "0xd80": "Cortex-A520",
	"0xd81": "Cortex-A720", "0xd82": "Cortex-X4", "0xd85": "Cortex-X925", "0xd87": "Cortex-A725",
}

func armCoreName(impl, part string) string {
	part = strings.ToLower(part)
	switch strings.ToLower(impl) {
	case "0x41":
		if n, ok := armCores[part]; ok {
			return n
		}
	case "0x4e":
		if part == "0x004" {
			return "NVIDIA Carmel"
		}
	}
	if impl == "" {
		return "part " + part
	}
	return "implementer " + impl + " part " + part
}

func parseMemInfo(fp *Fingerprint, lines []string) {
	for _, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 || n > math.MaxInt64/1024 {
			continue
		}
		if len(f) > 1 && strings.EqualFold(f[1], "kB") {
			n *= 1024
		}
		switch strings.TrimSpace(k) {
		case "MemTotal":
			fp.MemTotalBytes = n
		case "MemAvailable":
			fp.MemAvailableBytes = n
		}
	}
}

func parsePolicy(name string, lines []string, coreTypes map[int]string) Cluster {
	kv := keyValues(lines, "=")
	c := Cluster{Policy: name, Governor: kv["scaling_governor"]}
	c.CPUs = parseCPUList(kv["related_cpus"])
	num := func(k string) int64 {
		n, err := strconv.ParseInt(kv[k], 10, 64)
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
	c.MinFreqKHz, c.MaxFreqKHz, c.CurFreqKHz = num("cpuinfo_min_freq"), num("cpuinfo_max_freq"), num("scaling_cur_freq")
	c.ScalingMinKHz, c.ScalingMaxKHz = num("scaling_min_freq"), num("scaling_max_freq")
	for _, cpu := range c.CPUs {
		if t := coreTypes[cpu]; t != "" {
			c.CoreType = t
			break
		}
	}
	return c
}

// parseThermal reads a zone, guessing the unit: kernels report m°C, a few
// drivers °C and some (batteries) d°C. Values that fit none — negative
// sentinels, sensors that are off — drop the zone.
func parseThermal(zone string, lines []string) (ThermalZone, bool) {
	kv := keyValues(lines, "=")
	v, err := strconv.ParseFloat(kv["temp"], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return ThermalZone{}, false
	}
	c, ok := celsius(v)
	if !ok {
		return ThermalZone{}, false
	}
	return ThermalZone{Zone: zone, Type: kv["type"], TempC: c}, true
}

// celsius converts a raw thermal reading: |v| ≥ 1000 is m°C, 150 ≤ |v| <
// 1000 is d°C (no silicon runs at 150 °C), smaller values are °C.
func celsius(v float64) (float64, bool) {
	a := math.Abs(v)
	switch {
	case a >= 1000:
		v /= 1000
	case a >= 150:
		v /= 10
	}
	if v < -40 || v > 150 {
		return 0, false
	}
	return math.Round(v*10) / 10, true
}

// parseNvpmodel reads `nvpmodel -q`: "NV Power Mode: MAXN" then the id.
func parseNvpmodel(lines []string) string {
	mode, id := "", ""
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if m, ok := strings.CutPrefix(l, "NV Power Mode:"); ok {
			mode = strings.TrimSpace(m)
		} else if _, err := strconv.Atoi(l); err == nil && id == "" {
			id = l
		}
	}
	switch {
	case mode != "" && id != "":
		return mode + " (" + id + ")"
	case mode != "":
		return mode
	}
	return id
}

// Summary names the device in one line: OS and architecture, CPU, cores
// and kernel, led by the model and SoC on Android.
func (fp *Fingerprint) Summary() string {
	s := fmt.Sprintf("%s/%s %s, %d cores, kernel %s", fp.OS, fp.Arch, fp.CPUModel, fp.Cores, fp.Kernel)
	if fp.Android != nil {
		s = fmt.Sprintf("%s %s (%s), %s", fp.Android.Manufacturer, fp.Android.Model, fp.Android.SoC, s)
	}
	return s
}

// MaxTempC returns the hottest zone's temperature and type (0, "" if none).
func (fp *Fingerprint) MaxTempC() (float64, string) {
	best, typ := math.Inf(-1), ""
	for _, z := range fp.Thermal {
		if z.TempC > best {
			best, typ = z.TempC, z.Type
		}
	}
	if typ == "" && math.IsInf(best, -1) {
		return 0, ""
	}
	return best, typ
}

// Table returns label/value rows for a two-column table, in reading order;
// rows with nothing to say are left out.
func (fp *Fingerprint) Table() [][2]string {
	var rows [][2]string
	add := func(k, v string) {
		if v != "" {
			rows = append(rows, [2]string{k, v})
		}
	}
	add("target", fp.Target)
	osv := fp.OS
	if fp.Distro != "" {
		osv += " (" + fp.Distro + ")"
	}
	add("os", osv)
	add("kernel", fp.Kernel)
	if fp.Arch != "" {
		add("arch", fp.Arch+" ("+fp.Machine+")")
	}
	if a := fp.Android; a != nil {
		add("device", strings.TrimSpace(a.Manufacturer+" "+a.Model))
		add("soc", a.SoC)
		add("abi", a.ABI)
		if a.Release != "" {
			add("android", a.Release+" (sdk "+a.SDK+")")
		}
	}
	if j := fp.Jetson; j != nil {
		add("l4t", j.L4T)
		add("power mode", j.PowerMode)
	}
	add("cpu", fp.CPUModel)
	if fp.Cores > 0 {
		add("cores", strconv.Itoa(fp.Cores))
	}
	for _, c := range fp.Clusters {
		v := "cpu " + formatCPUList(c.CPUs)
		if c.CoreType != "" {
			v += " " + c.CoreType
		}
		if c.MaxFreqKHz > 0 {
			v += fmt.Sprintf(", max %s", ghz(c.MaxFreqKHz))
		}
		if c.CurFreqKHz > 0 {
			v += fmt.Sprintf(", now %s", ghz(c.CurFreqKHz))
		}
		if c.Governor != "" {
			v += ", " + c.Governor
		}
		if c.ScalingMaxKHz > 0 && c.MaxFreqKHz > 0 && c.ScalingMaxKHz < c.MaxFreqKHz {
			v += fmt.Sprintf(" (capped at %s)", ghz(c.ScalingMaxKHz))
		}
		add("cluster "+c.Policy, v)
	}
	if fp.MemTotalBytes > 0 {
		v := gib(fp.MemTotalBytes) + " total"
		if fp.MemAvailableBytes > 0 {
			v += ", " + gib(fp.MemAvailableBytes) + " available"
		}
		add("memory", v)
	}
	if t, typ := fp.MaxTempC(); typ != "" || t != 0 {
		add("hottest zone", fmt.Sprintf("%.1f °C (%s), %d zones", t, typ, len(fp.Thermal)))
	}
	if r := fp.Runtime; r != nil {
		add("onnx runtime", r.ORTVersion)
		if len(r.ProviderChecks) == 0 {
			add("providers", strings.Join(r.Providers, ", "))
		} else {
			var usable []string
			for _, c := range r.ProviderChecks {
				if c.Usable {
					usable = append(usable, c.Name)
				}
			}
			add("providers built", strings.Join(r.Providers, ", "))
			add("providers usable", strings.Join(usable, ", "))
			for _, c := range r.ProviderChecks {
				if !c.Usable {
					add("not usable", c.Name+": "+c.Reason)
				}
			}
		}
		if r.Provider != "" {
			add("provider used", r.Provider+nodeCounts(r.ProviderNodes))
		}
	}
	return rows
}

// nodeCounts writes " (12 nodes on XnnpackExecutionProvider, 3 on
// CPUExecutionProvider)", most nodes first; "" for none.
func nodeCounts(nodes map[string]int) string {
	names := make([]string, 0, len(nodes))
	for k := range nodes {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if nodes[names[i]] != nodes[names[j]] {
			return nodes[names[i]] > nodes[names[j]]
		}
		return names[i] < names[j]
	})
	var parts []string
	for i, k := range names {
		unit := ""
		if i == 0 {
			unit = " nodes"
		}
		parts = append(parts, fmt.Sprintf("%d%s on %s", nodes[k], unit, k))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func ghz(khz int64) string { return fmt.Sprintf("%.2f GHz", float64(khz)/1e6) }

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// formatCPUList writes CPUs compactly: [0 1 2 3 6] → "0-3,6".
func formatCPUList(cpus []int) string {
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", cpus[i], cpus[j]))
		} else {
			parts = append(parts, strconv.Itoa(cpus[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
