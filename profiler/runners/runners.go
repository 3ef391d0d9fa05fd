package runners

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/edgefit/edgefit/profiler/bench/wire"
)

// ErrNoSummary is wrapped by parse errors when the output holds no timing
// summary at all (the tool failed, or this is not its output).
var ErrNoSummary = errors.New("no timing summary in the tool's output")

var number = `([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)`

// lines splits output into trimmed lines without log prefixes such as
// "[11/27/2024-10:01:24] [I] " or "INFO: ".
func lines(out string) []string {
	var ls []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		ls = append(ls, stripPrefix(sc.Text()))
	}
	return ls
}

var logPrefix = regexp.MustCompile(`^(?:\[[^\]]*\]\s*)*(?:(?:INFO|WARNING|ERROR|VERBOSE):\s*)?`)

func stripPrefix(l string) string {
	l = strings.TrimSpace(l)
	return strings.TrimSpace(logPrefix.ReplaceAllString(l, ""))
}

func parseFloat(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// noSummary builds the error for output without timings, quoting the last
// error lines so the user sees why the tool failed.
func noSummary(tool, out string, errMarkers ...string) error {
	var errs []string
	for _, raw := range strings.Split(out, "\n") {
		l := strings.TrimSpace(raw)
		for _, m := range errMarkers {
			if strings.Contains(l, m) {
				errs = append(errs, l)
				break
			}
		}
	}
	if len(errs) > 5 {
		errs = errs[len(errs)-5:]
	}
	if len(errs) == 0 {
		tail := strings.TrimSpace(out)
		if len(tail) > 300 {
			tail = "..." + tail[len(tail)-300:]
		}
		return fmt.Errorf("%s: %w; its output ends: %q", tool, ErrNoSummary, tail)
	}
	return fmt.Errorf("%s: %w; it reported:\n  %s", tool, ErrNoSummary, strings.Join(errs, "\n  "))
}

func setExtra(r *wire.Result, k string, v float64) {
	if r.Extra == nil {
		r.Extra = map[string]float64{}
	}
	r.Extra[k] = v
}
