// Package testfix finds the read-only reference material that edgefit's
// tests compare against: OFA's published files and the fixtures written by
// the upstream OFA code, kept in ../shared beside the repository and never
// copied into it.
package testfix

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod above the test's package.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// Shared returns ../shared beside the repository root, or skips the test,
// saying why, where it is absent.
func Shared(t testing.TB) string {
	t.Helper()
	shared := filepath.Join(RepoRoot(t), "..", "shared")
	if _, err := os.Stat(filepath.Join(shared, "ofa-upstream")); err != nil {
		t.Skipf("OFA reference files are not at %s (%v): run the tests in a checkout beside ../shared", shared, err)
	}
	return shared
}
