package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler/bench/wire"
)

// Model is one model to measure: a local .onnx file and how to run it
// (Spec.Path is set by Run).
type Model struct {
	Local string
	Spec  wire.ModelSpec
}

// RunOptions adjust [Agent.Run].
type RunOptions struct {
	// ProfileDir receives the ONNX Runtime profiles of models run with
	// Spec.Profile; each Result's ProfileFile then names the local copy.
	ProfileDir string
	// Stderr, if set, receives the agent's log as it runs.
	Stderr io.Writer
}

// Run pushes the models and a manifest into a fresh work directory on the
// device, runs the agent, and calls fn with each model's Result as soon as
// the device reports it (in manifest order). Models that fail carry the
// reason in Result.Error; Run's error is for failures of the whole run
// (connection, agent crash, fn's error). The work directory is removed
// afterwards.
func (a *Agent) Run(ctx context.Context, models []Model, opts RunOptions, fn func(wire.Result) error) (err error) {
	t := a.Target
	dir, cleanup, err := t.WorkDir(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cleanup(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = cerr
		}
	}()
	m := wire.Manifest{Format: wire.FormatVersion}
	for i, mod := range models {
		spec := mod.Spec
		spec.Path = fmt.Sprintf("%03d-%s.onnx", i, fileSafe(spec.ID))
		if err := t.Push(ctx, mod.Local, path.Join(dir, spec.Path)); err != nil {
			return fmt.Errorf("push model %s: %w", spec.ID, err)
		}
		m.Models = append(m.Models, spec)
	}
	if err := m.Validate(); err != nil {
		return err
	}
	mf, err := os.CreateTemp("", "edgefit-manifest-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(mf.Name())
	if err := json.NewEncoder(mf).Encode(m); err != nil {
		mf.Close()
		return err
	}
	mf.Close()
	manifest := path.Join(dir, "manifest.json")
	if err := t.Push(ctx, mf.Name(), manifest); err != nil {
		return fmt.Errorf("push manifest: %w", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		readErr = wire.ReadResults(pr, func(r wire.Result) error {
			if r.ProfileFile != "" && opts.ProfileDir != "" {
				local := filepath.Join(opts.ProfileDir, path.Base(r.ProfileFile))
				if err := t.Pull(runCtx, r.ProfileFile, local); err != nil {
					return fmt.Errorf("pull profile of %s: %w", r.ID, err)
				}
				r.ProfileFile = local
			}
			return fn(r)
		})
		if readErr != nil {
			cancel() // no point measuring on: the caller has given up
		}
		// Keep draining so the agent never blocks on a full pipe.
		io.Copy(io.Discard, pr)
	}()
	argv := append(a.Argv(), "run", "--out", path.Join(dir, "results.jsonl"), manifest)
	res, runErr := t.Run(runCtx, argv, devices.RunOptions{Dir: dir, Stdout: pw, Stderr: opts.Stderr})
	pw.Close()
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	var ce *devices.CommandError
	if errors.As(runErr, &ce) && ce.ExitCode == 3 {
		return nil // some models failed; their Results say why
	}
	if runErr != nil {
		return fmt.Errorf("edgefit-agent on %s: %w%s", t.Name(), runErr, stderrTail(res.Stderr))
	}
	return nil
}

func stderrTail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	if len(s) > 1000 {
		s = "..." + s[len(s)-1000:]
	}
	return "\nagent log:\n" + s
}

var unsafeFile = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileSafe(id string) string {
	s := unsafeFile.ReplaceAllString(id, "_")
	if len(s) > 48 {
		s = s[:48]
	}
	return s
}
