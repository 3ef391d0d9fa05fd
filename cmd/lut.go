package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/supernet"
)

func init() { register(newLUTCommand) }

func newLUTCommand(g *globalOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "lut",
		Short: "Show lookup tables and convert them from and to OFA's YAML format",
		Example: `  edgefit lut show local.lut.json
  edgefit lut import --space ofa-mbv3-w1.2 note10/ -o note10.lut.json
  edgefit lut export local.lut.json -o ofa-tables/`,
	}
	c.AddCommand(newLUTShowCommand(g), newLUTImportCommand(g), newLUTExportCommand(g))
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
}

func newLUTShowCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show DEVICE.lut.json",
		Short: "Summarize a lookup table: runtime, settings and, per resolution, coverage, noise and subnet sums",
		Long: `show validates a lookup table and prints, for each resolution, how many layer entries
it holds and how many of the space's distinct layers it lacks, the median coefficient
of variation of its entries, how many whole subnets were measured, and the table's
sum over the smallest and the largest subnet.`,
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
	return s, nil
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
	return writeTable(g.io.Out, []string{"res", "entries", "missing", "networks", "median CoV", "min subnet ms", "max subnet ms"}, rows)
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
OFA's published Note10 tables are for the ofa-mbv3-w1.2 space.`,
		Example: `  edgefit lut import --space ofa-mbv3-w1.2 note10/ -o note10.lut.json
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
