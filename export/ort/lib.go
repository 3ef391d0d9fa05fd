package ort

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// LibraryVersion is the ONNX Runtime release edgefit is built and tested
// against; `make ort` fetches it.
const LibraryVersion = "1.24.1"

// EnvLibrary names the environment variable that overrides where the ONNX
// Runtime shared library is.
const EnvLibrary = "EDGEFIT_ORT_LIB"

var (
	initMu   sync.Mutex
	initPath string // library loaded by Init; "" before
)

// DefaultLibraryPath returns where [Init] looks for the library when it is
// given no path: $EDGEFIT_ORT_LIB if set, else the cache `make ort` fills
// for this machine's architecture. It fails, saying how to get the library,
// when neither exists.
func DefaultLibraryPath() (string, error) {
	if p := os.Getenv(EnvLibrary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ONNX Runtime library from $%s: %w (point %s at libonnxruntime.so.1, or unset it and run `make ort`)", EnvLibrary, err, EnvLibrary)
		}
		return p, nil
	}
	p, err := CachedLibraryPath(runtime.GOARCH)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("ONNX Runtime %s library not found at %s: run `make ort` to fetch it, or set %s to a libonnxruntime.so.1", LibraryVersion, p, EnvLibrary)
		}
		return "", fmt.Errorf("ONNX Runtime library %s: %w", p, err)
	}
	return p, nil
}

// CachedLibraryPath returns where `make ort` puts the library for a Go
// architecture ("amd64" or "arm64"), whether or not it is there.
func CachedLibraryPath(goarch string) (string, error) {
	var dir string
	switch goarch {
	case "amd64":
		dir = "linux-x64"
	case "arm64":
		dir = "linux-arm64"
	default:
		return "", fmt.Errorf("no cached ONNX Runtime library for architecture %q: set %s to a libonnxruntime.so built for it", goarch, EnvLibrary)
	}
	base, err := cacheDir(LibraryVersion)
	if err != nil {
		return "", err
	}
	return filepath.Join(base, dir, "libonnxruntime.so.1"), nil
}

// Init loads the ONNX Runtime shared library at libPath ("" means
// [DefaultLibraryPath]) and creates the process-wide ONNX Runtime
// environment. It may be called any number of times: after the first
// success it does nothing, unless libPath names a different library, which
// is an error because a process can hold only one.
func Init(libPath string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if initPath != "" {
		if libPath == "" || sameFile(libPath, initPath) {
			return nil
		}
		return fmt.Errorf("ONNX Runtime is already loaded from %s; cannot also load %s in the same process", initPath, libPath)
	}
	if libPath == "" {
		p, err := DefaultLibraryPath()
		if err != nil {
			return err
		}
		libPath = p
	} else if _, err := os.Stat(libPath); err != nil {
		return fmt.Errorf("ONNX Runtime library: %w (run `make ort`, or set %s)", err, EnvLibrary)
	}
	abs, err := filepath.Abs(libPath)
	if err != nil {
		return fmt.Errorf("ONNX Runtime library %s: %w", libPath, err)
	}
	onnxruntime.SetSharedLibraryPath(abs)
	if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelError()); err != nil {
		return fmt.Errorf("load ONNX Runtime from %s: %w (it must be ONNX Runtime %s or newer built for %s/%s)", abs, err, "1.24", runtime.GOOS, runtime.GOARCH)
	}
	initPath = abs
	return nil
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// LibraryPath returns the absolute path of the loaded library, or "" before
// [Init] succeeded.
func LibraryPath() string {
	initMu.Lock()
	defer initMu.Unlock()
	return initPath
}

// Version returns the loaded library's version, such as "1.24.1", or ""
// before [Init] succeeded.
func Version() string {
	if !onnxruntime.IsInitialized() {
		return ""
	}
	return onnxruntime.GetVersion()
}

func requireInit() error {
	if !onnxruntime.IsInitialized() {
		return errors.New("ONNX Runtime is not loaded: call ort.Init first")
	}
	return nil
}
