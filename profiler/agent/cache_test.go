package agent

import (
	"path"
	"strings"
	"testing"
)

func TestParseCacheListing(t *testing.T) {
	out := "31000000 0123456789abcdef0123456789abcdef\n   12 fedcba9876543210fedcba9876543210\n5 keep\n7 0123\nx 0123456789abcdef0123456789abcde0\n"
	got := parseCacheListing("/data/local/tmp/edgefit", out)
	if len(got) != 2 || got[0].SizeBytes != 31000000 || got[0].Path != "/data/local/tmp/edgefit/0123456789abcdef0123456789abcdef" || got[1].SizeBytes != 12 {
		t.Errorf("parsed %+v", got)
	}
}

// FuzzParseCacheListing: whatever a device prints, only entries named as
// Deploy names them, inside base, with sizes of 0 or more come out, so
// RemoveCache never removes anything else.
func FuzzParseCacheListing(f *testing.F) {
	f.Add("100 0123456789abcdef0123456789abcdef\n")
	f.Add("-1 0123456789abcdef0123456789abcdef\n1 ../../etc\n")
	f.Fuzz(func(t *testing.T, out string) {
		for _, e := range parseCacheListing("/base", out) {
			if path.Dir(e.Path) != "/base" || !cacheEntryName.MatchString(path.Base(e.Path)) || e.SizeBytes < 0 || strings.Contains(e.Path, "..") {
				t.Fatalf("entry %+v from %q", e, out)
			}
		}
	})
}
