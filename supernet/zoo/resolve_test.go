package zoo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolve fills a cache with Import (no network) and resolves every
// spelling of each item a user may type.
func TestResolve(t *testing.T) {
	src := upstreamDir(t)
	cache := t.TempDir()
	o := Options{CacheDir: cache, Offline: true}
	ctx := context.Background()
	for _, it := range []string{SupernetW10, AccPredictor, LUTNote10} {
		if _, err := Import(ctx, mustLookup(t, it), src, o); err != nil {
			t.Fatal(err)
		}
	}
	w10 := filepath.Join(cache, "ofa_mbv3_d234_e346_k357_w1.0.pth")
	acc := filepath.Join(cache, "acc_predictor.pth")
	note10 := filepath.Join(cache, "note10")
	for name, want := range map[string]string{
		"ofa-mbv3-w1.0":                    w10,
		"ofa_mbv3_d234_e346_k357_w1.0":     w10,
		"ofa_mbv3_d234_e346_k357_w1.0.pth": w10,
		"acc-predictor":                    acc,
		"acc_predictor.pth":                acc,
		"lut-note10":                       note10,
		"note10":                           note10,
	} {
		got, err := Resolve(name, o)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	if st, err := os.Stat(filepath.Join(note10, "224_lookup_table.yaml")); err != nil || st.Size() != 15007 {
		t.Errorf("the Note10 directory does not hold the tables: %v", err)
	}

	// A file of that name here wins over the cache.
	t.Chdir(t.TempDir())
	os.WriteFile("acc_predictor.pth", []byte("mine"), 0o644)
	if got, err := Resolve("acc_predictor.pth", o); err != nil || got != "acc_predictor.pth" {
		t.Errorf("a local file: %q, %v", got, err)
	}
	// Other names pass through for the caller's own "no such file".
	for _, name := range []string{"", "missing.pth", "ofa-resnet50", "160_lookup_table.yaml"} {
		if got, err := Resolve(name, o); err != nil || got != name {
			t.Errorf("Resolve(%q) = %q, %v; want it unchanged", name, got, err)
		}
	}
	// Not cached: the error says what to run.
	for _, name := range []string{"ofa-mbv3-w1.2", "ofa_mbv3_d234_e346_k357_w1.2"} {
		_, err := Resolve(name, o)
		var nf *NotFetchedError
		if !errors.As(err, &nf) || nf.Item != SupernetW12 || !strings.Contains(err.Error(), "run 'edgefit fetch ofa-mbv3-w1.2'") || !strings.Contains(err.Error(), cache) {
			t.Errorf("Resolve(%q) of an item not cached: %v", name, err)
		}
	}
	// A partly cached item is not resolved.
	os.Remove(filepath.Join(note10, "192_lookup_table.yaml"))
	_, err := Resolve("lut-note10", o)
	var nf *NotFetchedError
	if !errors.As(err, &nf) || len(nf.Missing) != 1 || nf.Missing[0] != "192_lookup_table.yaml" {
		t.Errorf("a partly cached item: %v", err)
	}
}
