package cmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/edgefit/edgefit/internal/testfix"
)

// run executes the edgefit command line in-process and returns its stdout,
// stderr and error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return runIn(t, "", args...)
}

// sharedDir returns ../shared beside the repository, or skips the test.
func sharedDir(t *testing.T) string { return testfix.Shared(t) }

func TestVersionJSON(t *testing.T) {
	out, _, err := run(t, "version", "--json")
	if err != nil || !bytes.Contains([]byte(out), []byte(`"version"`)) {
		t.Fatalf("version --json: %q, %v", out, err)
	}
}

func TestUnknownFlagIsUsageError(t *testing.T) {
	_, _, err := run(t, "version", "--bogus")
	if ExitCodeOf(err) != ExitUsage {
		t.Fatalf("exit code %d, want %d (%v)", ExitCodeOf(err), ExitUsage, err)
	}
}

// TestEveryCommandHasExample walks the command tree: every command a user
// can run shows an example in its --help.
func TestEveryCommandHasExample(t *testing.T) {
	root, _ := newRoot(IO{})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" || c.Parent() != nil && c.Parent().Name() == "completion" {
			return
		}
		if c.Example == "" {
			t.Errorf("%q has no example in its --help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root.InitDefaultCompletionCmd()
	walk(root)
}

func TestCompletion(t *testing.T) {
	out, _, err := run(t, "completion", "bash")
	if err != nil || !strings.Contains(out, "edgefit") {
		t.Fatalf("completion bash: %v", err)
	}
}
