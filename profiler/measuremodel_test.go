package profiler

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/profiler/agent"
	"github.com/edgefit/edgefit/supernet"
)

func TestBench(t *testing.T) {
	requireAgent(t)
	sp, _ := supernet.SpaceByName("ofa-mbv3-w1.0")
	c := sp.MinConfig(128)
	path := filepath.Join(t.TempDir(), "net.onnx")
	if err := export.WriteFile(path, supernet.Init(sp, c, 3), export.Metadata{}); err != nil {
		t.Fatal(err)
	}
	m := Measurement{Warmup: 2, MinRuns: 10, MaxRuns: 40, MaxTime: time.Second, Rounds: 1}
	res, err := Bench(context.Background(), devices.NewLocal(), path, BenchOptions{Layers: true, Measure: m, Agent: agent.Options{Agent: agentPath}})
	if err != nil {
		t.Fatal(err)
	}
	// In interleaved rounds (the default), the figures come from the
	// samples near the fastest, as the profiler's do.
	m.Rounds = 4
	rr, err := Bench(context.Background(), devices.NewLocal(), path, BenchOptions{Measure: m, Agent: agent.Options{Agent: agentPath}})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Stop != "rounds" || rr.Stats.N < 1 || rr.Stats.Median > 1.3*res.Stats.Median || rr.LoadMS <= 0 {
		t.Errorf("rounds result %+v, single-shot median %.3f ms", rr, res.Stats.Median)
	}
	if res.Stats.N < 10 || res.Stats.N > 40 || !(res.Stats.Median > 0) || res.Runtime.Threads != 1 || res.Class != ClassCPU {
		t.Errorf("result %+v", res)
	}
	if res.Runtime.Provider != "cpu" || len(res.ProviderNodes) != 1 || res.ProviderNodes["CPUExecutionProvider"] == 0 {
		t.Errorf("provider %s, nodes %v; want every node on CPUExecutionProvider", res.Runtime.Provider, res.ProviderNodes)
	}
	if res.Layers == nil {
		t.Fatal("no layer breakdown")
	}
	if res.Layers.Runs != profileRuns+1 {
		t.Errorf("profile holds %d runs, want %d", res.Layers.Runs, profileRuns+1)
	}
	convs := 0
	for _, n := range res.Layers.Nodes {
		if strings.Contains(n.Op, "Conv") {
			convs++
		}
		if n.Stats.N != profileRuns {
			t.Errorf("node %s: %d runs kept, want %d", n.Name, n.Stats.N, profileRuns)
		}
	}
	// The min subnet has 1 + 2 + 5*2 blocks' worth of convolutions: dozens.
	if convs < 20 {
		t.Errorf("%d convolution nodes", convs)
	}
	if tot := res.Layers.Total(); tot <= 0 || tot > 3*res.Stats.Median {
		t.Errorf("nodes sum to %.3f ms, the model takes %.3f ms", tot, res.Stats.Median)
	}

	// Not a model.
	bad := filepath.Join(t.TempDir(), "bad.onnx")
	os.WriteFile(bad, []byte("hello"), 0o644)
	if _, err := Bench(context.Background(), devices.NewLocal(), bad, BenchOptions{Measure: m, Agent: agent.Options{Agent: agentPath}}); err == nil || !strings.Contains(err.Error(), "model.onnx") {
		t.Errorf("bad model: err = %v", err)
	}
	if _, err := Bench(context.Background(), devices.NewLocal(), filepath.Join(t.TempDir(), "missing.onnx"), BenchOptions{Agent: agent.Options{Agent: agentPath}}); err == nil {
		t.Error("missing model accepted")
	}
}
