// Package ortlib knows where edgefit finds the ONNX Runtime shared
// library: the release it is built against ([Version]), the variable that
// overrides the location ([Env]) and the cache `make ort` fills
// ([CachedPath]). It is plain Go with no cgo, so that code which only
// ships the library to a device (profiler/agent) need not link it; loading
// it is package export/ort's job.
//
// A leaf helper: it imports nothing else of edgefit and uses no cgo.
package ortlib

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Version is the ONNX Runtime release edgefit is built and tested
// against; `make ort` fetches it.
const Version = "1.24.1"

// Env names the environment variable that overrides where the ONNX
// Runtime shared library is.
const Env = "EDGEFIT_ORT_LIB"

// DefaultPath returns the library to load when none is named: $Env if
// set, else the cache `make ort` fills for this machine's architecture. It
// fails, saying how to get the library, when neither exists.
func DefaultPath() (string, error) {
	if p := os.Getenv(Env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("ONNX Runtime library from $%s: %w (point %s at libonnxruntime.so.1, or unset it and run `make ort`)", Env, err, Env)
		}
		return p, nil
	}
	p, err := CachedPath(runtime.GOARCH)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("ONNX Runtime %s library not found at %s: run `make ort` to fetch it, or set %s to a libonnxruntime.so.1", Version, p, Env)
		}
		return "", fmt.Errorf("ONNX Runtime library %s: %w", p, err)
	}
	return p, nil
}

// CachedPath returns where `make ort` puts the library for a Go
// architecture ("amd64" or "arm64"), whether or not it is there.
func CachedPath(goarch string) (string, error) {
	var dir string
	switch goarch {
	case "amd64":
		dir = "linux-x64"
	case "arm64":
		dir = "linux-arm64"
	default:
		return "", fmt.Errorf("no cached ONNX Runtime library for architecture %q: set %s to a libonnxruntime.so built for it", goarch, Env)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locate the ONNX Runtime cache: %w (set %s instead)", err, Env)
	}
	return filepath.Join(home, ".cache", "edgefit", "onnxruntime", Version, dir, "libonnxruntime.so.1"), nil
}
