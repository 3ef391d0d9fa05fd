package devices

import (
	"strings"
	"testing"
)

// FuzzGuessTarget: a suggestion is a target of a known scheme, built from
// the string given.
func FuzzGuessTarget(f *testing.F) {
	for _, s := range []string{"pi@host", "ssh:pi@host", "adb:R58", "host:22", "x y", "ssh://h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g := guessTarget(s)
		if g != "" && !strings.HasPrefix(g, "ssh://") && !strings.HasPrefix(g, "adb://") {
			t.Fatalf("guessTarget(%q) = %q", s, g)
		}
	})
}

// FuzzRemoveKnownHost edits arbitrary known_hosts contents: it never
// panics, and on success leaves every line it was not asked about as it
// was.
func FuzzRemoveKnownHost(f *testing.F) {
	f.Add("[127.0.0.1]:2222 ssh-ed25519 AAAA\nother ssh-ed25519 BBBB\n", 1)
	f.Add("a,[127.0.0.1]:2222,b ssh-ed25519 AAAA", 1)
	f.Add("|1|abc|def ssh-ed25519 AAAA\n@revoked x ssh-rsa C\n", 2)
	f.Fuzz(func(t *testing.T, content string, line int) {
		got, err := removeKnownHost("known_hosts", content, "127.0.0.1:2222", []int{line})
		if err != nil {
			return
		}
		before := strings.SplitAfter(content, "\n")
		var kept []string
		for i, l := range before {
			if i+1 != line {
				kept = append(kept, l)
			}
		}
		for _, l := range kept {
			if l != "" && !strings.Contains(got, l) {
				t.Fatalf("line %q was lost from %q: %q", l, content, got)
			}
		}
	})
}
