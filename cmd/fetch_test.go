package cmd

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/supernet/zoo"
)

// ofaMirror serves copies of OFA's published files, laid out as on OFA's
// server, from a loopback server; $EDGEFIT_OFA_BASE_URL points at it and
// XDG_CACHE_HOME at an empty directory. spoil, when set, changes a file's
// bytes before serving.
func ofaMirror(t *testing.T, spoil func(urlPath string, data []byte) []byte) (root string) {
	t.Helper()
	src := map[string]string{
		"ofa/acc_predictor.pth":                     "ofa-upstream/acc_predictor.pth",
		"ofa/ofa_nets/ofa_mbv3_d234_e346_k357_w1.0": "fixtures/ofa-mbv3-w1.0/supernet.pth",
	}
	for _, r := range []string{"160", "176", "192", "208", "224"} {
		src["ofa/note10/"+r+"_lookup_table.yaml"] = "ofa-upstream/note10/" + r + "_lookup_table.yaml"
	}
	root = t.TempDir()
	for urlPath, rel := range src {
		data, err := os.ReadFile(testfix.SharedFile(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		if spoil != nil {
			data = spoil(urlPath, data)
		}
		dst := filepath.Join(root, filepath.FromSlash(urlPath))
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(root)))
	t.Cleanup(srv.Close)
	t.Setenv(zoo.BaseURLEnv, srv.URL)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	return root
}

func TestFetchCommand(t *testing.T) {
	mirror := ofaMirror(t, nil)
	cache := t.TempDir()

	out, _, err := run(t, "fetch", "--list", "--cache", cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range zoo.Names() {
		if !strings.Contains(out, strings.ToUpper(n)) && !strings.Contains(out, n) {
			t.Errorf("--list lacks %s:\n%s", n, out)
		}
	}
	if strings.Count(out, "not cached") != 4 {
		t.Errorf("an empty cache should list 4 items as not cached:\n%s", out)
	}

	out, _, err = run(t, "fetch", "lut-note10", "acc-predictor", "--cache", cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"note10/160_lookup_table.yaml", "note10/224_lookup_table.yaml", "acc_predictor.pth"} {
		p := filepath.Join(cache, filepath.FromSlash(f))
		if !strings.Contains(out, p) {
			t.Errorf("output does not show %s:\n%s", p, out)
		}
		want, _ := os.ReadFile(filepath.Join(mirror, "ofa", filepath.FromSlash(f)))
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: not the served file (%v)", p, err)
		}
	}

	out, _, err = run(t, "fetch", "--list", "--json", "--cache", cache)
	if err != nil {
		t.Fatal(err)
	}
	var list []zooEntry
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("--list --json: %v\n%s", err, out)
	}
	state := map[string]bool{}
	for _, e := range list {
		state[e.Name] = e.Cached
	}
	if !state["lut-note10"] || !state["acc-predictor"] || state["ofa-mbv3-w1.0"] || len(list) != 4 {
		t.Errorf("cache state after fetching two items: %v", state)
	}

	// The default cache ($XDG_CACHE_HOME/edgefit/ofa), JSON output, and a
	// supernet checked by structure.
	out, _, err = run(t, "fetch", "ofa-mbv3-w1.0", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var files []fetchedFile
	if err := json.Unmarshal([]byte(out), &files); err != nil || len(files) != 1 {
		t.Fatalf("fetch --json: %v\n%s", err, out)
	}
	want := filepath.Join(os.Getenv("XDG_CACHE_HOME"), "edgefit", "ofa", "ofa_mbv3_d234_e346_k357_w1.0.pth")
	if f := files[0]; f.Path != want || f.Size != 31059496 || len(f.GitSHA1) != 40 || !strings.HasPrefix(f.Source, os.Getenv(zoo.BaseURLEnv)) {
		t.Errorf("fetch --json: %+v; want the file at %s", f, want)
	}

	// Offline from the cache.
	if _, _, err := run(t, "fetch", "--offline", "acc-predictor", "--cache", cache); err != nil {
		t.Errorf("offline fetch of a cached item: %v", err)
	}
}

func TestFetchCommandErrors(t *testing.T) {
	ofaMirror(t, func(p string, data []byte) []byte {
		if strings.HasSuffix(p, "acc_predictor.pth") {
			data[100] ^= 0xff
		}
		return data
	})
	shared := sharedDir(t)
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"no names", []string{"fetch"}, ExitUsage, []string{"name what to fetch", "--list"}},
		{"unknown name", []string{"fetch", "ofa-resnet50"}, ExitUsage, []string{"ofa-mbv3-w1.2"}},
		{"list with names", []string{"fetch", "--list", "lut-note10"}, ExitUsage, []string{"--list takes no names"}},
		{"from with two names", []string{"fetch", "--from", "x", "lut-note10", "acc-predictor"}, ExitUsage, []string{"exactly one"}},
		{"offline uncached", []string{"fetch", "--offline", "ofa-mbv3-w1.2"}, ExitFailure,
			[]string{"not in the cache", "ofa/ofa_nets/ofa_mbv3_d234_e346_k357_w1.2", "drop --offline", "edgefit fetch --from FILE ofa-mbv3-w1.2"}},
		{"not on the server", []string{"fetch", "ofa-mbv3-w1.2"}, ExitFailure,
			[]string{"404", "ofa_mbv3_d234_e346_k357_w1.2", "does not serve this file", "edgefit fetch --from FILE"}},
		{"bad base URL", []string{"fetch", "--base-url", "ftp://mirror/ofa", "acc-predictor"}, ExitFailure, []string{"not an http:// or https:// URL"}},
		{"corrupted download", []string{"fetch", "acc-predictor"}, ExitMismatch,
			[]string{"git-sha1 mismatch: expected f6a9ab2f66b7e2f6e097a1e32faafe60a4d22fcf, got", "removed", "mirror"}},
		{"import of the wrong file", []string{"fetch", "--from", filepath.Join(shared, "ofa-upstream", "note10", "160_lookup_table.yaml"), "acc-predictor"}, ExitMismatch,
			[]string{"size mismatch", "is not OFA's published acc-predictor"}},
		{"import of the wrong width", []string{"fetch", "--from", filepath.Join(shared, "fixtures", "ofa-mbv3-w1.0", "supernet.pth"), "ofa-mbv3-w1.2"}, ExitMismatch,
			[]string{"not width 1.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, append(tc.args, "--cache", t.TempDir())...)
			if code := ExitCodeOf(err); code != tc.code {
				t.Fatalf("exit code %d (%v), want %d", code, err, tc.code)
			}
			var msg bytes.Buffer
			PrintError(&msg, err)
			for _, w := range tc.wants {
				if !strings.Contains(msg.String(), w) {
					t.Errorf("message lacks %q:\n%s", w, msg.String())
				}
			}
		})
	}
}

