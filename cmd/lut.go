package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit/profiler"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/zoo"
)

func init() { register(newLUTCommand) }

func newLUTCommand(g *globalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "lut",
		Short: "Show and compare lookup tables and convert them from and to OFA's YAML format",
		Example: `  edgefit lut show local.lut.json
  edgefit lut diff monday.lut.json friday.lut.json
  edgefit lut import --space ofa-mbv3-w1.2 note10/ -o note10.lut.json
  edgefit lut export local.lut.json -o ofa-tables/`,
	}
	c.AddCommand(newLUTShowCommand(g), newLUTImportCommand(g), newLUTExportCommand(g), newLUTDiffCommand(g))
	return c
}

// lutResolution is one row of 'edgefit lut show'.
type lutResolution struct {
	Resolution int     `json:"resolution"`
	Entries    int     `json:"entries"`
	Missing    int     `json:"missing"`
	Networks   int     `json:"networks"`
	MedianCoV  float64 `json:"median_cov"`
	MinNetMS   float64 `json:"min_subnet_ms,omitempty"` // sum of the table over the smallest subnet
	MaxNetMS   float64 `json:"max_subnet_ms,omitempty"` // and over the largest
	// MissingKeys are the keys of the space's layers at this resolution
	// that the table lacks.
	MissingKeys []string `json:"missing_keys,omitempty"`
}

type lutShow struct {
	Path        string                  `json:"path"`
	Space       string                  `json:"space"`
	Target      string                  `json:"target"`
	Source      string                  `json:"source,omitempty"`
	Runtime     lut.Runtime             `json:"runtime"`
	Statistic   string                  `json:"statistic"`
	Settings    lut.MeasurementSettings `json:"settings"`
	Entries     int                     `json:"entries"`
	Networks    int                     `json:"networks"`
	MedianCoV   float64                 `json:"median_cov"`
	Resolutions []lutResolution         `json:"resolutions"`
	lutChecks
}

// lutChecks are what 'lut show' finds wrong or worth knowing about a
// table beyond its counts.
type lutChecks struct {
	// ResolutionMin and ResolutionMax bound the resolutions measured.
	ResolutionMin int `json:"resolution_min"`
	ResolutionMax int `json:"resolution_max"`
	// LowN are the entries timed fewer than LowNThreshold times: the
	// table's min_runs, or 5 when it records none.
	LowNThreshold int        `json:"low_n_threshold"`
	LowN          []lutEntry `json:"low_n_entries,omitempty"`
	// Journal is the profiling journal beside the table, and Sessions what
	// its sessions say about the device's speed (a resume on a faster or
	// slower device mixes two speeds); both absent without a journal.
	Journal  string                  `json:"journal,omitempty"`
	Sessions *profiler.SessionReport `json:"sessions,omitempty"`
}

// lutEntry names one entry of a table.
type lutEntry struct {
	Key        string `json:"key"`
	Resolution int    `json:"resolution"`
	N          int    `json:"n"`
}

func newLUTShowCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show DEVICE.lut.json",
		Short: "Summarize a lookup table: runtime, settings and, per resolution, coverage, noise and subnet sums",
		Long: `show validates a lookup table and prints, for each resolution, how many layer entries
it holds and how many of the space's distinct layers it lacks, the median coefficient
of variation of its entries, how many whole subnets were measured, and the table's
sum over the smallest and the largest subnet. Then: the measured resolution range, the
keys it lacks, the entries timed fewer than min_runs times (low n), and, from the
profiling journal beside it, whether a resumed profile mixed two device speeds (its
sessions' drift references differ by more than the drift threshold, or their clock
settings differ).`,
		Example: `  edgefit lut show local.lut.json
  edgefit lut show pi4.lut.json --json`,
		Args: argsExactly("DEVICE.lut.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLUTShow(g, args[0])
		},
	}
}

func runLUTShow(g *globalOptions, path string) error {
	t, err := lut.Load(path)
	if err != nil {
		return withHint(err, "a table comes from 'edgefit profile' or 'edgefit lut import'")
	}
	s, err := summarizeLUT(t, path)
	if err != nil {
		return err
	}
	if g.JSON {
		return writeJSON(g.io.Out, s)
	}
	return printLUTShow(g, s)
}

