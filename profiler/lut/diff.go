package lut

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/edgefit/edgefit/profiler/timing"
)

// Diff compares two tables entry by entry: the latency of each layer key
// at each resolution in both, as the ratio of the second table's to the
// first's (under each table's own statistic).
type Diff struct {
	Common int `json:"common"`    // entries (key and resolution) in both
	OnlyA  int `json:"only_in_a"` // in the first table only
	OnlyB  int `json:"only_in_b"` // in the second only
	// Ratio summarises b_ms / a_ms over the common entries; nil when
	// there are none.
	Ratio *RatioSummary `json:"ratio,omitempty"`
	// Worst are the common entries whose ratio is farthest from 1 (by
	// its logarithm, so 2x slower and 2x faster weigh the same), worst
	// first.
	Worst []DiffEntry `json:"worst,omitempty"`
	// Notes say what makes the numbers less comparable: other spaces,
	// statistics, runtimes or batch sizes.
	Notes []string `json:"notes,omitempty"`
}

// RatioSummary describes a set of latency ratios.
type RatioSummary struct {
	Median float64 `json:"median"`
	P10    float64 `json:"p10"`
	P90    float64 `json:"p90"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// DiffEntry is one entry of both tables.
type DiffEntry struct {
	Key        string  `json:"key"`
	Resolution int     `json:"resolution"`
	AMS        float64 `json:"a_ms"`
	BMS        float64 `json:"b_ms"`
	Ratio      float64 `json:"ratio"` // BMS / AMS
}

// Compare diffs a and b, keeping the worst entries (at most worst).
func Compare(a, b *LUT, worst int) Diff {
	var d Diff
	var common []DiffEntry
	for i := range a.Entries {
		ea := &a.Entries[i]
		eb, ok := b.Lookup(ea.Resolution, ea.Key)
		if !ok {
			d.OnlyA++
			continue
		}
		am, bm := a.Latency(ea), b.Latency(eb)
		common = append(common, DiffEntry{Key: ea.Key, Resolution: ea.Resolution, AMS: am, BMS: bm, Ratio: bm / am})
	}
	d.Common = len(common)
	d.OnlyB = len(b.Entries) - d.Common
	if len(common) > 0 {
		rs := make([]float64, len(common))
		for i, c := range common {
			rs[i] = c.Ratio
		}
		st := timing.Summarize(rs)
		d.Ratio = &RatioSummary{Median: st.Median, P10: st.P10, P90: st.P90, Min: st.Min, Max: st.Max}
		slices.SortStableFunc(common, func(x, y DiffEntry) int {
			return -cmp.Compare(math.Abs(math.Log(x.Ratio)), math.Abs(math.Log(y.Ratio)))
		})
		d.Worst = common[:min(worst, len(common))]
	}
	if a.Space != b.Space {
		d.Notes = append(d.Notes, fmt.Sprintf("the tables are for different spaces (%s, %s): only the layers they share compare", a.Space, b.Space))
	}
	if a.Stat != b.Stat {
		d.Notes = append(d.Notes, fmt.Sprintf("the tables hold different statistics (%s, %s): a mean is above the median on skewed timings", a.Stat, b.Stat))
	}
	if ra, rb := a.Runtime, b.Runtime; ra.Batch != rb.Batch || ra.Threads != rb.Threads || ra.Provider != rb.Provider {
		d.Notes = append(d.Notes, fmt.Sprintf("the tables were measured with other settings (%s, %d thread(s), batch %d; %s, %d thread(s), batch %d)",
			orUnknown(ra.Provider), ra.Threads, ra.Batch, orUnknown(rb.Provider), rb.Threads, rb.Batch))
	}
	return d
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown provider"
	}
	return s
}
