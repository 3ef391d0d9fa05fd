// Command edgefit-agent runs on the device being profiled: edgefit copies it
// there with the ONNX Runtime library for the device's architecture, and
// runs `edgefit-agent --ort-lib LIB run MANIFEST.json` to measure models.
// All logic lives in profiler/bench; see its documentation and
// docs/devices.md for building it for Linux (amd64, arm64) and Android.
// The agent links only profiler/bench, its protocol (profiler/bench/wire,
// profiler/timing), export/ort and internal helpers, so that what goes to
// a phone stays small.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgefit/edgefit/profiler/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := bench.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