// summarizeLUT describes a table, resolution by resolution.
func summarizeLUT(t *lut.LUT, path string) (*lutShow, error) {
	sp, err := t.SpaceOf()
	if err != nil {
		return nil, err
	}
	s := &lutShow{Path: path, Space: t.Space, Target: t.Target, Source: t.Source, Runtime: t.Runtime,
		Statistic: t.Stat, Settings: t.Settings, Entries: len(t.Entries), Networks: len(t.Networks),
		MedianCoV: t.Summary().MedianCoV}
	for _, r := range t.Resolutions() {
		row, err := lutResolutionRow(t, sp, r)
		if err != nil {
			return nil, err
		}
		s.Resolutions = append(s.Resolutions, row)
	}
	if s.lutChecks, err = checkLUT(t, path); err != nil {
		return nil, err
	}
	return s, nil
}

// checkLUT finds the table's measured resolution range, its entries with
// few timed runs and, from the journal beside it, whether its sessions
// measured one device speed.
func checkLUT(t *lut.LUT, path string) (lutChecks, error) {
	var c lutChecks
	if rs := t.Resolutions(); len(rs) > 0 {
		c.ResolutionMin, c.ResolutionMax = rs[0], rs[len(rs)-1]
	}
	c.LowNThreshold = t.Settings.MinRuns
	if c.LowNThreshold <= 0 {
		c.LowNThreshold = 5
	}
	for _, e := range t.Entries {
		if e.Stats.N < c.LowNThreshold {
			c.LowN = append(c.LowN, lutEntry{Key: e.Key, Resolution: e.Resolution, N: e.Stats.N})
		}
	}
	jp := profiler.JournalPath(path)
	j, err := profiler.LoadJournal(jp)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c, nil
	case err != nil:
		return c, withHint(err, "lut show reads the profiling journal beside the table; move a damaged one away to show the table alone")
	case j.Header.Identity.Space != t.Space:
		return c, nil // another table's journal
	}
	threshold, _ := strconv.ParseFloat(t.Settings.Extra["drift_threshold"], 64)
	rep := j.Sessions(threshold)
	c.Journal, c.Sessions = jp, &rep
	return c, nil
}

// lutResolutionRow counts the table's entries and networks at r, their
// median CoV, the space's layers it lacks, and, when it lacks none, its sums
// over the smallest and the largest subnet.
func lutResolutionRow(t *lut.LUT, sp *supernet.Space, r int) (lutResolution, error) {
	row := lutResolution{Resolution: r}
	var covs []float64
	for _, e := range t.Entries {
		if e.Resolution == r {
			row.Entries++
			if e.Stats.CoV > 0 {
				covs = append(covs, e.Stats.CoV)
			}
		}
	}
	for _, n := range t.Networks {
		if n.Config.R == r {
			row.Networks++
		}
	}
	sort.Float64s(covs)
	if len(covs) > 0 {
		row.MedianCoV = covs[len(covs)/2]
		if len(covs)%2 == 0 {
			row.MedianCoV = (covs[len(covs)/2-1] + covs[len(covs)/2]) / 2
		}
	}
	miss, err := t.Missing(r)
	if err != nil {
		return row, err
	}
	row.Missing = len(miss)
	for _, l := range miss {
		row.MissingKeys = append(row.MissingKeys, l.Key())
	}
	if row.Missing == 0 {
		row.MinNetMS = lutSum(t, sp.Layers(sp.MinConfig(r), nil), r)
		row.MaxNetMS = lutSum(t, sp.Layers(sp.MaxConfig(r), nil), r)
	}
	return row, nil
}

// printLUTShow prints the summary and a table of its resolutions.
func printLUTShow(g *globalOptions, s *lutShow) error {
	src := s.Target
	if s.Source != "" {
		src = strings.TrimSpace(s.Target + " " + s.Source)
	}
	if err := writeKV(g.io.Out, [][]string{
		{"table", s.Path},
		{"space", s.Space},
		{"device", src},
		{"runtime", s.Runtime.String()},
		{"statistic", s.Statistic + " (ms)"},
		{"entries", fmt.Sprintf("%d, %d whole networks", s.Entries, s.Networks)},
		{"median CoV", fmt.Sprintf("%.2f%%", 100*s.MedianCoV)},
	}); err != nil {
		return err
	}
	fmt.Fprintln(g.io.Out)
	rows := make([][]string, 0, len(s.Resolutions))
	for _, r := range s.Resolutions {
		minS, maxS := "-", "-"
		if r.Missing == 0 {
			minS, maxS = fmt.Sprintf("%.3f", r.MinNetMS), fmt.Sprintf("%.3f", r.MaxNetMS)
		}
		rows = append(rows, []string{strconv.Itoa(r.Resolution), strconv.Itoa(r.Entries), strconv.Itoa(r.Missing),
			strconv.Itoa(r.Networks), fmt.Sprintf("%.2f%%", 100*r.MedianCoV), minS, maxS})
	}
	if err := writeTable(g.io.Out, []string{"res", "entries", "missing", "networks", "median CoV", "min subnet ms", "max subnet ms"}, rows); err != nil {
		return err
	}
	return printLUTChecks(g, s)
}

