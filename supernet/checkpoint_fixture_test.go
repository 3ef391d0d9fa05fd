package supernet

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
)

// sharedDir returns ../shared beside the repository root (the directory
// holding go.mod), where the OFA fixtures live, or skips the test.
func sharedDir(t testing.TB) string { return testfix.Shared(t) }

func fixturePath(t testing.TB, name string) string {
	t.Helper()
	return testfix.SharedFile(t, "fixtures/ofa-mbv3-w1.0/"+name)
}

type tensorStat struct {
	Shape  []int     `json:"shape"`
	Sum    float64   `json:"sum"`
	AbsSum float64   `json:"abs_sum"`
	Head   []float64 `json:"head"`
}

type refCase struct {
	Name          string                `json:"name"`
	Config        Config                `json:"config"`
	FlopsM        float64               `json:"flops_m"`
	ParamsM       float64               `json:"params_m"`
	NetConfig     json.RawMessage       `json:"net_config"`
	SubnetTensors map[string]tensorStat `json:"subnet_tensors"`
}

type reference struct {
	WidthMult float64   `json:"width_mult"`
	NClasses  int       `json:"n_classes"`
	Cases     []refCase `json:"cases"`
}

// pythonToJSON turns a Python repr of plain data into JSON. reference.json
// may hold such strings; plain JSON passes through unchanged.
func pythonToJSON(s string) string {
	r := strings.NewReplacer("'", `"`, "None", "null", "True", "true", "False", "false")
	return r.Replace(s)
}

// decodeMaybeRepr decodes raw into v, whether raw is the JSON value itself
// or a string holding its Python repr.
func decodeMaybeRepr(t testing.TB, raw json.RawMessage, v any) {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		raw = json.RawMessage(pythonToJSON(s))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode reference value: %v", err)
	}
}

var (
	refOnce sync.Once
	refData *reference
	refErr  error

	ckOnce sync.Once
	ckData *Checkpoint
	ckErr  error
)

func loadReference(t testing.TB) *reference {
	t.Helper()
	p := fixturePath(t, "reference.json")
	refOnce.Do(func() {
		var raw struct {
			WidthMult float64 `json:"width_mult"`
			NClasses  int     `json:"n_classes"`
			Cases     []struct {
				Name          string          `json:"name"`
				Config        Config          `json:"config"`
				FlopsM        float64         `json:"flops_m"`
				ParamsM       float64         `json:"params_m"`
				NetConfig     json.RawMessage `json:"net_config"`
				SubnetTensors json.RawMessage `json:"subnet_tensors"`
			} `json:"cases"`
		}
		b, err := os.ReadFile(p)
		if err == nil {
			err = json.Unmarshal(b, &raw)
		}
		if err != nil {
			refErr = err
			return
		}
		refData = &reference{WidthMult: raw.WidthMult, NClasses: raw.NClasses}
		for _, c := range raw.Cases {
			rc := refCase{Name: c.Name, Config: c.Config, FlopsM: c.FlopsM, ParamsM: c.ParamsM}
			var s string
			if json.Unmarshal(c.NetConfig, &s) == nil {
				rc.NetConfig = json.RawMessage(pythonToJSON(s))
			} else {
				rc.NetConfig = c.NetConfig
			}
			decodeMaybeRepr(t, c.SubnetTensors, &rc.SubnetTensors)
			refData.Cases = append(refData.Cases, rc)
		}
	})
	if refErr != nil {
		t.Fatalf("read reference.json: %v", refErr)
	}
	if len(refData.Cases) == 0 {
		t.Fatal("reference.json has no cases")
	}
	return refData
}

// fixtureCheckpoint loads the w1.0 fixture supernet once per test binary.
func fixtureCheckpoint(t testing.TB) *Checkpoint {
	t.Helper()
	p := fixturePath(t, "supernet.pth")
	ckOnce.Do(func() { ckData, ckErr = LoadCheckpoint(p) })
	if ckErr != nil {
		t.Fatalf("load fixture supernet: %v", ckErr)
	}
	return ckData
}
