// Package scratch makes the temporary directories edgefit works in on this
// machine, and removes the ones that an edgefit killed without a chance to
// clean up (SIGKILL, a crash, a power cut) left behind.
//
// [Dir] creates prefix+digits under os.TempDir(), as os.MkdirTemp does,
// empty, with a lock file beside it (the same name plus [LockSuffix]) that
// the creating process holds (flock(2)) until it calls the release
// function. The lock goes when the process dies, for
// whatever reason, so a directory whose lock nobody holds is stale: [Clean]
// removes those, and directories without a lock file (from older versions,
// or a process killed between creating the directory and locking it) once
// they are older than [MaxUnlockedAge]. Dir cleans its prefix once per
// process before creating the first directory, so every start of edgefit
// sweeps what earlier runs left.
//
// The package imports nothing else of edgefit and uses no cgo.
package scratch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// LockSuffix names the lock file beside every directory [Dir] creates:
// /tmp/edgefit-123 is locked by /tmp/edgefit-123.lock.
const LockSuffix = ".lock"

// MaxUnlockedAge is how old a directory without a lock file must be
// before [Dir] takes it for stale.
const MaxUnlockedAge = 24 * time.Hour

var cleaned sync.Map // prefix -> struct{}: Clean already ran in this process

// Dir creates a new directory named prefix followed by digits in
// os.TempDir(), empty and locked by this process, after removing the stale
// directories of that prefix the first time it is called for it. release
// removes the directory and its lock.
func Dir(prefix string) (dir string, release func() error, err error) {
	tmp := os.TempDir()
	if _, done := cleaned.LoadOrStore(prefix, struct{}{}); !done {
		_, _ = Clean(tmp, prefix, MaxUnlockedAge) // best effort: a stale directory must not stop the work
	}
	dir, err = os.MkdirTemp(tmp, prefix)
	if err != nil {
		return "", nil, err
	}
	unlock, err := lock(dir + LockSuffix)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	var once sync.Once
	release = func() error {
		var err error
		once.Do(func() {
			err = os.RemoveAll(dir)
			os.Remove(dir + LockSuffix)
			unlock()
		})
		return err
	}
	return dir, release, nil
}

// Clean removes the stale directories named prefix followed by digits in
// tmp: those whose lock file no live process holds, and those without a
// lock file whose modification time is older than maxAge. Other names,
// files, and directories of other users are left alone. It returns the
// directories removed.
func Clean(tmp, prefix string, maxAge time.Duration) ([]string, error) {
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range ents {
		suffix, ok := strings.CutPrefix(e.Name(), prefix)
		if n, isLock := strings.CutSuffix(suffix, LockSuffix); ok && isLock && allDigits(n) && e.Type().IsRegular() {
			// A lock whose directory is gone (its owner died while
			// releasing): remove it once nobody holds it.
			p := filepath.Join(tmp, e.Name())
			if _, err := os.Stat(strings.TrimSuffix(p, LockSuffix)); errors.Is(err, os.ErrNotExist) {
				lockHeld(p, func() error { return os.Remove(p) })
			}
			continue
		}
		if !ok || !e.IsDir() || !allDigits(suffix) {
			continue
		}
		dir := filepath.Join(tmp, e.Name())
		if !ownedByUs(dir) {
			continue
		}
		stale, err := removeIfStale(dir, maxAge)
		if err != nil {
			errs = append(errs, err)
		}
		if stale {
			removed = append(removed, dir)
		}
	}
	return removed, errors.Join(errs...)
}

// removeIfStale removes dir if no process holds its lock, or, without a
// lock file, if it is older than maxAge.
func removeIfStale(dir string, maxAge time.Duration) (bool, error) {
	held, err := lockHeld(dir+LockSuffix, func() error {
		err := os.RemoveAll(dir)
		os.Remove(dir + LockSuffix)
		return err
	})
	switch {
	case err == nil:
		return !held, nil
	case !errors.Is(err, os.ErrNotExist):
		return false, err
	}
	st, err := os.Stat(dir)
	if err != nil || time.Since(st.ModTime()) < maxAge {
		return false, nil
	}
	// Check again: the owner may have locked it meanwhile.
	if _, err := os.Stat(dir + LockSuffix); err == nil {
		return false, nil
	}
	return true, os.RemoveAll(dir)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
