package search

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Accepted suffixes, in the order error messages list them.
var (
	latencyUnits = []unit{{"ms", 1}, {"s", 1000}, {"us", 1e-3}, {"µs", 1e-3}}
	byteUnits    = []unit{
		{"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"K", 1e3}, {"M", 1e6}, {"G", 1e9},
	}
	countUnits = []unit{{"K", 1e3}, {"M", 1e6}, {"G", 1e9}}
)

type unit struct {
	name  string
	scale float64
}

func unitNames(us []unit) string {
	var s []string
	for _, u := range us {
		s = append(s, u.name)
	}
	return strings.Join(s, ", ")
}

// splitNumber splits s into a leading decimal number and the suffix after
// it (spaces between them allowed).
func splitNumber(s string) (num float64, suffix string, ok bool) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || (i == 0 && s[i] == '+')) {
		i++
	}
	// An exponent only when digits follow, so that suffixes stay free.
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			i = j
		}
	}
	v, err := strconv.ParseFloat(s[:i], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, "", false
	}
	return v, strings.TrimSpace(s[i:]), true
}

// parseWithUnits reads a positive number with one of units. A bare
// number means bare (a description, such as "a plain count"); when bare
// is "", a bare number is refused with the suggestion to add suggest.
func parseWithUnits(what, s string, units []unit, bare, suggest string, caseFold bool) (float64, error) {
	in := strings.TrimSpace(s)
	hint := fmt.Sprintf("write a positive number with one of the suffixes %s (or none for %s)", unitNames(units), bare)
	if bare == "" {
		hint = fmt.Sprintf("write a positive number with one of the suffixes %s", unitNames(units))
	}
	if strings.HasPrefix(in, "-") {
		return 0, fmt.Errorf("%s %q is negative: %s", what, s, hint)
	}
	v, suf, ok := splitNumber(in)
	if !ok {
		return 0, fmt.Errorf("%s %q is not a number: %s", what, s, hint)
	}
	scale := 0.0
	if suf == "" {
		if bare == "" {
			return 0, fmt.Errorf("%s %q has no unit: did you mean %s%s? (%s)", what, s, in, suggest, hint)
		}
		scale = 1
	}
	for _, u := range units {
		if suf == u.name || caseFold && strings.EqualFold(suf, u.name) {
			scale = u.scale
			break
		}
	}
	if scale == 0 {
		return 0, fmt.Errorf("%s %q has unknown unit %q: %s", what, s, suf, hint)
	}
	v *= scale
	if math.IsInf(v, 0) || math.IsNaN(v) || v <= 0 {
		return 0, fmt.Errorf("%s %q must be positive and finite: %s", what, s, hint)
	}
	return v, nil
}

// ParseLatency reads a latency limit such as "20ms", "0.02s" or "1500us"
// and returns it in milliseconds. The unit is required: a bare "20" is
// refused with the question whether 20ms was meant.
func ParseLatency(s string) (float64, error) {
	return parseWithUnits("latency", s, latencyUnits, "", "ms", true)
}

// ParseBytes reads a memory size such as "40MB", "512KB", "1GB", "64MiB"
// or "1000B" and returns bytes. KB, MB and GB (and K, M, G) are powers of
// 1000; KiB, MiB and GiB are powers of 1024, as in IEC 80000-13. Units are
// case-insensitive ("40mb" is 40 MB) and required: a bare "40" is refused
// with the question whether 40MB was meant. Fractions round to the
// nearest byte.
func ParseBytes(s string) (int64, error) {
	v, err := parseWithUnits("memory size", s, byteUnits, "", "MB", true)
	if err != nil {
		return 0, err
	}
	return toInt64("memory size", s, v, byteUnits)
}

// ParseCount reads a parameter or MAC count such as "5M", "300M", "1.5G",
// "250k" or "300000". K, M and G are 10^3, 10^6 and 10^9 (either case). A
// fraction rounds to the nearest whole count.
func ParseCount(s string) (int64, error) {
	v, err := parseWithUnits("count", s, countUnits, "a plain count", "", true)
	if err != nil {
		return 0, err
	}
	return toInt64("count", s, v, countUnits)
}

func toInt64(what, s string, v float64, units []unit) (int64, error) {
	r := math.Round(v)
	if r < 1 || r >= math.MaxInt64 {
		return 0, fmt.Errorf("%s %q is out of range: write a whole value from 1 to 9.2e18 with one of the suffixes %s", what, s, unitNames(units))
	}
	return int64(r), nil
}

// FormatBytes writes n bytes with an SI unit, the way ParseBytes reads
// them back: "40.0 MB", "512 KB", "1.20 GB".
func FormatBytes(n int64) string { return formatSI(float64(n), "B") }

// FormatCount writes a count with an SI suffix: "5.29M", "300M", "1.50G".
func FormatCount(n int64) string { return formatSI(float64(n), "") }

func formatSI(v float64, unit string) string {
	sep := ""
	if unit != "" {
		sep = " "
	}
	for _, p := range []struct {
		scale float64
		pre   string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "K"}} {
		if math.Abs(v) >= p.scale {
			return trimFloat(v/p.scale) + sep + p.pre + unit
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + sep + unit
}

// trimFloat prints three significant digits.
func trimFloat(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// FormatLatency writes milliseconds with three significant digits.
func FormatLatency(ms float64) string { return trimFloat(ms) + " ms" }

// ParseShare reads a limit relative to the largest subnet, such as "60%",
// and returns it as a fraction in (0, 1].
func ParseShare(s string) (float64, error) {
	in := strings.TrimSpace(s)
	num, ok := strings.CutSuffix(in, "%")
	if !ok {
		return 0, fmt.Errorf("share %q does not end in %%: write one such as 60%%", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || !(v > 0 && v <= 100) {
		return 0, fmt.Errorf("share %q is not a percentage in (0, 100]: write one such as 60%% (of the largest subnet's value)", s)
	}
	return v / 100, nil
}

// IsShare reports whether s is written as a share ("60%") rather than
// with a unit.
func IsShare(s string) bool { return strings.HasSuffix(strings.TrimSpace(s), "%") }

// FormatShare writes a fraction as a percentage: 0.6 as "60%", 0.125 as
// "12.5%".
func FormatShare(f float64) string {
	return strconv.FormatFloat(math.Round(f*1e5)/1e3, 'f', -1, 64) + "%"
}
