package profiler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/profiler/timing"
)

// NodeProfile is the time one node of an ONNX graph took, as ONNX Runtime's
// profiler recorded it. Nodes are what ONNX Runtime executed after its
// graph optimizations, so a fused node (FusedConv, ...) stands for several
// nodes of the model.
type NodeProfile struct {
	Name         string    `json:"name"`     // node name, as in the optimized graph
	Op           string    `json:"op"`       // op_name, e.g. "Conv" or "FusedConv"
	Provider     string    `json:"provider"` // e.g. "CPUExecutionProvider"
	Index        int       `json:"node_index"`
	InputShapes  [][]int64 `json:"input_shapes,omitempty"`
	OutputShapes [][]int64 `json:"output_shapes,omitempty"`
	// Stats are over the kernel times of every run but the first, in ms.
	Stats timing.Stats `json:"stats"`
	// Share is the node's median as a fraction of the sum of all nodes'
	// medians.
	Share float64 `json:"share"`
}

// ORTProfile is a per-node breakdown of a model's latency read from an ONNX
// Runtime profile (see [ParseORTProfile]).
type ORTProfile struct {
	Nodes []NodeProfile `json:"nodes"` // in the order the first kept run executed them
	// Runs counts the runs (model_run events) the profile holds, including
	// the skipped first one.
	Runs int `json:"runs"`
	// Run summarizes the model_run durations of the kept runs, in ms.
	Run timing.Stats `json:"run"`
	// Truncated is set when the file ended early (the process died before
	// ONNX Runtime closed the JSON array); the events read are kept.
	Truncated bool `json:"truncated,omitempty"`
}

// ortEvent is one Chrome-trace event of ONNX Runtime's profile.
type ortEvent struct {
	Cat  string                     `json:"cat"`
	Name string                     `json:"name"`
	Ph   string                     `json:"ph"`
	Ts   float64                    `json:"ts"`
	Dur  float64                    `json:"dur"`
	Args map[string]json.RawMessage `json:"args"`
}

const kernelSuffix = "_kernel_time"

// maxProfileEvents bounds what ParseORTProfile keeps, so that a hostile or
// runaway file cannot exhaust memory: a profile of 1000 runs of a
// 500-node model holds 1.5 million events.
const maxProfileEvents = 5_000_000

