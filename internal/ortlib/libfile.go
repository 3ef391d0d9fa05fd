package ortlib

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// BindingsAPIVersion is the ONNX Runtime C API version the bindings
// (github.com/yalue/onnxruntime_go v1.27.0) ask OrtGetApiBase for; a
// library must serve it, i.e. be ONNX Runtime 1.24 or newer.
const BindingsAPIVersion = 24

// The Android libraries come from Microsoft's onnxruntime.aar as shipped
// in an npm package, fetched by `make ort-android`.
const (
	// AndroidLibraryVersion is the ONNX Runtime release inside
	// [AndroidPackage]; the libraries are cached under its number.
	AndroidLibraryVersion = "1.29.0"
	// AndroidPackage is the npm package `make ort-android` packs.
	AndroidPackage = "com.github.asus4.onnxruntime@0.4.9"
)

// androidABIs maps the Android ABIs edgefit knows to the ELF machine and
// class their libraries carry.
var androidABIs = map[string]struct {
	machine elf.Machine
	class   elf.Class
}{
	"arm64-v8a":   {elf.EM_AARCH64, elf.ELFCLASS64},
	"armeabi-v7a": {elf.EM_ARM, elf.ELFCLASS32},
	"x86_64":      {elf.EM_X86_64, elf.ELFCLASS64},
	"x86":         {elf.EM_386, elf.ELFCLASS32},
}

// AndroidABIs lists the ABIs `make ort-android` fetches, most common first.
var AndroidABIs = []string{"arm64-v8a", "armeabi-v7a", "x86_64"}

// AndroidLibraryPath returns where `make ort-android` caches ONNX
// Runtime's Android library for an ABI ("arm64-v8a", "armeabi-v7a",
// "x86_64"), whether or not it is there:
// $HOME/.cache/edgefit/onnxruntime/1.29.0/android-<abi>/libonnxruntime.so.
func AndroidLibraryPath(abi string) (string, error) {
	if !slices.Contains(AndroidABIs, abi) {
		return "", fmt.Errorf("no ONNX Runtime library is fetched for Android ABI %q (`make ort-android` fetches %s): pass one built for it with --ort-lib", abi, strings.Join(AndroidABIs, ", "))
	}
	dir, err := cacheDir(AndroidLibraryVersion)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "android-"+abi, "libonnxruntime.so"), nil
}

// LibraryFile is what an ONNX Runtime shared library says about itself in
// its ELF headers and read-only data, read without loading it, so that a
// library for another machine (a phone's) can be checked on the host.
type LibraryFile struct {
	Path    string
	Machine elf.Machine
	Class   elf.Class
	// Needed lists its DT_NEEDED libraries: bionic's "libc.so", "liblog.so"
	// on Android; glibc's "libc.so.6" on Linux.
	Needed []string
	// Android is the NDK's ABI note (.note.android.ident), which every
	// library linked by the NDK carries; nil when there is none.
	Android *AndroidNote
	// Version is the ONNX Runtime release, such as "1.29.0": the symbol
	// version ONNX Runtime's linker script gives its exports (VERS_1.29.0),
	// confirmed by the same string in the read-only data (what
	// OrtGetApiBase()->GetVersionString returns).
	Version string
	// APIVersion is the newest C API version the library's OrtGetApiBase
	// serves: ONNX Runtime 1.N serves versions 1 to N.
	APIVersion int
}

// AndroidNote is the content of the NDK's .note.android.ident.
type AndroidNote struct {
	APILevel int    // the Android API level it was built for (its minimum), e.g. 24
	NDK      string // NDK release, e.g. "r28" (empty from NDKs before r14)
	NDKBuild string // NDK build number, e.g. "13004108"
}

// IsAndroid reports whether the file is an Android (bionic) build: it
// carries the NDK's note and links bionic's libc.so, not glibc's
// libc.so.6.
func (f *LibraryFile) IsAndroid() bool {
	return f.Android != nil && slices.Contains(f.Needed, "libc.so")
}

// InspectLibrary reads an ONNX Runtime shared library's ELF headers, its
// Android note, and its version.
func InspectLibrary(path string) (*LibraryFile, error) {
	ef, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ONNX Runtime library %s: %w", path, err)
	}
	defer ef.Close()
	lf := &LibraryFile{Path: path, Machine: ef.Machine, Class: ef.Class}
	if ef.Type != elf.ET_DYN {
		return nil, fmt.Errorf("ONNX Runtime library %s is an ELF %s, not a shared library", path, ef.Type)
	}
	if lf.Needed, err = ef.ImportedLibraries(); err != nil {
		return nil, fmt.Errorf("ONNX Runtime library %s: read DT_NEEDED: %w", path, err)
	}
	if s := ef.Section(".note.android.ident"); s != nil {
		data, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("ONNX Runtime library %s: read .note.android.ident: %w", path, err)
		}
		if lf.Android, err = parseAndroidNote(data, ef.ByteOrder); err != nil {
			return nil, fmt.Errorf("ONNX Runtime library %s: %w", path, err)
		}
	}
	if err := lf.readVersion(ef); err != nil {
		return nil, fmt.Errorf("ONNX Runtime library %s: %w", path, err)
	}
	return lf, nil
}

// byteOrder is the part of binary.ByteOrder the note parser needs.
type byteOrder interface{ Uint32([]byte) uint32 }

