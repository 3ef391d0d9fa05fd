package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices/adbfake"
	"github.com/edgefit/edgefit/devices/devicetest"
	"github.com/edgefit/edgefit/profiler"
)

// put writes n bytes at path, creating its directory.
func put(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, n), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// TestDevicesList lists a fake phone through the real adb client on a
// private server, the aliases of an ssh config, and the table cache: a
// table with its fingerprint and an unfinished profile.
func TestDevicesList(t *testing.T) {
	adb := devicetest.StartADB(t, &adbfake.Device{Props: map[string]string{"ro.product.model": "Pixel_6"}})
	t.Setenv("ANDROID_ADB_SERVER_PORT", itoaPort(adb.ServerPort))
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	os.WriteFile(cfg, []byte("Host pi pi5\n  HostName 10.0.0.5\n  User pi\n  Port 2222\nHost jetson\n  User nvidia\nHost *.local !bad\n  User x\nHost *\n  ServerAliveInterval 30\n"), 0o644)

	_, tbl := note10Table(t)
	tbl.FingerprintBefore = json.RawMessage(`{"target":"local","os":"linux","kernel":"6.1","arch":"arm64","machine":"aarch64","cpu_model":"Cortex-A76","cores":4}`)
	luts := filepath.Join(cache, "edgefit", "luts")
	os.MkdirAll(luts, 0o755)
	if err := tbl.WriteFile(filepath.Join(luts, "ofa-mbv3-w1.2-0123456789abcdef.lut.json")); err != nil {
		t.Fatal(err)
	}
	unfinished := filepath.Join(luts, "ofa-mbv3-w1.0-fedcba9876543210.lut.json")
	header := `{"journal":"edgefit-profile-journal","version":1,"created":"2026-01-01T00:00:00Z","target":"ssh://pi@10.0.0.5","identity":{"space":"ofa-mbv3-w1.0","resolutions":[160],"batch":1,"threads":1,"provider":"cpu","runner":"agent","networks":0,"seed":1,"measure":{"warmup":1,"min_runs":5,"max_runs":8,"target_ci":0.02,"max_time_s":1,"sample_ms":1}},"identity_digest":"sha256:x","device":"linux/arm64 Cortex-A72, 4 cores, kernel 6.6"}` + "\n"
	os.WriteFile(profiler.JournalPath(unfinished), []byte(header), 0o644)

	out, _, err := run(t, "devices", "list", "--ssh-config", cfg, "--json")
	if err != nil {
		t.Fatal(err)
	}
	checkSchema(t, "devices list --json", []byte(out), `{"adb":[{"target":"","serial":"","state":"","model":"","product":"","description":""}],"ssh":[{"target":"","alias":"","user":"","host_name":"","port":0}],"tables_dir":"",
		"tables":[{"path":"","key":"","size_bytes":0,"modified_at":"","space":"","target":"","device":"","journal":"","unfinished":false,
			"entries":0,"resolutions":[],"runtime":`+runtimeKeys+`}]}`, "adb[].model", "adb[].product", "adb[].description", "tables[].journal", "tables[].unfinished", "tables[].device", "ssh[].user",
		"ssh[].host_name", "ssh[].port", "tables[].entries", "tables[].resolutions", "tables[].runtime")
	var l devicesList
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	if l.ADBError != "" || len(l.ADB) != 1 || l.ADB[0].Target != adb.URL || l.ADB[0].State != "device" {
		t.Errorf("adb devices %+v (%s)", l.ADB, l.ADBError)
	}
	var aliases []string
	for _, a := range l.SSH {
		aliases = append(aliases, a.Alias)
		if a.Alias == "pi5" && (a.Target != "ssh://pi5" || a.HostName != "10.0.0.5" || a.User != "pi" || a.Port != 2222) {
			t.Errorf("alias pi5 %+v", a)
		}
	}
	if !slices.Equal(aliases, []string{"jetson", "pi", "pi5"}) {
		t.Errorf("aliases %v, want jetson, pi, pi5 (no patterns)", aliases)
	}
	if len(l.Tables) != 2 || l.TablesDir != luts {
		t.Fatalf("tables in %s: %+v", l.TablesDir, l.Tables)
	}
	done, open := l.Tables[1], l.Tables[0] // by name: w1.0 sorts first
	if done.Key != "ofa-mbv3-w1.2-0123456789abcdef" || done.Entries != 480 || done.Space != "ofa-mbv3-w1.2" || !strings.Contains(done.Device, "Cortex-A76, 4 cores") || done.Unfinished {
		t.Errorf("cached table %+v", done)
	}
	if !open.Unfinished || open.Target != "ssh://pi@10.0.0.5" || open.Journal != profiler.JournalPath(unfinished) || open.Error != "" {
		t.Errorf("unfinished profile %+v", open)
	}
	text, _, err := run(t, "devices", "list", "--ssh-config", cfg)
	for _, w := range []string{adb.URL, "ssh://jetson", "10.0.0.5", "ofa-mbv3-w1.2-0123456789abcdef", "unfinished"} {
		if err != nil || !strings.Contains(text, w) {
			t.Errorf("devices list lacks %q (%v):\n%s", w, err, text)
		}
	}
}

