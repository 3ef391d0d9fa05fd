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

// candidateJSON is the one JSON form of a [Candidate], in front files,
// selections and reports alike.
type candidateJSON struct {
	Accuracy    float64         `json:"accuracy"`
	LatencyMS   float64         `json:"latency_ms"`
	PeakMemory  int64           `json:"peak_memory_bytes"`
	Params      int64           `json:"params"`
	MACs        int64           `json:"macs"`
	WeightBytes int64           `json:"weight_bytes"`
	Config      supernet.Config `json:"config"`
}

// MarshalJSON writes the candidate with snake_case keys that carry their
// units: {"accuracy", "latency_ms", "peak_memory_bytes", "params", "macs",
// "weight_bytes", "config"}.
func (c Candidate) MarshalJSON() ([]byte, error) {
	return json.Marshal(candidateJSON{Accuracy: c.Accuracy, LatencyMS: c.LatencyMS, PeakMemory: c.PeakMemory,
		Params: c.Params, MACs: c.MACs, WeightBytes: c.WeightBytes, Config: c.Config})
}

// UnmarshalJSON reads the form [Candidate.MarshalJSON] writes.
func (c *Candidate) UnmarshalJSON(b []byte) error {
	var j candidateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Candidate{Config: j.Config}
	c.Accuracy, c.LatencyMS, c.PeakMemory, c.Params, c.MACs, c.WeightBytes = j.Accuracy, j.LatencyMS, j.PeakMemory, j.Params, j.MACs, j.WeightBytes
	return nil
}

// FrontFile is the JSON document [WriteFrontJSON] writes.
type FrontFile struct {
	Space      string      `json:"space"` // the space the subnets are of
	Objectives []string    `json:"objectives"`
	Limits     Limits      `json:"limits"`
	Chosen     *Candidate  `json:"chosen,omitempty"` // the search's best subnet
	Front      []Candidate `json:"front"`
	Scored     int         `json:"candidates_scored"`
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
	f := FrontFile{Space: r.Space, Objectives: r.Objectives, Front: front, Scored: r.Stats.Scored,
		Limits: r.Limits}
	if len(r.Top) > 0 {
		f.Chosen = &r.Top[0]
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
