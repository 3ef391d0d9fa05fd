package ortlib

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
)

// androidLib returns the `make ort-android` library for abi, or skips.
func androidLib(t *testing.T, abi string) string {
	t.Helper()
	return testfix.AndroidLibrary(t, abi, AndroidLibraryPath)
}

// rawMachine reads e_machine straight from the ELF header bytes (offset
// 18, in the byte order e_ident[EI_DATA] names), independently of
// debug/elf.
func rawMachine(t *testing.T, path string) uint16 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var h [20]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		t.Fatal(err)
	}
	if string(h[:4]) != "\x7fELF" {
		t.Fatalf("%s is not ELF", path)
	}
	if h[5] == 2 {
		return binary.BigEndian.Uint16(h[18:])
	}
	return binary.LittleEndian.Uint16(h[18:])
}

// TestAndroidLibraries checks the real files `make ort-android` fetched.
// The expectations come from outside the code under test: e_machine
// numbers from the ELF specification (AArch64 183, ARM 40, x86-64 62),
// API level 24 from the AAR's AndroidManifest.xml (minSdkVersion="24"),
// release 1.29.0 and NDK r28 from what readelf shows of these files.
func TestAndroidLibraries(t *testing.T) {
	want := map[string]uint16{"arm64-v8a": 183, "armeabi-v7a": 40, "x86_64": 62}
	for _, abi := range AndroidABIs {
		t.Run(abi, func(t *testing.T) {
			p := androidLib(t, abi)
			lf, err := CheckAndroidLibrary(p, abi)
			if err != nil {
				t.Fatal(err)
			}
			if got := rawMachine(t, p); uint16(lf.Machine) != got || got != want[abi] {
				t.Errorf("machine %v (%d), header says %d, want %d", lf.Machine, lf.Machine, got, want[abi])
			}
			if lf.Version != "1.29.0" || lf.APIVersion != 29 || lf.APIVersion < BindingsAPIVersion {
				t.Errorf("version %s, API %d; want 1.29.0 serving API 29 (>= %d)", lf.Version, lf.APIVersion, BindingsAPIVersion)
			}
			if !lf.IsAndroid() || lf.Android.APILevel != 24 || lf.Android.NDK != "r28" || lf.Android.NDKBuild == "" {
				t.Errorf("android note %+v, needed %v; want API level 24, NDK r28 and libc.so", lf.Android, lf.Needed)
			}
			for _, lib := range []string{"libc.so", "liblog.so"} {
				if !strings.Contains(" "+strings.Join(lf.Needed, " ")+" ", " "+lib+" ") {
					t.Errorf("DT_NEEDED %v lacks bionic's %s", lf.Needed, lib)
				}
			}
			if b, err := os.ReadFile(filepath.Join(filepath.Dir(p), "LICENSE")); err != nil || !strings.HasPrefix(string(b), "MIT License") {
				t.Errorf("licence beside %s: %v %.40q", p, err, b)
			}
		})
	}
	// A library for one ABI is refused for another, naming both machines.
	p := androidLib(t, "arm64-v8a")
	if _, err := CheckAndroidLibrary(p, "x86_64"); err == nil || !strings.Contains(err.Error(), "EM_AARCH64") || !strings.Contains(err.Error(), "EM_X86_64") {
		t.Errorf("arm64 library checked as x86_64: %v", err)
	}
	if _, err := CheckAndroidLibrary(p, "mips"); err == nil || !strings.Contains(err.Error(), "arm64-v8a") {
		t.Errorf("unknown ABI: %v", err)
	}
}

func TestInspectLibraryRefusesOthers(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "libjunk.so")
	if err := os.WriteFile(junk, []byte("not ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := InspectLibrary(junk); err == nil {
		t.Error("InspectLibrary accepted a non-ELF file")
	}
	exe, err := os.Executable() // the test binary: ELF, but no ONNX Runtime
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InspectLibrary(exe); err == nil {
		t.Error("InspectLibrary accepted the test binary")
	}
}

// androidNote builds an ELF note section holding the NDK's note.
func androidNote(api uint32, ndk, build string) []byte {
	desc := binary.LittleEndian.AppendUint32(nil, api)
	pad := func(s string) []byte { b := make([]byte, 64); copy(b, s); return b }
	desc = append(append(desc, pad(ndk)...), pad(build)...)
	b := binary.LittleEndian.AppendUint32(nil, 8)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(desc)))
	b = binary.LittleEndian.AppendUint32(b, 1)
	return append(append(b, "Android\x00"...), desc...)
}

func TestParseAndroidNote(t *testing.T) {
	n, err := parseAndroidNote(androidNote(24, "r28", "13004108"), binary.LittleEndian)
	if err != nil || *n != (AndroidNote{24, "r28", "13004108"}) {
		t.Errorf("note = %+v, %v", n, err)
	}
	// An old NDK's note: the API level alone.
	old := append(binary.LittleEndian.AppendUint32(nil, 8), 4, 0, 0, 0, 1, 0, 0, 0)
	old = append(append(old, "Android\x00"...), 21, 0, 0, 0)
	if n, err := parseAndroidNote(old, binary.LittleEndian); err != nil || n.APILevel != 21 || n.NDK != "" {
		t.Errorf("old note = %+v, %v", n, err)
	}
	// Another owner first, then Android's.
	gnu := append(binary.LittleEndian.AppendUint32(nil, 4), 4, 0, 0, 0, 3, 0, 0, 0)
	gnu = append(append(gnu, "GNU\x00"...), 1, 2, 3, 4)
	if n, err := parseAndroidNote(append(gnu, androidNote(30, "r26", "1")...), binary.LittleEndian); err != nil || n.APILevel != 30 {
		t.Errorf("note after a GNU one = %+v, %v", n, err)
	}
	for _, bad := range [][]byte{nil, gnu, androidNote(24, "r28", "1")[:20]} {
		if _, err := parseAndroidNote(bad, binary.LittleEndian); err == nil {
			t.Errorf("parseAndroidNote(%x) succeeded", bad)
		}
	}
}

func FuzzParseAndroidNote(f *testing.F) {
	f.Add(androidNote(24, "r28", "13004108"))
	f.Add([]byte{8, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 'A', 'n', 'd', 'r', 'o', 'i', 'd', 0, 21, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseAndroidNote(b, binary.LittleEndian)
		if (n == nil) == (err == nil) {
			t.Fatalf("note %v with error %v", n, err)
		}
	})
}
