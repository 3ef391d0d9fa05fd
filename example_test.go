package edgefit_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/edgefit/edgefit"
	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler"
	"github.com/edgefit/edgefit/supernet/search"
)

// ExampleRun takes this machine to a model that runs within 15 ms there,
// as 'edgefit run local --max-latency 15ms -o out/' does.
func ExampleRun() {
	ctx := context.Background()
	target, err := devices.Open(ctx, "local", devices.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer target.Close()
	res, err := edgefit.Run(ctx, target, edgefit.RunOptions{
		OutDir:  "out",
		Limits:  search.Limits{MaxLatencyMS: 15},
		Retries: 2,
		Profile: profiler.DefaultOptions(""),
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	last := res.Last()
	fmt.Printf("%s: predicted %.2f ms, measured %.2f ms\n", res.Files["model"], last.Chosen.LatencyMS, last.MeasuredMS)
}

// ExampleResolve reads a config file: edgefit's form fits either width, so
// without --space or a checkpoint the space is w1.0, and without a
// checkpoint the weights will be untrained.
func ExampleResolve() {
	dir, err := os.MkdirTemp("", "edgefit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "subnet.json")
	cfg := `{"ks":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"e":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"d":[2,2,2,2,2],"r":160}`
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		log.Fatal(err)
	}
	m, err := edgefit.Resolve(edgefit.ModelSource{Config: path})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Space.Name, m.Config.R, m.Untrained())
	// Output:
	// ofa-mbv3-w1.0 160 true
}
