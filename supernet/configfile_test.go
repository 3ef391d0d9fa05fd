package supernet

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadConfigFile(t *testing.T) {
	w10, _ := NewSpace(1.0)
	w12, _ := NewSpace(1.2)
	min12 := w12.MinConfig(160)
	netcfg, err := w12.NetConfig(min12)
	if err != nil {
		t.Fatal(err)
	}
	noR := min12
	noR.R = 0
	for _, tc := range []struct {
		name      string
		data      string
		want      Config
		space     string // "" = none named
		netConfig bool
		err       string // substring of the error; "" = none
		syntax    bool   // the error is ErrConfigSyntax
	}{
		{"edgefit form", w10.MaxConfig(224).String(), w10.MaxConfig(224), "", false, "", false},
		{"edgefit form, trailing newline", w10.MinConfig(128).String() + "\n", w10.MinConfig(128), "", false, "", false},
		{"net.config", string(netcfg), noR, "ofa-mbv3-w1.2", true, "", false},
		{"not JSON", "ks=3", Config{}, "", false, "c.json is not JSON", true},
		{"empty", "", Config{}, "", false, "not JSON", true},
		{"a list", "[1,2]", Config{}, "", false, "not JSON", true},
		{"missing field", `{"ks":[],"e":[],"r":224}`, Config{}, "", false, `read subnet config c.json: subnet config: field "ks" has 0 entries`, false},
		{"unknown field", `{"ks":[3],"x":1}`, Config{}, "", false, "read subnet config c.json", false},
		{"named space", string(MarshalConfigFile("ofa-mbv3-w1.2", min12)), min12, "ofa-mbv3-w1.2", false, "", false},
		{"named space, short spelling", `{"space":"w1.0",` + w10.MinConfig(128).String()[1:], w10.MinConfig(128), "ofa-mbv3-w1.0", false, "", false},
		{"unknown space", `{"space":"ofa-mbv3-w2",` + w10.MinConfig(128).String()[1:], Config{}, "", false, `read subnet config c.json: unknown search space "ofa-mbv3-w2"`, false},
		{"space not a name", `{"space":1.2,` + w10.MinConfig(128).String()[1:], Config{}, "", false, `"space" must be a space name`, false},
		{"ProxylessNAS net.config", `{"name":"ProxylessNASNets","blocks":[]}`, Config{}, "", false, "read OFA net.config c.json: net.config: this is a ProxylessNAS net", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ReadConfigFile("c.json", []byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || errors.Is(err, ErrConfigSyntax) != tc.syntax {
					t.Fatalf("error %v, want one mentioning %q (syntax %v)", err, tc.err, tc.syntax)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Config != tc.want || f.NetConfig != tc.netConfig || (f.Space == nil) != (tc.space == "") || (f.Space != nil && f.Space.Name != tc.space) {
				t.Errorf("got %+v (space %v), want %v in %q, net.config %v", f.Config, f.Space, tc.want, tc.space, tc.netConfig)
			}
		})
	}
	// The form edgefit writes is exactly this text (scripts may read it).
	if got, want := string(MarshalConfigFile("ofa-mbv3-w1.2", w12.MinConfig(160))),
		`{"space":"ofa-mbv3-w1.2","ks":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"e":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"d":[2,2,2,2,2],"r":160}`+"\n"; got != want {
		t.Errorf("MarshalConfigFile:\n%s\nwant\n%s", got, want)
	}
	if _, err := ParseConfig(w12, MarshalConfigFile("ofa-mbv3-w1.2", min12)); err != nil {
		t.Errorf("ParseConfig of a config file of its space: %v", err)
	}
	if _, err := ParseConfig(w10, MarshalConfigFile("ofa-mbv3-w1.2", w10.MinConfig(160))); err == nil || !strings.Contains(err.Error(), "is for ofa-mbv3-w1.2, not ofa-mbv3-w1.0") {
		t.Errorf("ParseConfig of a config file of the other space: %v", err)
	}
	if _, err := LoadConfigFile(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzReadConfigFile: any input is refused with an error or read into a
// config whose own JSON reads back the same.
func FuzzReadConfigFile(f *testing.F) {
	s, _ := NewSpace(1.0)
	f.Add([]byte(s.MaxConfig(224).String()))
	if nc, err := s.NetConfig(s.MinConfig(224)); err == nil {
		f.Add(nc)
	}
	f.Add([]byte(`{"blocks":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cf, err := ReadConfigFile("fuzz", data)
		if err != nil {
			return
		}
		if cf.NetConfig != (cf.Space != nil) || (cf.NetConfig && cf.Config.R != 0) {
			t.Fatalf("net.config %v with space %v and r %d", cf.NetConfig, cf.Space, cf.Config.R)
		}
		if cf.NetConfig {
			return
		}
		back, err := ReadConfigFile("again", []byte(cf.Config.String()))
		if err != nil || back.Config != cf.Config {
			t.Fatalf("%s reads back as %v, %v", cf.Config, back.Config, err)
		}
	})
}

func TestReadConfigFiles(t *testing.T) {
	w10, _ := NewSpace(1.0)
	w12, _ := NewSpace(1.2)
	a, b := w10.MinConfig(128), w10.MaxConfig(224)
	netcfg, err := w12.NetConfig(w12.MinConfig(160))
	if err != nil {
		t.Fatal(err)
	}
	named := string(MarshalConfigFile("ofa-mbv3-w1.0", b))
	for _, tc := range []struct {
		name, data string
		want       []Config
		err        string
	}{
		{"one object", a.String(), []Config{a}, ""},
		{"JSON lines", a.String() + "\n" + named + "\n\n", []Config{a, b}, ""},
		{"array", "[" + a.String() + "," + named + "]", []Config{a, b}, ""},
		{"array with a net.config", " [" + string(netcfg) + "]", []Config{{KS: w12.MinConfig(160).KS, E: w12.MinConfig(160).E, D: w12.MinConfig(160).D}}, ""},
		{"empty", " \n", nil, "no config found"},
		{"empty array", "[]", nil, "no config found"},
		{"bad second line", a.String() + "\n{oops\n", nil, "config 2 is not JSON"},
		{"bad config in an array", "[" + a.String() + `,{"ks":[3]}]`, nil, "cs.jsonl#2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadConfigFiles("cs.jsonl", strings.NewReader(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("%d configs, %v; want %d", len(got), err, len(tc.want))
			}
			for i := range got {
				if got[i].Config != tc.want[i] {
					t.Errorf("config %d: %v, want %v", i, got[i].Config, tc.want[i])
				}
			}
		})
	}
}

// FuzzReadConfigFiles: any input is refused with an error or read into
// configs that read back alike one by one.
func FuzzReadConfigFiles(f *testing.F) {
	w10, _ := NewSpace(1.0)
	f.Add([]byte(w10.MinConfig(128).String() + "\n" + string(MarshalConfigFile("ofa-mbv3-w1.0", w10.MaxConfig(224)))))
	f.Add([]byte("[" + w10.MinConfig(128).String() + "]"))
	f.Add([]byte("[]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfs, err := ReadConfigFiles("fuzz", bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(cfs) == 0 {
			t.Fatal("no configs and no error")
		}
		for _, cf := range cfs {
			if cf.NetConfig {
				continue
			}
			back, err := ReadConfigFile("again", []byte(cf.Config.String()))
			if err != nil || back.Config != cf.Config {
				t.Fatalf("%v read back as %v, %v", cf.Config, back.Config, err)
			}
		}
	})
}
