package ortlib

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultPath(t *testing.T) {
	lib := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(lib, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(Env, lib)
	if got, err := DefaultPath(); err != nil || got != lib {
		t.Errorf("DefaultPath with $%s set = %q, %v; want %q", Env, got, err, lib)
	}
	t.Setenv(Env, filepath.Join(t.TempDir(), "missing.so"))
	if _, err := DefaultPath(); err == nil || !strings.Contains(err.Error(), Env) {
		t.Fatalf("missing $%s: got %v", Env, err)
	}
	t.Setenv(Env, "")
	home := t.TempDir()
	t.Setenv("HOME", home)
	if _, err := DefaultPath(); err == nil || !strings.Contains(err.Error(), "make ort") {
		t.Fatalf("empty cache: got %v, want advice to run make ort", err)
	}
}

func TestCachedPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for arch, dir := range map[string]string{"amd64": "linux-x64", "arm64": "linux-arm64"} {
		want := filepath.Join(home, ".cache", "edgefit", "onnxruntime", "1.24.1", dir, "libonnxruntime.so.1")
		if got, err := CachedPath(arch); err != nil || got != want {
			t.Errorf("CachedPath(%s) = %q, %v; want %q", arch, got, err, want)
		}
	}
	if _, err := CachedPath("riscv64"); err == nil {
		t.Fatal("CachedPath(riscv64) succeeded")
	}
}
