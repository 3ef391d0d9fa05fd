package search

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/supernet"
)

// FrontPoint is one subnet as front files write it.
type FrontPoint struct {
	Accuracy    float64         `json:"accuracy"`
	LatencyMS   float64         `json:"latency_ms"`
	PeakMemory  int64           `json:"peak_memory_bytes"`
	Params      int64           `json:"params"`
	MACs        int64           `json:"macs"`
	WeightBytes int64           `json:"weight_bytes"`
	Chosen      bool            `json:"chosen,omitempty"`
	Config      supernet.Config `json:"config"`
}

func point(c Candidate, chosen bool) FrontPoint {
	return FrontPoint{Accuracy: c.Accuracy, LatencyMS: c.LatencyMS, PeakMemory: c.PeakMemory, Params: c.Params,
		MACs: c.MACs, WeightBytes: c.WeightBytes, Chosen: chosen, Config: c.Config}
}

// FrontFile is the JSON document [WriteFrontJSON] writes.
type FrontFile struct {
	Objectives []string     `json:"objectives"`
	Limits     limitsJSON   `json:"limits"`
	Chosen     *FrontPoint  `json:"chosen,omitempty"`
	Front      []FrontPoint `json:"front"`
	Scored     int          `json:"scored"`
}

type limitsJSON struct {
	MaxLatencyMS float64 `json:"max_latency_ms,omitempty"`
	MaxMemory    int64   `json:"max_memory_bytes,omitempty"`
	MaxParams    int64   `json:"max_params,omitempty"`
	MaxMACs      int64   `json:"max_macs,omitempty"`
}

// chosen reports whether c is the result's best subnet.
func (r *Result) chosen(c *Candidate) bool { return len(r.Top) > 0 && r.Top[0].Config == c.Config }

func frontOf(r *Result) ([]Candidate, error) {
	if r == nil || r.Front == nil {
		return nil, fmt.Errorf("the result has no Pareto front: run the search with Options.Pareto")
	}
	return r.Front, nil
}

// WriteFrontJSON writes the result's Pareto front, by increasing latency,
// with the objectives, the limits and the chosen subnet.
func WriteFrontJSON(w io.Writer, r *Result) error {
	front, err := frontOf(r)
	if err != nil {
		return err
	}
	f := FrontFile{Objectives: r.Objectives, Front: make([]FrontPoint, len(front)), Scored: r.Stats.Scored,
		Limits: limitsJSON{r.Limits.MaxLatencyMS, r.Limits.MaxMemory, r.Limits.MaxParams, r.Limits.MaxMACs}}
	for i := range front {
		f.Front[i] = point(front[i], r.chosen(&front[i]))
	}
	if len(r.Top) > 0 {
		p := point(r.Top[0], true)
		f.Chosen = &p
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("write Pareto front JSON: %w", err)
	}
	return nil
}

// WriteFrontCSV writes the result's Pareto front as CSV, one subnet a
// row by increasing latency, with a header. The config columns hold
// space-separated lists; the last column holds the config's JSON.
func WriteFrontCSV(w io.Writer, r *Result) error {
	front, err := frontOf(r)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"accuracy", "latency_ms", "peak_memory_bytes", "params", "macs", "weight_bytes", "chosen",
		"r", "d", "ks", "e", "config"})
	for i := range front {
		c := &front[i]
		_ = cw.Write([]string{
			strconv.FormatFloat(c.Accuracy, 'f', 6, 64), strconv.FormatFloat(c.LatencyMS, 'f', 4, 64),
			strconv.FormatInt(c.PeakMemory, 10), strconv.FormatInt(c.Params, 10), strconv.FormatInt(c.MACs, 10),
			strconv.FormatInt(c.WeightBytes, 10), strconv.FormatBool(r.chosen(c)), strconv.Itoa(c.Config.R),
			ints(c.Config.D[:]), ints(c.Config.KS[:]), ints(c.Config.E[:]), c.Config.String(),
		})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write Pareto front CSV: %w", err)
	}
	return nil
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " ")
}
