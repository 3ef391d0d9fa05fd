package search

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParetoFront(t *testing.T) {
	sp := space(t, 1.2)
	sp, _ = sp.WithResolutions([]int{160, 176, 192, 208, 224})
	sc := newSynth(sp)
	for _, withMem := range []bool{false, true} {
		lim := Limits{MaxLatencyMS: 20, MaxParams: 8e6}
		res, err := Run(context.Background(), sp, sc, lim, Options{Seed: 9, Population: 40, Generations: 40, Pareto: true, ParetoMemory: withMem})
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, sp, sc, lim, res, 1)
		a := &archive{memory: withMem}
		if len(res.Front) < 5 {
			t.Fatalf("front has only %d subnets", len(res.Front))
		}
		for i, f := range res.Front {
			if i > 0 && f.LatencyMS < res.Front[i-1].LatencyMS {
				t.Errorf("front not sorted by latency at %d", i)
			}
			if !withMem && i > 0 && f.Accuracy <= res.Front[i-1].Accuracy {
				t.Errorf("2-D front member %d is slower but not more accurate", i)
			}
		}
		// No scored subnet dominates a front member, and every scored
		// subnet is matched or beaten by one.
		for _, e := range res.Evaluated {
			covered := false
			for _, f := range res.Front {
				if d, _ := dominates(a.obj(&e), a.obj(&f)); d {
					t.Fatalf("scored subnet %+v dominates front member %+v", e.Estimate, f.Estimate)
				}
				if _, w := dominates(a.obj(&f), a.obj(&e)); w {
					covered = true
				}
			}
			if !covered {
				t.Fatalf("scored subnet %+v is not covered by the front", e.Estimate)
			}
		}
		if res.Top[0].Accuracy != res.Front[len(res.Front)-1].Accuracy && !withMem {
			t.Errorf("the chosen subnet (%v) is not the front's most accurate (%v)", res.Top[0].Accuracy, res.Front[len(res.Front)-1].Accuracy)
		}
		want := []string{"accuracy", "latency"}
		if withMem {
			want = append(want, "memory")
		}
		if strings.Join(res.Objectives, ",") != strings.Join(want, ",") {
			t.Errorf("objectives %v, want %v", res.Objectives, want)
		}
	}
}

func TestFrontFiles(t *testing.T) {
	sp := space(t, 1.2)
	sp, _ = sp.WithResolutions([]int{160, 176, 192, 208, 224})
	sc := newSynth(sp)
	lim := Limits{MaxLatencyMS: 18, MaxMemory: 45e6}
	res, err := Run(context.Background(), sp, sc, lim, Options{Seed: 4, Population: 40, Generations: 30, Pareto: true})
	if err != nil {
		t.Fatal(err)
	}

	var js bytes.Buffer
	if err := WriteFrontJSON(&js, res); err != nil {
		t.Fatal(err)
	}
	var f FrontFile
	if err := json.Unmarshal(js.Bytes(), &f); err != nil {
		t.Fatalf("front JSON does not parse: %v", err)
	}
	if len(f.Front) != len(res.Front) || f.Chosen == nil || f.Chosen.Config != res.Top[0].Config ||
		f.Limits.MaxLatencyMS != 18 || f.Limits.MaxMemory != 45e6 || f.Front[0].Config != res.Front[0].Config {
		t.Errorf("front JSON does not match the result: %+v", f)
	}
	chosen := 0
	for _, p := range f.Front {
		if p.Config == f.Chosen.Config {
			chosen++
		}
	}
	if chosen != 1 {
		t.Errorf("the chosen subnet is %d points of the front, want 1", chosen)
	}

	var cb bytes.Buffer
	if err := WriteFrontCSV(&cb, res); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cb).ReadAll()
	if err != nil {
		t.Fatalf("front CSV does not parse: %v", err)
	}
	if len(rows) != len(res.Front)+1 || rows[0][0] != "accuracy" || rows[0][len(rows[0])-1] != "config" {
		t.Fatalf("front CSV has %d rows, header %v", len(rows), rows[0])
	}
	if rows[1][len(rows[1])-1] != res.Front[0].Config.String() {
		t.Errorf("CSV config %q != %q", rows[1][len(rows[1])-1], res.Front[0].Config)
	}

	dir := t.TempDir()
	for _, x := range []Metric{Latency, Memory} {
		p, err := PlotFront(res, PlotOptions{X: x})
		if err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{"png", "svg"} {
			path := filepath.Join(dir, x.String()+"."+ext)
			if err := SavePlot(path, p); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if ext == "png" {
				img, err := png.Decode(bytes.NewReader(data))
				if err != nil {
					t.Fatalf("plot PNG does not decode: %v", err)
				}
				if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 300 {
					t.Errorf("plot PNG is %v", b)
				}
			} else if !bytes.Contains(data, []byte("<svg")) || !bytes.Contains(data, []byte("Pareto front")) {
				t.Errorf("plot SVG lacks the svg element or the legend")
			}
		}
	}
	if out := os.Getenv("EDGEFIT_PLOT_DIR"); out != "" {
		p, _ := PlotFront(res, PlotOptions{})
		_ = SavePlot(filepath.Join(out, "synth_front.png"), p)
	}

	// Errors that say what to do.
	if err := WriteFrontJSON(&js, &Result{}); err == nil || !strings.Contains(err.Error(), "Options.Pareto") {
		t.Errorf("front of a result without one: %v", err)
	}
	p, _ := PlotFront(res, PlotOptions{})
	if err := SavePlot(filepath.Join(dir, "plot"), p); err == nil || !strings.Contains(err.Error(), ".png or .svg") {
		t.Errorf("plot path without extension: %v", err)
	}
	if _, err := PlotFront(res, PlotOptions{X: MACs}); err == nil {
		t.Error("plotting against MACs should be refused")
	}
}

// TestCandidateJSON pins the one JSON form of a candidate, written out by
// hand, and reads it back.
func TestCandidateJSON(t *testing.T) {
	sp := space(t, 1.0)
	c := Candidate{Config: sp.MinConfig(160)}
	c.Accuracy, c.LatencyMS = 0.75, 12.5
	c.PeakMemory, c.Params, c.MACs, c.WeightBytes = 20e6, 3e6, 100e6, 12e6
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"accuracy":0.75,"latency_ms":12.5,"peak_memory_bytes":20000000,"params":3000000,"macs":100000000,"weight_bytes":12000000,` +
		`"config":{"ks":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"e":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"d":[2,2,2,2,2],"r":160}}`
	if string(b) != want {
		t.Errorf("candidate JSON\n got %s\nwant %s", b, want)
	}
	var back Candidate
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Errorf("read back %+v (%v), want %+v", back, err, c)
	}
}
