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
	Share float64 `json:"share_fraction"`
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
	tr, err := readTrace(r)
	if err != nil {
		return nil, fmt.Errorf("read ONNX Runtime profile: %w", err)
	}
	if len(tr.order) == 0 {
		return nil, errors.New("read ONNX Runtime profile: no node events (<node>_kernel_time); was the model run with profiling on?")
	}
	return &ORTProfile{Nodes: tr.nodeProfiles(), Runs: len(tr.runs), Run: tr.runStats(), Truncated: tr.truncated}, nil
}

// ortTrace is what a profile's events say: the model_run windows, and the
// kernel events of each node.
type ortTrace struct {
	runs      [][2]float64 // model_run windows [start, end], by start once read
	nodes     map[string]*ortNode
	order     []*ortNode // by first appearance
	truncated bool
}

type ortNode struct {
	name, op, provider string
	index              int
	in, out            [][]int64
	kernels            []ortKernel
}

type ortKernel struct {
	ts, dur float64
	seq     int // event number, to order nodes that start together
}

// readTrace reads the trace's events, up to the last complete one of a
// file cut short.
func readTrace(r io.Reader) (*ortTrace, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, eofIsEmpty(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errors.New("not a JSON array of trace events (is this an ONNX Runtime profile file?)")
	}
	tr := &ortTrace{nodes: map[string]*ortNode{}}
	for n := 1; dec.More(); n++ {
		var ev ortEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				tr.truncated = true
				break
			}
			return nil, fmt.Errorf("event %d: %w", n, err)
		}
		if n > maxProfileEvents {
			return nil, fmt.Errorf("more than %d events; profile fewer runs", maxProfileEvents)
		}
		if !finite(ev.Ts) || !finite(ev.Dur) || ev.Dur < 0 {
			return nil, fmt.Errorf("event %d (%q): bad ts or dur", n, ev.Name)
		}
		tr.add(&ev, n)
	}
	if !tr.truncated {
		if _, err := dec.Token(); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, err
			}
			tr.truncated = true
		}
	}
	sort.Slice(tr.runs, func(i, j int) bool { return tr.runs[i][0] < tr.runs[j][0] })
	return tr, nil
}

// add records event number seq: a model_run window or a node's kernel
// time; other events are ignored.
func (tr *ortTrace) add(ev *ortEvent, seq int) {
	switch {
	case ev.Cat == "Session" && ev.Name == "model_run":
		tr.runs = append(tr.runs, [2]float64{ev.Ts, ev.Ts + ev.Dur})
	case ev.Cat == "Node" && strings.HasSuffix(ev.Name, kernelSuffix):
		name := strings.TrimSuffix(ev.Name, kernelSuffix)
		nd := tr.nodes[name]
		if nd == nil {
			nd = newORTNode(name, ev.Args)
			tr.nodes[name] = nd
			tr.order = append(tr.order, nd)
		}
		nd.kernels = append(nd.kernels, ortKernel{ts: ev.Ts, dur: ev.Dur, seq: seq})
	}
}

// newORTNode describes a node from the args of its first kernel event.
func newORTNode(name string, args map[string]json.RawMessage) *ortNode {
	nd := &ortNode{name: name, index: -1, op: argString(args, "op_name"), provider: argString(args, "provider"),
		in: argShapes(args, "input_type_shape"), out: argShapes(args, "output_type_shape")}
	if s := argString(args, "node_index"); s != "" {
		if v, err := strconv.Atoi(s); err == nil {
			nd.index = v
		}
	}
	return nd
}

// runStats summarizes the model_run durations in ms, without the first
// run unless it is the only one.
func (tr *ortTrace) runStats() timing.Stats {
	if len(tr.runs) == 0 {
		return timing.Stats{}
	}
	kept := tr.runs
	if len(kept) > 1 {
		kept = kept[1:]
	}
	d := make([]float64, 0, len(kept))
	for _, w := range kept {
		d = append(d, (w[1]-w[0])/1000)
	}
	return timing.Summarize(d)
}

// inFirstRun reports whether kernel event i of a node belongs to the first
// run: it lies inside the first model_run window or, without model_run
// events, it is the node's first occurrence.
func (tr *ortTrace) inFirstRun(k ortKernel, i int) bool {
	if len(tr.runs) == 0 {
		return i == 0
	}
	return k.ts >= tr.runs[0][0] && k.ts <= tr.runs[0][1]
}

// keptKernels returns a node's kernel times in ms without its first run
// (all of them if it only ran then), and when and in which event the
// first kept one started.
func (tr *ortTrace) keptKernels(nd *ortNode) (kept []float64, first float64, seq int) {
	first = math.Inf(1)
	for i, k := range nd.kernels {
		if len(nd.kernels) > 1 && tr.inFirstRun(k, i) {
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
	return kept, first, seq
}

// nodeProfiles summarizes each node's kept kernel times, in the order the
// nodes first ran after the first run, with each node's share of the sum
// of medians.
func (tr *ortTrace) nodeProfiles() []NodeProfile {
	type ranked struct {
		np    NodeProfile
		first float64
		seq   int
	}
	out := make([]ranked, 0, len(tr.order))
	var total float64
	for _, nd := range tr.order {
		kept, first, seq := tr.keptKernels(nd)
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
	nodes := make([]NodeProfile, len(out))
	for i, o := range out {
		if total > 0 {
			o.np.Share = o.np.Stats.Median / total
		}
		nodes[i] = o.np
	}
	return nodes
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
