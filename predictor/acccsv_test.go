package predictor

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/supernet"
)

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, " ")
}

// samplesCSV writes n random w1.2 subnets with the tutorial MLP's
// prediction as their "measured" accuracy, in percent, in list form or
// JSON form.
func samplesCSV(t testing.TB, n int, lists bool) []byte {
	p := tutorialMLP(t)
	s, _ := supernet.NewSpace(1.2)
	cfgs := randomConfigs(s, n, []int{160, 176, 192, 208, 224})
	acc := make([]float64, n)
	p.Accuracy(cfgs, acc)
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if lists {
		w.Write([]string{"ks", "e", "d", "image_size", "accuracy"})
	} else {
		w.Write([]string{"accuracy", "config"})
	}
	for i, c := range cfgs {
		a := fmt.Sprintf("%.2f", 100*acc[i])
		if lists {
			w.Write([]string{joinInts(c.KS[:]), joinInts(c.E[:]), joinInts(c.D[:]), fmt.Sprint(c.R), a})
		} else {
			w.Write([]string{a, c.String()})
		}
	}
	w.Flush()
	return b.Bytes()
}

func TestFitAccuracyFromCSV(t *testing.T) {
	s, _ := supernet.NewSpace(1.2)
	for _, lists := range []bool{true, false} {
		data := samplesCSV(t, 600, lists)
		a, err := ReadAccuracyCSV(s, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if !a.Percent || len(a.Samples) != 600 || a.Samples[0].Line != 2 {
			t.Fatalf("percent %v, %d samples, first line %d", a.Percent, len(a.Samples), a.Samples[0].Line)
		}
		for _, smp := range a.Samples {
			if smp.Accuracy < 0.7 || smp.Accuracy > 0.9 {
				t.Fatalf("line %d: accuracy %v not converted to a fraction", smp.Line, smp.Accuracy)
			}
		}
		m, rep, err := FitAccuracy(s, a, AccuracyFitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("lists=%v: %d samples read as %s, λ=%g, %d-fold CV RMSE %.3f points MAE %.3f ρ %.4f, train RMSE %.3f",
			lists, rep.Samples, rep.Unit, rep.Lambda, rep.Folds, rep.CVRMSE, rep.CVMAE, rep.CVRho, rep.TrainRMS)
		// The MLP's accuracies span about 7 points; a linear fit of it
		// should rank well and err well under a point.
		if rep.Unit != "percent" || rep.CVRMSE > 0.6 || rep.CVRho < 0.95 || rep.TrainRMS > rep.CVRMSE {
			t.Errorf("fit report %+v", rep)
		}
		// Unseen subnets, compared with the MLP it imitates.
		test := randomConfigs(s, 300, []int{160, 192, 224})
		want, got := make([]float64, 300), make([]float64, 300)
		tutorialMLP(t).Accuracy(test, want)
		m.Accuracy(test, got)
		if rho := Spearman(got, want); rho < 0.95 {
			t.Errorf("held-out Spearman %.4f", rho)
		}
		if !strings.Contains(m.Source(), "600 measured subnets") {
			t.Errorf("source %q", m.Source())
		}
		// Save and load.
		path := filepath.Join(t.TempDir(), "acc.json")
		if err := m.Save(path); err != nil {
			t.Fatal(err)
		}
		m2, err := LoadRidgeAccuracy(path)
		if err != nil {
			t.Fatal(err)
		}
		got2 := make([]float64, 300)
		m2.Accuracy(test, got2)
		for i := range got {
			if got[i] != got2[i] {
				t.Fatalf("prediction %d changed after saving", i)
			}
		}
		w10, _ := supernet.NewSpace(1.0)
		if err := m2.CheckSpace(w10); err == nil {
			t.Error("w1.2 samples accepted for w1.0")
		}
	}
}

func TestAccuracyCSVFractions(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	c := s.MaxConfig(224)
	in := "# measured after BN recalibration\nks,e,d,r,accuracy\n" +
		fmt.Sprintf("%q,%q,%q,224,0.79\n", joinInts(c.KS[:]), "[6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6]", joinInts(c.D[:]))
	a, err := ReadAccuracyCSV(s, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if a.Percent || a.Samples[0].Accuracy != 0.79 || a.Samples[0].Config != c || a.Samples[0].Line != 3 {
		t.Errorf("%+v", a)
	}
	if _, _, err := FitAccuracy(s, a, AccuracyFitOptions{}); err == nil || !strings.Contains(err.Error(), "at least 10") {
		t.Errorf("fit on one sample: %v", err)
	}
}

func TestAccuracyCSVRefuses(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	c := s.MinConfig(160)
	row := fmt.Sprintf("%s,%s,%s,160,", joinInts(c.KS[:]), joinInts(c.E[:]), joinInts(c.D[:]))
	cfgJSON := strings.ReplaceAll(c.String(), `"`, `""`)
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"unknown column", "ks,e,d,r,top1\n", `line 1: unknown column "top1"`},
		{"duplicate column", "ks,e,d,r,r,accuracy\n", `column "r" appears twice`},
		{"no accuracy", "config\n", "no accuracy column"},
		{"mixed", "config,ks,accuracy\n", "want the columns"},
		{"missing list", "ks,e,r,accuracy\n", "want the columns"},
		{"no rows", "config,accuracy\n", "no samples"},
		{"bad kernel", "ks,e,d,r,accuracy\n" + strings.Replace(row, "3", "4", 1) + "0.5\n", "line 2: not a subnet of ofa-mbv3-w1.0: subnet config: ks[0] = 4"},
		{"short list", "ks,e,d,r,accuracy\n" + row[2:] + "0.5\n", "line 2: column ks: 19 numbers"},
		{"word in list", "ks,e,d,r,accuracy\n" + "x" + row[1:] + "0.5\n", `"x" is not a whole number`},
		{"bad r", "ks,e,d,r,accuracy\n" + strings.Replace(row, ",160,", ",big,", 1) + "0.5\n", `line 2: column r: "big"`},
		{"r outside", "ks,e,d,r,accuracy\n" + strings.Replace(row, ",160,", ",4000,", 1) + "0.5\n", "line 2: not a subnet"},
		{"text accuracy", "ks,e,d,r,accuracy\n" + row + "good\n", `line 2: accuracy "good"`},
		{"NaN accuracy", "ks,e,d,r,accuracy\n" + row + "NaN\n", `line 2: accuracy "NaN"`},
		{"negative", "ks,e,d,r,accuracy\n" + row + "0.5\n" + row + "-1\n", `line 3: accuracy "-1"`},
		{"over 100", "ks,e,d,r,accuracy\n" + row + "101\n", `accuracy "101"`},
		{"fields", "ks,e,d,r,accuracy\n" + row + "0.5,1\n", "line 2: 6 fields"},
		{"bad json", "config,accuracy\n\"{\"\"ks\"\":[3]}\",0.5\n", "line 2: config"},
		{"json depth", "config,accuracy\n\"" + strings.Replace(cfgJSON, `""d"":[2`, `""d"":[7`, 1) + "\",0.5\n", "line 2: not a subnet of ofa-mbv3-w1.0: subnet config: d[0] = 7"},
		{"quote", "config,accuracy\n\"{,0.5\n", "accuracy CSV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadAccuracyCSV(s, strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := LoadAccuracyCSV(s, filepath.Join(t.TempDir(), "none.csv")); err == nil {
		t.Error("missing file accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"format":"edgefit-accuracy-ridge","version":1,"space":"ofa-mbv3-w1.0","coef":[1,2]}`), 0o644)
	if _, err := LoadRidgeAccuracy(bad); err == nil || !strings.Contains(err.Error(), "2 coefficients") {
		t.Errorf("short coefficients: %v", err)
	}
}

func FuzzLoadAccuracyCSV(f *testing.F) {
	s, _ := supernet.NewSpace(1.0)
	c := s.MaxConfig(224)
	f.Add([]byte(fmt.Sprintf("ks,e,d,r,accuracy\n%s,%s,%s,224,79.5\n", joinInts(c.KS[:]), joinInts(c.E[:]), joinInts(c.D[:]))))
	f.Add([]byte("config,accuracy\n\"" + strings.ReplaceAll(c.String(), `"`, `""`) + "\",0.8\n"))
	f.Add([]byte("accuracy,config\n0.1,{}\n"))
	f.Add([]byte("\ufeffks,e,d,image_size,accuracy\n# c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ReadAccuracyCSV(s, bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, smp := range a.Samples {
			sp, err := s.WithResolutions([]int{smp.Config.R})
			if err != nil || sp.Validate(smp.Config) != nil {
				t.Fatalf("line %d: invalid config accepted: %v", smp.Line, smp.Config)
			}
			if !(smp.Accuracy >= 0 && smp.Accuracy <= 1) || math.IsNaN(smp.Accuracy) {
				t.Fatalf("line %d: accuracy %v outside [0, 1]", smp.Line, smp.Accuracy)
			}
		}
	})
}

func TestProxyAccuracy(t *testing.T) {
	s, _ := supernet.NewSpace(1.0)
	p := NewProxyAccuracy(s)
	if !strings.HasPrefix(p.Source(), "PROXY, not an accuracy") || !IsProxy(p) {
		t.Errorf("source %q", p.Source())
	}
	cfgs := []supernet.Config{s.MinConfig(128), s.MaxConfig(224), s.MinConfig(224), s.MaxConfig(128)}
	out := make([]float64, len(cfgs))
	p.Accuracy(cfgs, out)
	if out[0] != 0 || out[1] != 1 || !(out[2] > 0 && out[2] < 1 && out[3] > 0 && out[3] < 1) {
		t.Errorf("proxy scores %v", out)
	}
	// Monotone: a larger kernel somewhere never lowers the score.
	rng := rand.New(rand.NewPCG(1, 1))
	for range 200 {
		c := s.RandomConfig(rng)
		b := c
		b.KS[rng.IntN(supernet.NumBlocks)] = 7
		b.R = min(224, c.R+4)
		var o [2]float64
		p.Accuracy([]supernet.Config{c, b}, o[:])
		if o[1] < o[0] {
			t.Fatalf("bigger subnet scored lower: %v < %v", o[1], o[0])
		}
	}
}