// shownKeys is how many keys 'lut show' lists per finding; --json lists
// them all.
const shownKeys = 8

// printLUTChecks prints the findings of checkLUT and the missing keys.
func printLUTChecks(g *globalOptions, s *lutShow) error {
	w := g.io.Out
	fmt.Fprintf(w, "measured resolutions: %d to %d\n", s.ResolutionMin, s.ResolutionMax)
	for _, r := range s.Resolutions {
		if len(r.MissingKeys) > 0 {
			fmt.Fprintf(w, "missing at r=%d (%d): %s\n", r.Resolution, len(r.MissingKeys), listSome(r.MissingKeys, shownKeys))
		}
	}
	if len(s.LowN) == 0 {
		fmt.Fprintf(w, "low-n entries: none (every entry has n >= %d)\n", s.LowNThreshold)
	} else {
		names := make([]string, len(s.LowN))
		for i, e := range s.LowN {
			names[i] = fmt.Sprintf("%s at r=%d (n=%d)", e.Key, e.Resolution, e.N)
		}
		fmt.Fprintf(w, "low-n entries (n < %d): %d: %s\n", s.LowNThreshold, len(s.LowN), listSome(names, shownKeys))
	}
	if s.Sessions == nil {
		fmt.Fprintln(w, "sessions: no journal beside the table, so whether it mixes device speeds is unknown")
		return nil
	}
	ss := s.Sessions
	refs := make([]string, 0, len(ss.Sessions))
	for _, x := range ss.Sessions {
		if x.ReferenceMS > 0 {
			refs = append(refs, fmt.Sprintf("%.4g", x.ReferenceMS))
		}
	}
	fmt.Fprintf(w, "sessions: %d in %s (drift reference %s ms)\n", len(ss.Sessions), s.Journal, strings.Join(refs, ", "))
	if !ss.MixedSpeeds {
		if len(refs) <= 1 {
			fmt.Fprintln(w, "device speed: one (a single session measured the table)")
		} else {
			fmt.Fprintf(w, "device speed: one (the sessions' references agree within %.1f%%, their clock settings match)\n", 100*ss.DriftThreshold)
		}
		return nil
	}
	fmt.Fprintln(w, "device speed: MIXED: the table holds entries measured at two speeds")
	for _, r := range ss.Reasons {
		fmt.Fprintf(w, "  %s\n", r)
	}
	fmt.Fprintln(w, "  re-measure with 'edgefit profile ... --restart' on the device in one state")
	return nil
}

// listSome joins the first n of items, saying how many more there are.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(", and %d more (--json lists all)", len(items)-n)
}

// lutSum adds up the table's latency over layers at resolution r.
func lutSum(t *lut.LUT, layers []supernet.Layer, r int) float64 {
	var sum float64
	for _, l := range layers {
		if e, ok := t.Lookup(r, l.Key()); ok {
			sum += t.Latency(e)
		}
	}
	return sum
}

// ofaFileName matches OFA's table names: {r}_lookup_table.yaml.
var ofaFileName = regexp.MustCompile(`^(\d+)_lookup_table\.ya?ml$`)

