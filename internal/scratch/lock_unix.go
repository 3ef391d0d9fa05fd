//go:build unix

package scratch

import (
	"errors"
	"os"
	"syscall"
)

// lock creates the lock file path locked: it is locked under a temporary
// name and then renamed into place, so that no other process ever sees it
// unlocked while this one lives.
func lock(path string) (unlock func(), err error) {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	return func() { f.Close() }, nil
}

// lockHeld reports whether a live process holds the lock file at path;
// when none does, it runs remove while holding the lock itself, so that no
// other cleaner races it. A missing lock file is os.ErrNotExist.
func lockHeld(path string, remove func() error) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, remove()
}

// ownedByUs reports whether dir belongs to this process's user (others'
// directories are theirs to clean).
func ownedByUs(dir string) bool {
	st, err := os.Stat(dir)
	if err != nil {
		return false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Getuid()
}
