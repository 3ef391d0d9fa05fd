package supernet

import (
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
