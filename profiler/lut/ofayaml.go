package lut

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/profiler/timing"
)

// OFA's latency tables are one YAML file per input resolution, named
// {r}_lookup_table.yaml, mapping each layer key to {count, mean, std} in
// milliseconds. OFA's estimator sums the "mean" of every layer of a subnet.
const ofaSuffix = "_lookup_table.yaml"

// OFAFileName returns the name OFA gives the table of resolution r.
func OFAFileName(r int) string { return strconv.Itoa(r) + ofaSuffix }

// ImportOFA reads OFA YAML lookup tables, one reader per input resolution,
// into a [LUT] for the named space (OFA's published Note10 tables are for
// "ofa-mbv3-w1.2"). Each key is parsed with [ParseKey]; count becomes
// Stats.N, mean becomes Stats.Mean (the table's latency statistic, as in
// OFA) and std becomes Stats.Std; the median and percentiles, which OFA did
// not record, stay zero. Target is left empty for the caller to fill.
//
// The result validates, and [ExportOFA] writes it back with the same keys
// and numbers.
func ImportOFA(space string, tables map[int]io.Reader) (*LUT, error) {
	if len(tables) == 0 {
		return nil, errors.New("import OFA tables: no tables given: pass one {r}_lookup_table.yaml per resolution")
	}
	t := &LUT{Version: Version, Space: space, Source: "OFA YAML lookup tables",
		Runtime: Runtime{Name: "unknown", Batch: 1}, Unit: "ms", Stat: StatMean}
	if _, err := t.SpaceOf(); err != nil {
		return nil, fmt.Errorf("import OFA tables: %w", err)
	}
	rs := make([]int, 0, len(tables))
	for r := range tables {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	for _, r := range rs {
		data, err := io.ReadAll(tables[r])
		if err != nil {
			return nil, fmt.Errorf("import OFA table for r=%d: %w", r, err)
		}
		es, err := parseOFATable(data, r)
		if err != nil {
			return nil, fmt.Errorf("import OFA table %s: %w", OFAFileName(r), err)
		}
		t.Entries = append(t.Entries, es...)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("import OFA tables: %w", err)
	}
	return t, nil
}

// ImportOFAFiles is [ImportOFA] on files, given by resolution.
func ImportOFAFiles(space string, files map[int]string) (*LUT, error) {
	readers := map[int]io.Reader{}
	for r, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("import OFA tables: %w", err)
		}
		readers[r] = bytes.NewReader(data)
	}
	t, err := ImportOFA(space, readers)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ImportOFADir imports every {r}_lookup_table.yaml in dir.
func ImportOFADir(space, dir string) (*LUT, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*"+ofaSuffix))
	if err != nil {
		return nil, fmt.Errorf("import OFA tables: %w", err)
	}
	files := map[int]string{}
	for _, p := range names {
		r, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ofaSuffix))
		if err != nil {
			continue
		}
		files[r] = p
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("import OFA tables: no {r}_lookup_table.yaml in %s", dir)
	}
	return ImportOFAFiles(space, files)
}

func parseOFATable(data []byte, r int) ([]Entry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("want a YAML mapping from layer keys to {count, mean, std}")
	}
	m := doc.Content[0]
	var out []Entry
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn, vn := m.Content[i], m.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: key is not a string", kn.Line)
		}
		key := kn.Value
		if line, dup := seen[key]; dup {
			return nil, fmt.Errorf("line %d: key %s already appeared on line %d", kn.Line, key, line)
		}
		seen[key] = kn.Line
		l, err := ParseKey(key)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", kn.Line, err)
		}
		st, err := parseOFAStats(vn)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", kn.Line, key, err)
		}
		out = append(out, NewEntry(l, r, st))
	}
	if len(out) == 0 {
		return nil, errors.New("table has no entries")
	}
	return out, nil
}

func parseOFAStats(n *yaml.Node) (timing.Stats, error) {
	if n.Kind != yaml.MappingNode {
		return timing.Stats{}, errors.New("value is not a mapping {count, mean, std}")
	}
	var st timing.Stats
	have := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, v := n.Content[i].Value, n.Content[i+1]
		if have[name] {
			return timing.Stats{}, fmt.Errorf("field %q appears twice", name)
		}
		have[name] = true
		if v.Kind != yaml.ScalarNode {
			return timing.Stats{}, fmt.Errorf("%s is not a number", name)
		}
		switch name {
		case "count":
			c, err := strconv.Atoi(v.Value)
			if err != nil || c < 1 {
				return timing.Stats{}, fmt.Errorf("count %q is not a positive whole number", v.Value)
			}
			st.N = c
		case "mean", "std":
			f, err := strconv.ParseFloat(v.Value, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
				return timing.Stats{}, fmt.Errorf("%s %q is not a finite number >= 0", name, v.Value)
			}
			if name == "mean" {
				st.Mean = f
			} else {
				st.Std = f
			}
		default:
			return timing.Stats{}, fmt.Errorf("unknown field %q: OFA MobileNetV3 tables hold count, mean and std", name)
		}
	}
	for _, f := range []string{"count", "mean", "std"} {
		if !have[f] {
			return timing.Stats{}, fmt.Errorf("field %q is missing", f)
		}
	}
	if st.Mean == 0 {
		return timing.Stats{}, errors.New("mean latency is 0: a measured layer takes time")
	}
	st.CoV = st.Std / st.Mean
	return st, nil
}

// ExportOFA writes the table as OFA YAML lookup tables, one
// {r}_lookup_table.yaml per resolution in dir, which OFA's LatencyTable and
// Mbv3LatencyModel read. The "mean" field holds the table's latency
// statistic (the median for edgefit's own tables), so that OFA sums the
// same numbers edgefit does. Keys are sorted and numbers written the way
// PyYAML writes them, so that a table imported with [ImportOFA] exports
// back to the same text. It returns the paths written.
func ExportOFA(t *LUT, dir string) ([]string, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("export OFA tables: %w", err)
	}
	var paths []string
	for _, r := range t.Resolutions() {
		var es []*Entry
		for i := range t.Entries {
			if t.Entries[i].Resolution == r {
				es = append(es, &t.Entries[i])
			}
		}
		slices.SortFunc(es, func(a, b *Entry) int { return strings.Compare(a.Key, b.Key) })
		var b bytes.Buffer
		for _, e := range es {
			fmt.Fprintf(&b, "%s:\n  count: %d\n  mean: %s\n  std: %s\n", e.Key, e.Stats.N, pyFloat(t.Latency(e)), pyFloat(e.Stats.Std))
		}
		p := filepath.Join(dir, OFAFileName(r))
		if err := atomicfile.WriteFile(p, b.Bytes()); err != nil {
			return paths, fmt.Errorf("export OFA tables: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// pyFloat formats v as PyYAML does: Python's shortest repr (fixed notation
// for decimal exponents -4..15, scientific otherwise), with ".0" added
// where the repr has no point so that YAML 1.1 reads a float back. The
// digits are the shortest that round-trip, so parsing gives v exactly.
func pyFloat(v float64) string {
	e := strconv.FormatFloat(v, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if v == 0 || (exp >= -4 && exp < 16) {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	if !strings.Contains(e, ".") {
		e = strings.Replace(e, "e", ".0e", 1)
	}
	return e
}