// TestCacheClean fills each cache, lists them with --dry-run (removing
// nothing), then removes them by flag; what is not edgefit's cache stays.
func TestCacheClean(t *testing.T) {
	adb := devicetest.StartADB(t, nil)
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	ef := filepath.Join(cache, "edgefit")
	const hex = "0123456789abcdef0123456789abcdef"
	lutFile := filepath.Join(ef, "luts", "a.lut.json")
	fetchFile := filepath.Join(ef, "ofa", "acc_predictor.pth")
	agentDir := filepath.Join(ef, hex)
	phoneDir := filepath.Join(adb.Device.TmpDir(), "edgefit", hex)
	put(t, lutFile, 100)
	put(t, fetchFile, 200)
	put(t, filepath.Join(agentDir, "edgefit-agent"), 300)
	put(t, filepath.Join(phoneDir, "libonnxruntime.so"), 400)
	keep := []string{filepath.Join(ef, "onnxruntime", "1.24.1", "lib.so"), filepath.Join(ef, "notes", "x"), filepath.Join(adb.Device.TmpDir(), "edgefit", "keep", "x")}
	for _, p := range keep {
		put(t, p, 1)
	}
	adbFlags := []string{"--adb", adb.ADBPath}
	t.Setenv("ANDROID_ADB_SERVER_PORT", itoaPort(adb.ServerPort))

	if _, _, err := run(t, "cache", "clean"); ExitCodeOf(err) != ExitUsage {
		t.Errorf("clean without flags: %v", err)
	}
	out, _, err := run(t, append([]string{"cache", "clean", "--all", "--target", adb.URL, "--dry-run", "--json"}, adbFlags...)...)
	if err != nil {
		t.Fatal(err)
	}
	checkSchema(t, "cache clean --dry-run --json", []byte(out), `{"dry_run":false,"items":[{"cache":"","target":"","path":"","size_bytes":0}],"total_bytes":0}`, "items[].target")
	var res cacheClean
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, it := range res.Items {
		got[it.Cache+" "+it.Target+" "+it.Path] = it.SizeBytes
	}
	want := map[string]int64{
		"luts local " + lutFile:              100,
		"fetch local " + fetchFile:           200,
		"agents local " + agentDir:           300,
		"agents " + adb.URL + " " + phoneDir: 400,
	}
	if !res.DryRun || res.TotalBytes != 1000 || len(got) != len(want) {
		t.Errorf("dry run %+v", res)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("dry run lists %q with %d bytes, want %d (all: %v)", k, got[k], v, got)
		}
	}
	for _, p := range []string{lutFile, fetchFile, agentDir, phoneDir} {
		if !exists(p) {
			t.Errorf("the dry run removed %s", p)
		}
	}

	if _, _, err := run(t, "cache", "clean", "--luts"); err != nil {
		t.Fatal(err)
	}
	if exists(lutFile) || !exists(fetchFile) || !exists(agentDir) {
		t.Errorf("--luts removed the wrong things")
	}
	text, _, err := run(t, append([]string{"cache", "clean", "--fetch", "--agents", "--target", adb.URL}, adbFlags...)...)
	if err != nil || !strings.Contains(text, "removed 3 item(s)") {
		t.Fatalf("clean: %v\n%s", err, text)
	}
	for _, p := range []string{fetchFile, agentDir, phoneDir} {
		if exists(p) {
			t.Errorf("%s is still there", p)
		}
	}
	for _, p := range keep {
		if !exists(p) {
			t.Errorf("%s, not a cache of edgefit's, was removed", p)
		}
	}
}

func itoaPort(p int) string { return strconv.Itoa(p) }