func TestFetchCommandImport(t *testing.T) {
	shared := sharedDir(t)
	t.Setenv(zoo.BaseURLEnv, "http://127.0.0.1:1/") // nothing listens: any download would fail
	cache := t.TempDir()
	out, _, err := run(t, "fetch", "--from", filepath.Join(shared, "ofa-upstream", "note10"), "lut-note10", "--cache", cache)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "_lookup_table.yaml") != 5 {
		t.Errorf("import of the LUT directory should list 5 files:\n%s", out)
	}
	out, _, err = run(t, "fetch", "--from", filepath.Join(shared, "ofa-upstream", "acc_predictor.pth"), "acc-predictor", "--cache", cache, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var files []fetchedFile
	if err := json.Unmarshal([]byte(out), &files); err != nil || len(files) != 1 || !strings.HasSuffix(files[0].Source, "acc_predictor.pth") {
		t.Fatalf("import --json: %v\n%s", err, out)
	}
	if _, _, err := run(t, "fetch", "--offline", "lut-note10", "acc-predictor", "--cache", cache); err != nil {
		t.Errorf("offline fetch after import: %v", err)
	}
}

func TestFetchHelpHasExample(t *testing.T) {
	out, _, err := run(t, "fetch", "--help")
	if err != nil || !strings.Contains(out, "edgefit fetch --list") || !strings.Contains(out, "--from") {
		t.Errorf("fetch --help: %v\n%s", err, out)
	}
}
