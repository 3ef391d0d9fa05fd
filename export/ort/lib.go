package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/edgefit/edgefit/internal/ortlib"
)

var (
	initMu   sync.Mutex
	initPath string // library loaded by Init; "" before
)

// Init loads the ONNX Runtime shared library at libPath ("" means
// [ortlib.DefaultPath]) and creates the process-wide ONNX Runtime
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
		p, err := ortlib.DefaultPath()
		if err != nil {
			return err
		}
		libPath = p
	} else if _, err := os.Stat(libPath); err != nil {
		return fmt.Errorf("ONNX Runtime library: %w (run `make ort`, or set %s)", err, ortlib.Env)
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
