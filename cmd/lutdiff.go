package cmd

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit/profiler/lut"
)

// lutDiff is what 'edgefit lut diff' reports.
type lutDiff struct {
	A string `json:"a"`
	B string `json:"b"`
	lut.Diff
}

func newLUTDiffCommand(g *globalOptions) *cobra.Command {
	var worst int
	c := &cobra.Command{
		Use:   "diff A.lut.json B.lut.json",
		Short: "Compare two lookup tables entry by entry: how much faster or slower B is than A",
		Long: `diff pairs the entries of two tables by layer key and resolution and prints how
many they share and how many only one has, then the ratio of B's latency to A's over
the shared entries (median, 10th and 90th percentile, min, max) and the entries whose
ratio is farthest from 1. Use it to see how much a device changed between two
profiles, or how close a table measured here is to another device's.`,
		Example: `  edgefit lut diff monday.lut.json friday.lut.json
  edgefit lut diff pi4.lut.json pi5.lut.json --worst 20 --json`,
		Args: argsExactly("A.lut.json", "B.lut.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if worst < 0 {
				return usageErrorf("--worst must be 0 or more (got %d)", worst)
			}
			var tables [2]*lut.LUT
			for i, p := range args {
				t, err := lut.Load(p)
				if err != nil {
					return withHint(err, "a table comes from 'edgefit profile' or 'edgefit lut import'")
				}
				tables[i] = t
			}
			d := lutDiff{A: args[0], B: args[1], Diff: lut.Compare(tables[0], tables[1], worst)}
			if g.JSON {
				return writeJSON(g.io.Out, d)
			}
			return printLUTDiff(g, d)
		},
	}
	c.Flags().IntVar(&worst, "worst", 10, "how many of the entries that differ most to list")
	return c
}

func printLUTDiff(g *globalOptions, d lutDiff) error {
	rows := [][]string{
		{"a", d.A},
		{"b", d.B},
		{"entries", fmt.Sprintf("%d in both, %d only in a, %d only in b", d.Common, d.OnlyA, d.OnlyB)},
	}
	if r := d.Ratio; r != nil {
		rows = append(rows, []string{"b / a", fmt.Sprintf("median %.3f, p10 %.3f, p90 %.3f, min %.3f, max %.3f", r.Median, r.P10, r.P90, r.Min, r.Max)})
	}
	for _, n := range d.Notes {
		rows = append(rows, []string{"note", n})
	}
	if err := writeKV(g.io.Out, rows); err != nil {
		return err
	}
	if len(d.Worst) == 0 {
		return nil
	}
	fmt.Fprintln(g.io.Out)
	table := make([][]string, len(d.Worst))
	for i, e := range d.Worst {
		table[i] = []string{strconv.Itoa(e.Resolution), e.Key, fmt.Sprintf("%.4f", e.AMS), fmt.Sprintf("%.4f", e.BMS), fmt.Sprintf("%.3f", e.Ratio)}
	}
	return writeTable(g.io.Out, []string{"res", "key", "a ms", "b ms", "b / a"}, table)
}
