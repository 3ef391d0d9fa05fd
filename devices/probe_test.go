package devices_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/devices/devicetest"
)

func readProbe(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "probe", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseProbeSamples(t *testing.T) {
	t.Run("pixel6", func(t *testing.T) {
		fp, err := devices.ParseProbe(readProbe(t, "pixel6.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if fp.OS != "android" || fp.Arch != "arm64" || fp.Cores != 8 {
			t.Errorf("os/arch/cores = %s/%s/%d", fp.OS, fp.Arch, fp.Cores)
		}
		if fp.CPUModel != "4× Cortex-A55 + 2× Cortex-A78 + 2× Cortex-X1" {
			t.Errorf("cpu model = %q", fp.CPUModel)
		}
		if len(fp.Clusters) != 3 {
			t.Fatalf("clusters = %+v", fp.Clusters)
		}
		big := fp.Clusters[2]
		if big.Policy != "policy6" || !slices.Equal(big.CPUs, []int{6, 7}) || big.MaxFreqKHz != 2802000 || big.CoreType != "Cortex-X1" || big.ScalingMaxKHz != 2348000 {
			t.Errorf("big cluster = %+v", big)
		}
		if fp.Clusters[0].CoreType != "Cortex-A55" || fp.Clusters[0].Governor != "sched_pixel" || fp.Clusters[0].CurFreqKHz != 1197000 {
			t.Errorf("little cluster = %+v", fp.Clusters[0])
		}
		// m°C, d°C (battery), and two broken zones dropped.
		wantTemps := map[string]float64{"BIG": 41.3, "MID": 39.9, "LITTLE": 38, "battery": 31.2}
		if len(fp.Thermal) != len(wantTemps) {
			t.Errorf("thermal = %+v", fp.Thermal)
		}
		for _, z := range fp.Thermal {
			if w, ok := wantTemps[z.Type]; !ok || z.TempC != w {
				t.Errorf("zone %s = %.1f °C, want %.1f", z.Type, z.TempC, w)
			}
		}
		if c, typ := fp.MaxTempC(); c != 41.3 || typ != "BIG" {
			t.Errorf("max temp = %.1f %s", c, typ)
		}
		if fp.MemTotalBytes != 7803440*1024 || fp.MemAvailableBytes != 3119212*1024 {
			t.Errorf("memory = %d / %d", fp.MemTotalBytes, fp.MemAvailableBytes)
		}
		a := fp.Android
		if a == nil || a.Model != "Pixel 6" || a.SoC != "GS101" || a.ABI != "arm64-v8a" || a.SDK != "34" || a.Manufacturer != "Google" {
			t.Errorf("android = %+v", a)
		}
		if fp.Jetson != nil {
			t.Errorf("a phone is not a Jetson: %+v", fp.Jetson)
		}
	})
	t.Run("jetson-orin", func(t *testing.T) {
		fp, err := devices.ParseProbe(readProbe(t, "jetson-orin.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if fp.OS != "linux" || fp.Distro != "Ubuntu 22.04.4 LTS" || fp.Android != nil {
			t.Errorf("os = %s %q android=%v", fp.OS, fp.Distro, fp.Android)
		}
		if fp.Jetson == nil || fp.Jetson.PowerMode != "MAXN (0)" || !strings.HasPrefix(fp.Jetson.L4T, "R36 (release), REVISION: 3.0") {
			t.Errorf("jetson = %+v", fp.Jetson)
		}
		if fp.CPUModel != "6× Cortex-A78AE" || len(fp.Clusters) != 2 || fp.Clusters[0].Policy != "policy0" {
			t.Errorf("cpu %q clusters %+v", fp.CPUModel, fp.Clusters)
		}
		if c, typ := fp.MaxTempC(); c != 48.1 || typ != "tj-thermal" {
			t.Errorf("max temp = %.1f %s", c, typ)
		}
	})
	t.Run("container", func(t *testing.T) {
		fp, err := devices.ParseProbe(readProbe(t, "container.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if fp.Arch != "amd64" || fp.CPUModel != "AMD EPYC 7B13" || fp.Cores != 2 {
			t.Errorf("%+v", fp)
		}
		if fp.Clusters != nil || fp.Thermal != nil || fp.Android != nil || fp.Jetson != nil {
			t.Errorf("container has no cpufreq/thermal/android/jetson: %+v", fp)
		}
		if c, typ := fp.MaxTempC(); c != 0 || typ != "" {
			t.Errorf("max temp without zones = %v %q", c, typ)
		}
	})
	t.Run("rpi4-crlf", func(t *testing.T) {
		fp, err := devices.ParseProbe(readProbe(t, "rpi4.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if fp.CPUModel != "4× Cortex-A72 (BCM2835)" || fp.Cores != 4 || fp.Kernel != "6.6.31+rpt-rpi-v8" {
			t.Errorf("cpu %q cores %d kernel %q", fp.CPUModel, fp.Cores, fp.Kernel)
		}
		if len(fp.Clusters) != 1 || fp.Clusters[0].Governor != "ondemand" || len(fp.Thermal) != 1 || fp.Thermal[0].TempC != 44.3 {
			t.Errorf("clusters %+v thermal %+v", fp.Clusters, fp.Thermal)
		}
	})
}

func TestParseProbeRejectsForeignOutput(t *testing.T) {
	for _, out := range []string{"", "sh: syntax error", "Linux\n5.10\naarch64\n"} {
		if _, err := devices.ParseProbe(out); err == nil {
			t.Errorf("ParseProbe(%q) accepted output without sections", out)
		}
	}
}

func TestFingerprintTableAndJSON(t *testing.T) {
	fp, err := devices.ParseProbe(readProbe(t, "pixel6.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fp.Target = "adb://R58M"
	fp.Runtime = &devices.RuntimeInfo{ORTVersion: "1.24.1", Providers: []string{"CPUExecutionProvider", "NnapiExecutionProvider"},
		Provider: "NnapiExecutionProvider", ProviderNodes: map[string]int{"CPUExecutionProvider": 3, "NnapiExecutionProvider": 40}}
	rows := map[string]string{}
	for _, r := range fp.Table() {
		rows[r[0]] = r[1]
	}
	want := map[string]string{
		"target":          "adb://R58M",
		"device":          "Google Pixel 6",
		"soc":             "GS101",
		"cluster policy6": "cpu 6-7 Cortex-X1, max 2.80 GHz, now 0.50 GHz, sched_pixel (capped at 2.35 GHz)",
		"cluster policy0": "cpu 0-3 Cortex-A55, max 1.80 GHz, now 1.20 GHz, sched_pixel",
		"hottest zone":    "41.3 °C (BIG), 4 zones",
		"memory":          "7.4 GiB total, 3.0 GiB available",
		"onnx runtime":    "1.24.1",
		"providers":       "CPUExecutionProvider, NnapiExecutionProvider",
		"provider used":   "NnapiExecutionProvider (40 nodes on NnapiExecutionProvider, 3 on CPUExecutionProvider)",
	}
	for k, v := range want {
		if rows[k] != v {
			t.Errorf("row %q = %q, want %q", k, rows[k], v)
		}
	}
	b, err := json.Marshal(fp)
	if err != nil {
		t.Fatal(err)
	}
	var back devices.Fingerprint
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Android.SoC != "GS101" || back.Clusters[2].MaxFreqKHz != 2802000 || back.Runtime.ORTVersion != "1.24.1" {
		t.Errorf("JSON round trip lost fields: %s", b)
	}
	for _, key := range []string{`"cpu_model"`, `"clusters"`, `"max_freq_khz"`, `"temp_c"`, `"mem_total_bytes"`, `"soc"`,
		`"provider":"NnapiExecutionProvider","provider_nodes":{"CPUExecutionProvider":3,"NnapiExecutionProvider":40}`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
}

func FuzzParseProbe(f *testing.F) {
	for _, n := range []string{"pixel6.txt", "jetson-orin.txt", "container.txt", "rpi4.txt"} {
		f.Add(readProbe(f, n))
	}
	f.Add("@@edgefit uname\n@@edgefit policy p\nrelated_cpus=0-99999999\n@@edgefit thermal z\ntemp=NaN\n")
	f.Fuzz(func(t *testing.T, out string) {
		fp, err := devices.ParseProbe(out)
		if err != nil {
			return
		}
		fp.Table()
		if _, err := json.Marshal(fp); err != nil {
			t.Fatalf("fingerprint does not marshal: %v", err)
		}
		for _, c := range fp.Clusters {
			if len(c.CPUs) > 4096 {
				t.Fatalf("cluster with %d CPUs", len(c.CPUs))
			}
		}
	})
}

func TestProbeLocal(t *testing.T) {
	fp, err := devices.Probe(context.Background(), devices.NewLocal())
	if err != nil {
		t.Fatal(err)
	}
	if fp.Target != "local" || fp.OS != runtime.GOOS || fp.Arch != runtime.GOARCH || fp.Kernel == "" {
		t.Errorf("fingerprint = %+v", fp)
	}
	if fp.Cores < 1 || fp.MemTotalBytes <= 0 || fp.MemAvailableBytes <= 0 || fp.CPUModel == "" {
		t.Errorf("cores %d memory %d/%d cpu %q", fp.Cores, fp.MemTotalBytes, fp.MemAvailableBytes, fp.CPUModel)
	}
	t.Logf("local: %v", fp.Table())
}

func TestProbeSSH(t *testing.T) {
	sshd := devicetest.StartSSHD(t)
	tg, err := devices.Open(context.Background(), sshd.URL, sshd.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	fp, err := devices.Probe(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	local, _ := devices.Probe(context.Background(), devices.NewLocal())
	// The loopback sshd is this machine: the same facts must come back.
	if fp.Kernel != local.Kernel || fp.Cores != local.Cores || fp.CPUModel != local.CPUModel || fp.MemTotalBytes != local.MemTotalBytes {
		t.Errorf("over ssh %+v\nlocally %+v", fp, local)
	}
}

func TestProbeADB(t *testing.T) {
	adb := devicetest.StartADB(t, nil)
	tg, err := devices.Open(context.Background(), adb.URL, adb.Options)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	fp, err := devices.Probe(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	if fp.OS != "android" || fp.Android == nil || fp.Android.Model != "FakePhone" || fp.Android.SoC != "FakeSoC" || fp.Android.SDK != "34" {
		t.Errorf("fingerprint over adb = %+v android %+v", fp, fp.Android)
	}
	if fp.Arch != runtime.GOARCH || fp.Cores < 1 {
		t.Errorf("arch %s cores %d", fp.Arch, fp.Cores)
	}
	info, err := tg.Info(context.Background())
	if err != nil || info.OS != "android" {
		t.Errorf("info = %+v, %v", info, err)
	}
}