// parseAndroidNote reads an ELF note section holding the NDK's note:
// namesz, descsz, type (1), "Android\0", then the description: the API
// level (uint32), and since NDK r14 the NDK release and build number as
// NUL-padded 64-byte strings.
func parseAndroidNote(sec []byte, bo byteOrder) (*AndroidNote, error) {
	for len(sec) >= 12 {
		namesz, descsz, typ := bo.Uint32(sec), bo.Uint32(sec[4:]), bo.Uint32(sec[8:])
		nameEnd := 12 + align4(uint64(namesz))
		descEnd := nameEnd + align4(uint64(descsz))
		if nameEnd > uint64(len(sec)) || descEnd > uint64(len(sec)) {
			break
		}
		name := strings.TrimRight(string(sec[12:12+namesz]), "\x00")
		desc := sec[nameEnd : nameEnd+uint64(descsz)]
		if name == "Android" && typ == 1 && len(desc) >= 4 {
			n := &AndroidNote{APILevel: int(bo.Uint32(desc))}
			if len(desc) >= 4+64 {
				n.NDK = cString(desc[4 : 4+64])
			}
			if len(desc) >= 4+128 {
				n.NDKBuild = cString(desc[4+64 : 4+128])
			}
			return n, nil
		}
		sec = sec[descEnd:]
	}
	return nil, errors.New(".note.android.ident holds no Android note")
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// versRE matches the symbol version ONNX Runtime's exports carry.
var versRE = regexp.MustCompile(`^VERS_(1\.([0-9]+)\.[0-9]+)$`)

// readVersion fills Version and APIVersion, and checks that OrtGetApiBase
// is exported.
func (lf *LibraryFile) readVersion(ef *elf.File) error {
	syms, err := ef.DynamicSymbols()
	if err != nil {
		return fmt.Errorf("read dynamic symbols: %w (is this ONNX Runtime?)", err)
	}
	if !slices.ContainsFunc(syms, func(s elf.Symbol) bool {
		return s.Name == "OrtGetApiBase" && s.Section != elf.SHN_UNDEF && elf.ST_TYPE(s.Info) == elf.STT_FUNC
	}) {
		return errors.New("exports no OrtGetApiBase: not an ONNX Runtime library")
	}
	vers, err := ef.DynamicVersions()
	if err != nil {
		return fmt.Errorf("read symbol versions: %w", err)
	}
	minor := -1
	for _, v := range vers {
		if m := versRE.FindStringSubmatch(v.Name); m != nil {
			lf.Version = m[1]
			minor, _ = strconv.Atoi(m[2])
		}
	}
	if lf.Version == "" {
		return errors.New("defines no VERS_1.x.y symbol version, so its ONNX Runtime release cannot be told: use an official build")
	}
	ro := ef.Section(".rodata")
	if ro == nil {
		return errors.New("has no .rodata section")
	}
	data, err := ro.Data()
	if err != nil {
		return fmt.Errorf("read .rodata: %w", err)
	}
	if !bytes.Contains(data, []byte("\x00"+lf.Version+"\x00")) {
		return fmt.Errorf("its exports are versioned VERS_%s, but its read-only data holds no version string %q", lf.Version, lf.Version)
	}
	lf.APIVersion = minor
	return nil
}

// ErrNotAndroid is wrapped by [CheckAndroidLibrary]'s error for a library
// of the right machine that is not an Android (bionic) build.
var ErrNotAndroid = errors.New("not an Android build")

// CheckAndroidLibrary checks that path is ONNX Runtime built for Android
// ABI abi: the ELF machine and class of the ABI, a bionic build (the NDK
// note and libc.so), and a release that serves [BindingsAPIVersion].
func CheckAndroidLibrary(path, abi string) (*LibraryFile, error) {
	want, ok := androidABIs[abi]
	if !ok {
		return nil, fmt.Errorf("unknown Android ABI %q (known: arm64-v8a, armeabi-v7a, x86_64, x86)", abi)
	}
	lf, err := InspectLibrary(path)
	if err != nil {
		return nil, err
	}
	if lf.Machine != want.machine || lf.Class != want.class {
		return lf, fmt.Errorf("ONNX Runtime library %s is built for %s (%s), but Android ABI %s needs %s (%s): use android-%s/libonnxruntime.so from `make ort-android`",
			path, lf.Machine, lf.Class, abi, want.machine, want.class, abi)
	}
	if !lf.IsAndroid() {
		return lf, fmt.Errorf("ONNX Runtime library %s is %w (NDK note %s, links %s; Android builds carry .note.android.ident and link bionic's libc.so): use the library from Microsoft's onnxruntime-android AAR (`make ort-android`)",
			path, ErrNotAndroid, map[bool]string{true: "present", false: "missing"}[lf.Android != nil], strings.Join(lf.Needed, ", "))
	}
	if err := lf.CheckAPI(); err != nil {
		return lf, err
	}
	return lf, nil
}

// CheckAPI reports whether the library serves the C API version the
// bindings ask for.
func (lf *LibraryFile) CheckAPI() error {
	if lf.APIVersion < BindingsAPIVersion {
		return fmt.Errorf("ONNX Runtime library %s is release %s, which serves C API versions up to %d, but edgefit's bindings (onnxruntime_go v1.27.0) ask for version %d: use ONNX Runtime 1.%d or newer",
			lf.Path, lf.Version, lf.APIVersion, BindingsAPIVersion, BindingsAPIVersion)
	}
	return nil
}