// ParseORTProfile reads the profile ONNX Runtime writes with profiling on
// (SessionOptions EnableProfiling): a Chrome-trace JSON array of events.
// Node events named <node>_kernel_time carry each node's run time and its
// op_name, provider and shapes; Session events named model_run delimit the
// runs. The result groups kernel times by node and summarizes them over
// every run but the first, which pays for allocations and caches; a profile
// of a single run keeps that run.
//
// A file cut short (the process died before closing the array) is read up
// to its last complete event and marked Truncated. Anything that is not
// such an array is an error.
func ParseORTProfile(r io.Reader) (*ORTProfile, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("read ONNX Runtime profile: %w", eofIsEmpty(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errors.New("read ONNX Runtime profile: not a JSON array of trace events (is this an ONNX Runtime profile file?)")
	}
	var runs [][2]float64 // model_run windows [start, end]
	type kernel struct {
		ts, dur float64
		seq     int
	}
	type node struct {
		name     string
		op       string
		provider string
		index    int
		in, out  [][]int64
		kernels  []kernel
	}
	nodes := map[string]*node{}
	var order []*node
	truncated := false
	n := 0
	for dec.More() {
		var ev ortEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				truncated = true
				break
			}
			return nil, fmt.Errorf("read ONNX Runtime profile: event %d: %w", n+1, err)
		}
		n++
		if n > maxProfileEvents {
			return nil, fmt.Errorf("read ONNX Runtime profile: more than %d events; profile fewer runs", maxProfileEvents)
		}
		if !finite(ev.Ts) || !finite(ev.Dur) || ev.Dur < 0 {
			return nil, fmt.Errorf("read ONNX Runtime profile: event %d (%q): bad ts or dur", n, ev.Name)
		}
		switch {
		case ev.Cat == "Session" && ev.Name == "model_run":
			runs = append(runs, [2]float64{ev.Ts, ev.Ts + ev.Dur})
		case ev.Cat == "Node" && strings.HasSuffix(ev.Name, kernelSuffix):
			name := strings.TrimSuffix(ev.Name, kernelSuffix)
			nd := nodes[name]
			if nd == nil {
				nd = &node{name: name, index: -1}
				nd.op = argString(ev.Args, "op_name")
				nd.provider = argString(ev.Args, "provider")
				if s := argString(ev.Args, "node_index"); s != "" {
					if v, err := strconv.Atoi(s); err == nil {
						nd.index = v
					}
				}
				nd.in = argShapes(ev.Args, "input_type_shape")
				nd.out = argShapes(ev.Args, "output_type_shape")
				nodes[name] = nd
				order = append(order, nd)
			}
			nd.kernels = append(nd.kernels, kernel{ts: ev.Ts, dur: ev.Dur, seq: n})
		}
	}
	if !truncated {
		if _, err := dec.Token(); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("read ONNX Runtime profile: %w", err)
			}
			truncated = true
		}
	}
	if len(order) == 0 {
		return nil, errors.New("read ONNX Runtime profile: no node events (<node>_kernel_time); was the model run with profiling on?")
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i][0] < runs[j][0] })

	// Which events belong to the first run: those inside the first
	// model_run window, or, without model_run events, each node's first
	// occurrence.
	firstRun := func(k kernel, i int) bool {
		if len(runs) == 0 {
			return i == 0
		}
		return k.ts >= runs[0][0] && k.ts <= runs[0][1]
	}
	p := &ORTProfile{Runs: len(runs), Truncated: truncated}
	if len(runs) > 1 {
		d := make([]float64, 0, len(runs)-1)
		for _, w := range runs[1:] {
			d = append(d, (w[1]-w[0])/1000)
		}
		p.Run = timing.Summarize(d)
	} else if len(runs) == 1 {
		p.Run = timing.Summarize([]float64{(runs[0][1] - runs[0][0]) / 1000})
	}
	type ranked struct {
		np    NodeProfile
		first float64 // ts of its first kept event, for ordering
		seq   int
	}
	var out []ranked
	var total float64
	for _, nd := range order {
		var kept []float64
		first, seq := math.Inf(1), 0
		for i, k := range nd.kernels {
			if len(nd.kernels) > 1 && firstRun(k, i) {
				continue
			}
			kept = append(kept, k.dur/1000)
			if k.ts < first {
				first, seq = k.ts, k.seq
			}
		}
		if len(kept) == 0 { // only ever ran in the first run
			for _, k := range nd.kernels {
				kept = append(kept, k.dur/1000)
			}
			first, seq = nd.kernels[0].ts, nd.kernels[0].seq
		}
		st := timing.Summarize(kept)
		total += st.Median
		out = append(out, ranked{np: NodeProfile{Name: nd.name, Op: nd.op, Provider: nd.provider, Index: nd.index,
			InputShapes: nd.in, OutputShapes: nd.out, Stats: st}, first: first, seq: seq})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].first != out[j].first {
			return out[i].first < out[j].first
		}
		return out[i].seq < out[j].seq
	})
	for _, o := range out {
		if total > 0 {
			o.np.Share = o.np.Stats.Median / total
		}
		p.Nodes = append(p.Nodes, o.np)
	}
	return p, nil
}

// Total returns the sum of the nodes' medians in ms: the latency the
// kernels account for, without the runtime's overhead between them.
func (p *ORTProfile) Total() float64 {
	var t float64
	for _, n := range p.Nodes {
		t += n.Stats.Median
	}
	return t
}

func eofIsEmpty(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("the file is empty (ONNX Runtime writes the profile when the session closes)")
	}
	return err
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// argString reads a string argument; ONNX Runtime writes most numbers in
// args as strings, but accept plain numbers too.
func argString(args map[string]json.RawMessage, name string) string {
	raw, ok := args[name]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// argShapes reads input_type_shape / output_type_shape:
// [{"float":[1,3,224,224]}, ...]. Shapes it cannot read are left out: they
// only describe the node.
func argShapes(args map[string]json.RawMessage, name string) [][]int64 {
	raw, ok := args[name]
	if !ok {
		return nil
	}
	var list []map[string][]int64
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&list); err != nil {
		return nil
	}
	out := make([][]int64, 0, len(list))
	for _, m := range list {
		for _, dims := range m { // one element type per tensor
			out = append(out, dims)
		}
	}
	return out
}
