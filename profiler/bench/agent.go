package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"github.com/edgefit/edgefit/export/ort"
	"github.com/edgefit/edgefit/internal/ortlib"
	"github.com/edgefit/edgefit/profiler/bench/wire"
)

// Version is the agent's version, set at link time
// (-X github.com/edgefit/edgefit/profiler/bench.Version=...); otherwise
// the VCS revision the binary was built from.
var Version = ""

// AgentVersion returns [Version] or the build's VCS revision.
func AgentVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" && dirty {
			rev += "-dirty"
		}
		if rev != "" {
			return rev
		}
	}
	return "dev"
}

// Exit codes of edgefit-agent.
const (
	ExitOK          = 0
	ExitFatal       = 1 // nothing could run: library, manifest or output file unusable
	ExitUsage       = 2
	ExitModelFailed = 3 // at least one model has an error in its Result
	ExitCancelled   = 130
)

const usage = `usage:
  edgefit-agent [--ort-lib PATH] info [--check-providers]
  edgefit-agent [--ort-lib PATH] run [--out RESULTS.jsonl] MANIFEST.json
  edgefit-agent version

info prints the ONNX Runtime version and execution providers as JSON; with
--check-providers it also tries each provider on a one-node model and says
which can run here (a library lists the providers it was built with).
run measures the models of the manifest and prints one JSON result per
line as each finishes; with --out, results are also appended to that file
and models already there are skipped, so a rerun resumes.

Exit status: 0 ok, 1 fatal, 2 usage, 3 some model failed, 130 interrupted.
`

// Main is the agent's command line. It returns the process exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("edgefit-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	lib := fs.String("ort-lib", "", "ONNX Runtime shared library (default: $"+ortlib.Env+" or the `make ort` cache)")
	verbose := fs.Bool("v", false, "log each run's progress to stderr")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	fatal := func(err error) int {
		fmt.Fprintf(stderr, "edgefit-agent: error: %v\n", err)
		return ExitFatal
	}
	switch rest[0] {
	case "version":
		fmt.Fprintln(stdout, AgentVersion())
		return ExitOK
	case "info":
		ifs := flag.NewFlagSet("edgefit-agent info", flag.ContinueOnError)
		ifs.SetOutput(stderr)
		ifs.Usage = fs.Usage
		check := ifs.Bool("check-providers", false, "try each execution provider on a one-node model")
		if err := ifs.Parse(rest[1:]); err != nil || ifs.NArg() != 0 {
			fmt.Fprint(stderr, usage)
			return ExitUsage
		}
		info, err := Info(*lib)
		if err != nil {
			return fatal(err)
		}
		if *check {
			cs, err := ort.CheckProviders()
			if err != nil {
				return fatal(err)
			}
			for _, c := range cs {
				info.ProviderChecks = append(info.ProviderChecks, wire.ProviderCheck(c))
			}
		}
		if err := writeJSONLine(stdout, info); err != nil {
			return fatal(err)
		}
		return ExitOK
	case "run":
		rfs := flag.NewFlagSet("edgefit-agent run", flag.ContinueOnError)
		rfs.SetOutput(stderr)
		rfs.Usage = fs.Usage
		out := rfs.String("out", "", "also append results to this JSON-lines file, skipping models already in it")
		if err := rfs.Parse(rest[1:]); err != nil {
			return ExitUsage
		}
		if rfs.NArg() != 1 {
			fmt.Fprint(stderr, usage)
			return ExitUsage
		}
		if err := ort.Init(*lib); err != nil {
			return fatal(err)
		}
		failed, err := RunManifestFile(ctx, rfs.Arg(0), *out, stdout, log)
		switch {
		case errors.Is(err, context.Canceled):
			fmt.Fprintln(stderr, "edgefit-agent: interrupted")
			return ExitCancelled
		case err != nil:
			return fatal(err)
		case failed > 0:
			fmt.Fprintf(stderr, "edgefit-agent: %d model(s) failed; see their \"error\" fields\n", failed)
			return ExitModelFailed
		}
		return ExitOK
	}
	fmt.Fprintf(stderr, "edgefit-agent: unknown command %q\n%s", rest[0], usage)
	return ExitUsage
}

// Info loads the library (see ort.Init) and describes it.
func Info(lib string) (wire.Info, error) {
	if err := ort.Init(lib); err != nil {
		return wire.Info{}, err
	}
	providers, err := ort.AvailableProviders()
	if err != nil {
		return wire.Info{}, err
	}
	return wire.Info{
		Agent:      AgentVersion(),
		Format:     wire.FormatVersion,
		ORTVersion: ort.Version(),
		Library:    ort.LibraryPath(),
		Providers:  providers,
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		CPUs:       runtime.NumCPU(),
	}, nil
}

// RunManifestFile measures every model of the manifest at path (ONNX
// Runtime must be initialised), writing each Result to stdout as a JSON
// line and, when out is set, appending it to out (synced) after skipping
// the models whose successful results out already holds. It returns how
// many models failed.
func RunManifestFile(ctx context.Context, path, out string, stdout io.Writer, log *slog.Logger) (failed int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read manifest: %w", err)
	}
	m, err := wire.ParseManifest(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	done := map[string]bool{}
	var outFile *os.File
	if out != "" {
		if f, err := os.Open(out); err == nil {
			err = wire.ReadResults(f, func(r wire.Result) error {
				if r.Error == "" {
					done[r.ID] = true
				}
				return nil
			})
			f.Close()
			if err != nil {
				return 0, fmt.Errorf("read earlier results %s: %w (delete it to start over)", out, err)
			}
		}
		outFile, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return 0, fmt.Errorf("open results file: %w", err)
		}
		defer outFile.Close()
	}
	dir := filepath.Dir(path)
	for _, spec := range m.Models {
		if done[spec.ID] {
			log.Debug("already measured", "id", spec.ID)
			continue
		}
		log.Debug("measuring", "id", spec.ID, "path", spec.Path)
		res, merr := Measure(ctx, spec, dir)
		if res.Error != "" {
			failed++
		}
		if err := writeJSONLine(stdout, res); err != nil {
			return failed, fmt.Errorf("write result: %w", err)
		}
		if outFile != nil {
			if err := writeJSONLine(outFile, res); err != nil {
				return failed, fmt.Errorf("append to %s: %w", out, err)
			}
			if err := outFile.Sync(); err != nil {
				return failed, fmt.Errorf("sync %s: %w", out, err)
			}
		}
		if merr != nil {
			return failed, merr
		}
	}
	return failed, nil
}

func writeJSONLine(w io.Writer, v any) error {
	if r, ok := v.(wire.Result); ok {
		return wire.WriteResult(w, r)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
