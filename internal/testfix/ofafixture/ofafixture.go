// Package ofafixture loads the shared OFA-format checkpoint fixture
// (../shared/fixtures/ofa-mbv3-w1.0, written by upstream OFA's code) once
// per test binary, for the tests of packages that run trained subnets. It
// is apart from package testfix because it imports supernet, whose own
// tests use testfix. It imports supernet and internal helpers only, and no
// cgo; only tests import it.
package ofafixture

import (
	"sync"
	"testing"

	"github.com/edgefit/edgefit/internal/testfix"
	"github.com/edgefit/edgefit/supernet"
)

// Path is the fixture checkpoint's path below ../shared.
const Path = "fixtures/ofa-mbv3-w1.0/supernet.pth"

var loaded struct {
	sync.Once
	ck  *supernet.Checkpoint
	err error
}

// Checkpoint returns the w1.0 fixture checkpoint, loaded on first use; a
// missing ../shared skips the test (fails it under EDGEFIT_TEST_STRICT=1,
// see testfix.Need). Callers must not modify it.
func Checkpoint(t testing.TB) *supernet.Checkpoint {
	t.Helper()
	path := testfix.SharedFile(t, Path)
	loaded.Do(func() { loaded.ck, loaded.err = supernet.LoadCheckpoint(path) })
	if loaded.err != nil {
		t.Fatal(loaded.err)
	}
	return loaded.ck
}
