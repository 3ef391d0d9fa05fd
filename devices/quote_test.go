package devices

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"/data/local/tmp/a-b_c.d", "/data/local/tmp/a-b_c.d"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$(x)", "'$(x)'"},
		{"a=b", "'a=b'"},
		{"~", "'~'"},
		{"*", "'*'"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// shellEcho has /bin/sh split line into words and prints each one
// NUL-terminated, the way a remote shell would receive them.
func shellEcho(t testing.TB, line string) []string {
	out, err := exec.Command("/bin/sh", "-c", "printf '%s\\0' "+line).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", line, err)
	}
	words := strings.Split(string(out), "\x00")
	return words[:len(words)-1]
}

func TestQuoteArgsThroughShell(t *testing.T) {
	argv := []string{"", "a b", "it's", `"`, `\`, "$(touch /tmp/PWNED)", "`x`", ";", "&&", "|", "\n", "\t", "ü", "-n", "*", "?", "[a]", "{a,b}", "#", "!", "%", "=", "a=b"}
	got := shellEcho(t, QuoteArgs(argv))
	if len(got) != len(argv) {
		t.Fatalf("shell split %q into %d words, want %d: %q", QuoteArgs(argv), len(got), len(argv), got)
	}
	for i := range argv {
		if got[i] != argv[i] {
			t.Errorf("word %d = %q, want %q", i, got[i], argv[i])
		}
	}
}

// FuzzQuote checks that /bin/sh reads every quoted string back unchanged.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a b", "it's", "'''", `\'`, "$(id)", "`id`", "a\nb", "ü🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			return // no command line can carry NUL; validateRun refuses it
		}
		got := shellEcho(t, Quote(s)+" end")
		if len(got) != 2 || got[0] != s || got[1] != "end" {
			t.Fatalf("Quote(%q) = %s came back as %q", s, Quote(s), got)
		}
	})
}

func TestMarkerFilterEverySplit(t *testing.T) {
	outputs := []string{
		"", "x", "hello\n", "no newline", "a\nb\nc", "\n\n", "__EDGEFIT_RC=1\n", "looks like __EDGEFIT_RC=", "\r\n",
	}
	for _, out := range outputs {
		for _, rc := range []string{"0", "7", "-1"} {
			stream := out + "\n" + rcMarker + rc + "\n"
			for split := 0; split <= len(stream); split++ {
				for split2 := split; split2 <= len(stream); split2 += 3 {
					var got bytes.Buffer
					f := &markerFilter{w: &got}
					f.Write([]byte(stream[:split]))
					f.Write([]byte(stream[split:split2]))
					f.Write([]byte(stream[split2:]))
					f.finish()
					if got.String() != out {
						t.Fatalf("output %q rc %s split at %d,%d: forwarded %q", out, rc, split, split2, got.String())
					}
				}
			}
		}
	}
}

func TestRCMarkerParse(t *testing.T) {
	tests := []struct {
		in     string
		stdout string
		rc     string
		ok     bool
	}{
		{"hi\n\n__EDGEFIT_RC=0\n", "hi\n", "0", true},
		{"hi\r\n\r\n__EDGEFIT_RC=3\r\n", "hi\r\n", "3", true},
		{"hi", "", "", false},
		{"\n__EDGEFIT_RC=12", "", "12", true},
		{"__EDGEFIT_RC=1\n", "", "", false},
	}
	for _, tt := range tests {
		m := rcMarkerRE.FindStringSubmatchIndex(tt.in)
		if (m != nil) != tt.ok {
			t.Errorf("%q: matched=%v, want %v", tt.in, m != nil, tt.ok)
			continue
		}
		if m != nil && (tt.in[:m[0]] != tt.stdout || tt.in[m[2]:m[3]] != tt.rc) {
			t.Errorf("%q: stdout %q rc %q", tt.in, tt.in[:m[0]], tt.in[m[2]:m[3]])
		}
	}
}

func TestGoArch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv8l": "arm", "i686": "386", "riscv64": "riscv64", "mips": "mips"} {
		if got := GoArch(in); got != want {
			t.Errorf("GoArch(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseADBDevices(t *testing.T) {
	out := "* daemon not running; starting now at tcp:5037\n* daemon started successfully\nList of devices attached\n" +
		"R58M12ABC\tdevice usb:1-1 product:beyond1 model:SM_G973F device:beyond1 transport_id:1\n" +
		"127.0.0.1:5555\toffline\nemulator-5554\tunauthorized\n\n"
	ds := parseADBDevices(out)
	if len(ds) != 3 || ds[0].serial != "R58M12ABC" || ds[0].state != "device" || ds[1].state != "offline" || ds[2].state != "unauthorized" {
		t.Fatalf("parsed %+v", ds)
	}
	if !strings.Contains(ds[0].desc, "model:SM_G973F") {
		t.Errorf("description %q", ds[0].desc)
	}
}

func TestParseInfo(t *testing.T) {
	tests := []struct {
		out  string
		want Info
	}{
		{"Linux\nx86_64\n\n\n", Info{OS: "linux", Arch: "amd64", Machine: "x86_64"}},
		{"Linux\naarch64\n", Info{OS: "linux", Arch: "arm64", Machine: "aarch64"}},
		{"Linux\naarch64\n34\narm64-v8a\n", Info{OS: "android", Arch: "arm64", Machine: "aarch64", ABI: "arm64-v8a"}},
		// A 32-bit userland on a 64-bit kernel runs armeabi-v7a binaries.
		{"Linux\naarch64\n29\narmeabi-v7a\n", Info{OS: "android", Arch: "arm", Machine: "aarch64", ABI: "armeabi-v7a"}},
		{"Linux\nx86_64\n30\n\n", Info{OS: "android", Arch: "amd64", Machine: "x86_64"}},
		{"Darwin\narm64\n", Info{OS: "darwin", Arch: "arm64", Machine: "arm64"}},
	}
	for _, tt := range tests {
		got, err := parseInfo(tt.out)
		if err != nil || got != tt.want {
			t.Errorf("parseInfo(%q) = %+v, %v; want %+v", tt.out, got, err, tt.want)
		}
	}
	if _, err := parseInfo("Linux"); err == nil {
		t.Error("parseInfo accepted a single line")
	}
}

func FuzzParseInfo(f *testing.F) {
	f.Add("Linux\naarch64\n34\narm64-v8a\n")
	f.Add("Linux\nx86_64\n\n\n")
	f.Fuzz(func(t *testing.T, out string) {
		info, err := parseInfo(out)
		if err == nil && info.ABI != "" && info.OS != "android" {
			t.Fatalf("ABI %q outside Android: %+v", info.ABI, info)
		}
	})
}

func TestABIGoArch(t *testing.T) {
	for in, want := range map[string]string{"arm64-v8a": "arm64", "armeabi-v7a": "arm", "armeabi": "arm", "x86_64": "amd64", "x86": "386", "mips": "mips"} {
		if got := ABIGoArch(in); got != want {
			t.Errorf("ABIGoArch(%q) = %q, want %q", in, got, want)
		}
	}
}
