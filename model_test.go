package edgefit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
	"github.com/edgefit/edgefit/supernet/zoo"
)

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestResolve checks where the space comes from and that disagreeing
// sources are refused before anything heavy is read.
func TestResolve(t *testing.T) {
	w10, _ := supernet.NewSpace(1.0)
	w12, _ := supernet.NewSpace(1.2)
	netcfg, err := w12.NetConfig(w12.MinConfig(160))
	if err != nil {
		t.Fatal(err)
	}
	plain := writeFile(t, "subnet.json", w10.MaxConfig(224).String())
	odd := w10.MinConfig(128)
	odd.R = 300 // deployable, though never searched
	oddPath := writeFile(t, "odd.json", odd.String())
	ofa := writeFile(t, "net.config", string(netcfg))
	badKS := writeFile(t, "bad.json", strings.Replace(w10.MaxConfig(224).String(), `"ks":[7`, `"ks":[9`, 1))
	notJSON := writeFile(t, "notes.json", "ks=3")
	for _, tc := range []struct {
		name   string
		src    ModelSource
		space  string
		config supernet.Config
		input  bool   // the error is an InputError
		hint   bool   // the error carries a hint
		err    string // substring of the error
	}{
		{"nothing: w1.0", ModelSource{}, "ofa-mbv3-w1.0", supernet.Config{}, false, false, ""},
		{"--space", ModelSource{Space: "ofa-mbv3-w1.2"}, "ofa-mbv3-w1.2", supernet.Config{}, false, false, ""},
		{"edgefit config fits either width", ModelSource{Space: "ofa-mbv3-w1.2", Config: plain}, "ofa-mbv3-w1.2", w10.MaxConfig(224), false, false, ""},
		{"any resolution", ModelSource{Config: oddPath}, "ofa-mbv3-w1.0", odd.Canonical(w10), false, false, ""},
		{"--res overrides", ModelSource{Config: plain, Res: 160}, "ofa-mbv3-w1.0", withR(w10.MaxConfig(224), 160), false, false, ""},
		{"net.config names its space", ModelSource{Config: ofa, Res: 192}, "ofa-mbv3-w1.2", withR(w12.MinConfig(160), 192), false, false, ""},
		{"net.config needs --res", ModelSource{Config: ofa}, "", supernet.Config{}, true, false, "pass --res"},
		{"net.config against --space", ModelSource{Space: "ofa-mbv3-w1.0", Config: ofa, Res: 160}, "", supernet.Config{}, true, false, "describes a ofa-mbv3-w1.2 subnet"},
		{"unknown space", ModelSource{Space: "w2"}, "", supernet.Config{}, true, false, "--space"},
		{"value outside the space", ModelSource{Config: badKS}, "", supernet.Config{}, false, true, "ks[0] = 9"},
		{"resolution outside 32..1024", ModelSource{Config: plain, Res: 2000}, "", supernet.Config{}, false, true, "r = 2000"},
		{"not JSON", ModelSource{Config: notJSON}, "", supernet.Config{}, false, true, "is not JSON"},
		{"missing config", ModelSource{Config: filepath.Join(t.TempDir(), "none.json")}, "", supernet.Config{}, false, false, "none.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Resolve(tc.src)
			if tc.err != "" {
				var ie *InputError
				var h interface{ Hint() string }
				if err == nil || !strings.Contains(err.Error(), tc.err) || errors.As(err, &ie) != tc.input || errors.As(err, &h) != tc.hint {
					t.Fatalf("error %v, want one mentioning %q (input error %v, hint %v)", err, tc.err, tc.input, tc.hint)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Space.Name != tc.space || m.Config != tc.config || !m.Untrained() {
				t.Errorf("resolved %s %v, want %s %v", m.Space.Name, m.Config, tc.space, tc.config)
			}
		})
	}
}

func withR(c supernet.Config, r int) supernet.Config {
	c.R = r
	return c
}

// TestResolveCheckpoint: the checkpoint names the space, cheaply; its
// weights load only when a subnet is built.
func TestResolveCheckpoint(t *testing.T) {
	ckpt := filepath.Join(testfix.Shared(t), "fixtures", "ofa-mbv3-w1.0", "supernet.pth")
	if _, err := Resolve(ModelSource{Space: "ofa-mbv3-w1.2", Checkpoint: ckpt}); err == nil || !strings.Contains(err.Error(), "disagrees with checkpoint") {
		t.Errorf("--space against the checkpoint: %v", err)
	}
	m, err := Resolve(ModelSource{Checkpoint: ckpt})
	if err != nil {
		t.Fatal(err)
	}
	if m.Space.Name != "ofa-mbv3-w1.0" || m.Space.Classes != 1000 || m.Untrained() || m.ck != nil {
		t.Fatalf("space %s/%d, untrained %v, loaded %v", m.Space.Name, m.Space.Classes, m.Untrained(), m.ck != nil)
	}
	c := m.Space.MinConfig(160)
	net, err := m.Build(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if net.Untrained || m.ck == nil || net.Config != c {
		t.Errorf("built untrained %v, loaded %v, config %v", net.Untrained, m.ck != nil, net.Config)
	}
	if _, err := Resolve(ModelSource{Checkpoint: writeFile(t, "x.pth", "not a checkpoint")}); err == nil || !strings.Contains(err.Error(), "x.pth") {
		t.Errorf("a file that is no checkpoint: %v", err)
	}
}

// TestExportUntrained writes a model the way 'edgefit export' does and
// reads its metadata back.
func TestExportUntrained(t *testing.T) {
	w12, _ := supernet.NewSpace(1.2)
	c := w12.MinConfig(128)
	m, err := Resolve(ModelSource{Space: "ofa-mbv3-w1.2", Config: writeFile(t, "c.json", c.String())})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "m.onnx")
	res, err := Export(context.Background(), m, out, ExportOptions{Seed: 3, ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	costs := w12.Costs(c)
	if !res.Untrained || res.Space != "ofa-mbv3-w1.2" || res.MACs != costs.MACs || res.PeakMemory != costs.PeakMemory || res.MaxAbsDiff != nil {
		t.Errorf("result %+v", res)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := export.ReadMetadata(data)
	if err != nil {
		t.Fatal(err)
	}
	if meta[export.KeyUntrained] != "true" || meta[export.KeyPredictionPrefix+"params"] == "" || meta[export.KeyPredictionPrefix+"latency_ms"] != "" {
		t.Errorf("metadata %v", meta)
	}
}

// TestPrepareResolvesCatalogueNames: 'edgefit run --checkpoint
// ofa-mbv3-w1.0' takes the fetch cache's copy, checked before anything is
// measured, and records that file.
func TestPrepareResolvesCatalogueNames(t *testing.T) {
	shared := testfix.Shared(t)
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Chdir(t.TempDir())
	opts := RunOptions{Checkpoint: "ofa-mbv3-w1.0", OutDir: t.TempDir(), Limits: search.Limits{MaxLatencyMS: 10}}
	if _, err := Prepare(opts); err == nil || !strings.Contains(err.Error(), "run 'edgefit fetch ofa-mbv3-w1.0'") {
		t.Fatalf("before fetching: %v", err)
	}
	it, _ := zoo.Lookup(zoo.SupernetW10)
	if _, err := zoo.Import(context.Background(), it, filepath.Join(shared, "fixtures/ofa-mbv3-w1.0/supernet.pth"), zoo.Options{}); err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "edgefit", "ofa", "ofa_mbv3_d234_e346_k357_w1.0.pth"); p.opts.Checkpoint != want || p.model.CheckpointPath() != want {
		t.Errorf("checkpoint %q, want the cached %q", p.opts.Checkpoint, want)
	}
}
