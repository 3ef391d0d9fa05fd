//go:build unix

package zoo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockFile takes an exclusive lock that keeps two edgefit processes from
// writing the same .part file, waiting (until ctx ends) while another holds
// it. The lock file stays behind, empty; that is harmless and avoids races
// on its removal.
func lockFile(ctx context.Context, dest string, log *slog.Logger) (func(), error) {
	name := filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".lock")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	waited := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if !waited {
			log.Info("another edgefit is fetching this file; waiting for it", "lock", name)
			waited = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