func newLUTImportCommand(g *globalOptions) *cobra.Command {
	var space, output, target string
	c := &cobra.Command{
		Use:   "import --space SPACE DIR|FILE... -o DEVICE.lut.json",
		Short: "Convert OFA YAML lookup tables ({r}_lookup_table.yaml) into an edgefit table",
		Long: `import reads OFA's per-resolution YAML lookup tables, from a directory or as files
named {r}_lookup_table.yaml, and writes one edgefit lookup table. OFA's tables hold the
mean (and std, count) of each layer; the imported table names the mean as its statistic.
OFA's published Note10 tables are for the ofa-mbv3-w1.2 space; "lut-note10" names the
copy that 'edgefit fetch lut-note10' keeps. Tables whose keys are layers of another
space than --space are refused.`,
		Example: `  edgefit lut import --space ofa-mbv3-w1.2 note10/ -o note10.lut.json
  edgefit lut import --space ofa-mbv3-w1.2 lut-note10 -o note10.lut.json
  edgefit lut import --space ofa-mbv3-w1.2 160_lookup_table.yaml 224_lookup_table.yaml --target note10 -o note10.lut.json`,
		Args: argsAtLeast("DIR or {r}_lookup_table.yaml file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if space == "" {
				return usageErrorf("--space is required: ofa-mbv3-w1.0 or ofa-mbv3-w1.2 (OFA's Note10 tables are w1.2)")
			}
			if output == "" {
				return usageErrorf("-o is required: name the lookup table to write")
			}
			if err := checkOutput("-o", output); err != nil {
				return err
			}
			var t *lut.LUT
			var err error
			for i, a := range args {
				// "lut-note10" (or "note10") is the fetch cache's copy.
				if args[i], err = zoo.Resolve(a, zoo.Options{}); err != nil {
					return err
				}
			}
			if fi, serr := os.Stat(args[0]); len(args) == 1 && serr == nil && fi.IsDir() {
				t, err = lut.ImportOFADir(space, args[0])
			} else {
				files := map[int]string{}
				for _, a := range args {
					m := ofaFileName.FindStringSubmatch(filepath.Base(a))
					if m == nil {
						return usageErrorf("%s: name the file {r}_lookup_table.yaml (e.g. 224_lookup_table.yaml) so that its resolution is known, or pass its directory", a)
					}
					r, _ := strconv.Atoi(m[1])
					if prev, dup := files[r]; dup {
						return usageErrorf("two tables for resolution %d: %s and %s", r, prev, a)
					}
					files[r] = a
				}
				t, err = lut.ImportOFAFiles(space, files)
			}
			var sm *lut.SpaceMismatchError
			if errors.As(err, &sm) {
				return withCode(err, ExitUsage) // --space names the wrong space; the error's hint names the right one
			}
			if err != nil {
				return withHint(err, "pass OFA's {r}_lookup_table.yaml files (e.g. from han-cai/files ofa/note10)")
			}
			if target != "" {
				t.Target = target
			}
			if err := t.WriteFile(output); err != nil {
				return err
			}
			if g.JSON {
				return writeJSON(g.io.Out, map[string]any{"output": output, "space": t.Space, "entries": len(t.Entries), "resolutions": t.Resolutions()})
			}
			fmt.Fprintf(g.io.Out, "wrote %s: %d entries at resolutions %s\n", output, len(t.Entries), joinIntList(t.Resolutions()))
			return nil
		},
	}
	c.Flags().StringVar(&space, "space", "", "search space the tables were measured for (required)")
	c.Flags().StringVarP(&output, "output", "o", "", "lookup table to write")
	c.Flags().StringVar(&target, "target", "", "device name to record in the table (e.g. note10)")
	return c
}

func newLUTExportCommand(g *globalOptions) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "export DEVICE.lut.json -o DIR",
		Short: "Write a lookup table as OFA YAML tables, one {r}_lookup_table.yaml per resolution",
		Long: `export writes the table in the format OFA's LatencyTable and Mbv3LatencyModel read.
The "mean" field of each entry holds the table's latency statistic (the median for
tables edgefit measured), so that OFA sums the same numbers edgefit does.`,
		Example: `  edgefit lut export local.lut.json -o ofa-tables/`,
		Args:    argsExactly("DEVICE.lut.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return usageErrorf("-o is required: name the directory to write the YAML tables to")
			}
			t, err := lut.Load(args[0])
			if err != nil {
				return err
			}
			if err := os.MkdirAll(output, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", output, err)
			}
			if err := checkOutput("-o", filepath.Join(output, "224_lookup_table.yaml")); err != nil {
				return err
			}
			paths, err := lut.ExportOFA(t, output)
			if err != nil {
				return err
			}
			if g.JSON {
				return writeJSON(g.io.Out, map[string]any{"files": paths})
			}
			for _, p := range paths {
				fmt.Fprintln(g.io.Out, p)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "directory to write {r}_lookup_table.yaml files to")
	return c
}
