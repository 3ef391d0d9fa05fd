package profiler

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/supernet"
)

// item is one model to measure: a layer shape at a resolution (a LUT
// entry) or a whole subnet.
type item struct {
	id     string
	kind   string // recEntry or recNetwork
	r      int
	layer  supernet.Layer  // entries
	index  int             // networks: number within its resolution
	config supernet.Config // networks
	weight float64         // rough cost, for batching and the ETA
	bytes  int64           // rough model file size
}

// inputShape is the model's input, batch included.
func (it *item) inputShape(batch int) []int64 {
	if it.kind == recEntry {
		return export.LayerInputShape(it.layer, batch)
	}
	return []int64{int64(batch), 3, int64(it.r), int64(it.r)}
}

// planItems lists every entry and network of the options, in a shuffled
// order fixed by the seed, so that slow drift of the device is not
// correlated with layer size or resolution.
func planItems(sp *supernet.Space, o *Options) []item {
	var items []item
	for _, r := range o.Resolutions {
		for _, l := range sp.DistinctLayers(r) {
			w, b := layerCost(l)
			items = append(items, item{id: itemID(recEntry, r, l.Key()), kind: recEntry, r: r, layer: l,
				weight: w * float64(o.Batch), bytes: b})
		}
		rng := rand.New(rand.NewPCG(o.Seed, uint64(r)))
		seen := map[supernet.Config]bool{}
		for i := 0; i < o.Networks; i++ {
			var c supernet.Config
			// Distinct subnets; the space is astronomically large, so a
			// handful of tries always suffices.
			for try := 0; try < 100; try++ {
				c = sp.RandomConfig(rng)
				c.R = r
				c = c.Canonical(sp)
				if !seen[c] {
					break
				}
			}
			seen[c] = true
			costs := sp.Costs(c)
			items = append(items, item{id: itemID(recNetwork, r, strconv.Itoa(i)), kind: recNetwork, r: r, index: i,
				config: c, weight: (float64(costs.MACs)/1e6 + 3) * float64(o.Batch) * 1.2, bytes: costs.WeightBytes + 64<<10})
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	return items
}

// layerCost estimates a layer's multiply-accumulates in millions (plus a
// constant for the runtime's fixed overhead per run) and its ONNX size.
func layerCost(l supernet.Layer) (weight float64, size int64) {
	hi, ho := float64(l.InSize*l.InSize), float64(l.OutSize*l.OutSize)
	var macs, params float64
	switch l.Kind {
	case supernet.KindBlock:
		if l.Expand {
			macs += hi * float64(l.In*l.Mid)
			params += float64(l.In * l.Mid)
		}
		macs += ho * float64(l.Mid*l.Kernel*l.Kernel)
		params += float64(l.Mid * l.Kernel * l.Kernel)
		if l.SE > 0 {
			macs += 2 * float64(l.Mid*l.SE)
			params += 2 * float64(l.Mid*l.SE)
		}
		macs += ho * float64(l.Mid*l.Out)
		params += float64(l.Mid * l.Out)
	case supernet.KindFirstConv:
		macs = ho * float64(l.In*l.Out*9)
		params = float64(l.In * l.Out * 9)
	case supernet.KindAvgPool:
		macs = hi * float64(l.In) / 4
	default: // 1x1 convolutions and the classifier
		macs = hi * float64(l.In*l.Out)
		params = float64(l.In * l.Out)
	}
	return macs/1e6 + 0.05, int64(params*4) + 16<<10
}

// referenceLayer picks the model re-measured between batches to detect
// drift: a block near the middle of the space's cost range, at the middle
// resolution, long enough to time precisely and short enough to be cheap.
func referenceLayer(sp *supernet.Space, rs []int) (supernet.Layer, int) {
	r := rs[len(rs)/2]
	var best supernet.Layer
	bestD := math.Inf(1)
	for _, l := range sp.DistinctLayers(r) {
		if l.Kind != supernet.KindBlock {
			continue
		}
		w, _ := layerCost(l)
		if d := math.Abs(math.Log(w / 8)); d < bestD { // about 8M MACs
			best, bestD = l, d
		}
	}
	return best, r
}

// writeModel writes the ONNX model of it into dir and returns its path.
func writeModel(sp *supernet.Space, it *item, o *Options, dir string) (string, int64, error) {
	var data []byte
	var err error
	name := fmt.Sprintf("%s-%d-%s.onnx", it.kind, it.r, shortHash(it.id))
	switch it.kind {
	case recEntry:
		data, err = export.LayerModel(it.layer, o.Batch, o.Seed)
	case recNetwork:
		var buf bytes.Buffer
		net := supernet.Init(sp, it.config, o.Seed+uint64(it.index))
		err = export.Write(&buf, net, export.Metadata{ToolVersion: o.Tool})
		data = buf.Bytes()
	default:
		err = fmt.Errorf("unknown item kind %q", it.kind)
	}
	if err != nil {
		return "", 0, fmt.Errorf("build model of %s: %w", it.id, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", 0, fmt.Errorf("write model of %s: %w", it.id, err)
	}
	return path, int64(len(data)), nil
}

// shortHash gives a file-name-safe tag for an id (FNV-1a, 64 bits).
func shortHash(s string) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return strconv.FormatUint(h, 36)
}

// batches splits items into runner invocations bounded by count and bytes.
func batches(items []item, maxModels int, maxBytes int64) [][]item {
	var out [][]item
	var cur []item
	var size int64
	for _, it := range items {
		if len(cur) > 0 && (len(cur) >= maxModels || size+it.bytes > maxBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, it)
		size += it.bytes
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
