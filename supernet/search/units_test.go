package search

import (
	"strings"
	"testing"
)

func TestParseLatency(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"20ms", 20}, {"0.02s", 20}, {" 25 ms ", 25}, {"1500us", 1.5},
		{"1500µs", 1.5}, {"2S", 2000}, {"1e1ms", 10}, {"12.5MS", 12.5},
	} {
		got, err := ParseLatency(tc.in)
		if err != nil || got < tc.want*(1-1e-12) || got > tc.want*(1+1e-12) {
			t.Errorf("ParseLatency(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "not a number"}, {"ms", "not a number"}, {"-3ms", "negative"}, {"20min", `unknown unit "min"`},
		{"0ms", "must be positive"}, {"1e999s", "must be positive and finite"}, {"20 m s", "unknown unit"},
		{"20", `latency "20" has no unit: did you mean 20ms?`}, {" 2.5 ", "did you mean 2.5ms?"},
	} {
		_, err := ParseLatency(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "ms, s, us") {
			t.Errorf("ParseLatency(%q) error %v, want one mentioning %q and the suffixes", tc.in, err, tc.want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"40MB", 40_000_000}, {"512KB", 512_000}, {"1GB", 1_000_000_000}, {"64MiB", 64 << 20},
		{"1KiB", 1024}, {"1.5GiB", 3 << 29}, {"123B", 123}, {"40mb", 40_000_000}, {"7 B", 7},
		{"2M", 2_000_000}, {"0.5KB", 500}, {"1.0004B", 1},
	} {
		got, err := ParseBytes(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseBytes(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"40Mb/s", "unknown unit"}, {"-1MB", "negative"}, {"0.1B", "out of range"}, {"1e30GB", "out of range"},
		{"lots", "not a number"}, {"0B", "positive"}, {"40", `memory size "40" has no unit: did you mean 40MB?`},
	} {
		_, err := ParseBytes(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "KB, MB, GB, KiB") {
			t.Errorf("ParseBytes(%q) error %v, want one mentioning %q and the suffixes", tc.in, err, tc.want)
		}
	}
}

func TestParseCount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"5M", 5_000_000}, {"300M", 300_000_000}, {"1.5G", 1_500_000_000}, {"300000", 300_000},
		{"250k", 250_000}, {"4.6m", 4_600_000}, {"1e6", 1_000_000},
	} {
		got, err := ParseCount(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseCount(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{{"5MB", "unknown unit"}, {"x", "not a number"}, {"-5", "negative"}} {
		_, err := ParseCount(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "K, M, G") {
			t.Errorf("ParseCount(%q) error %v, want one mentioning %q", tc.in, err, tc.want)
		}
	}
}

func TestFormatRoundTrips(t *testing.T) {
	for _, n := range []int64{1, 999, 1000, 40_000_000, 512_000, 1_200_000_000, 4_600_000} {
		b, err := ParseBytes(FormatBytes(n))
		if err != nil || float64(b) < float64(n)*0.99 || float64(b) > float64(n)*1.01 {
			t.Errorf("FormatBytes(%d) = %q reads back as %d, %v", n, FormatBytes(n), b, err)
		}
		c, err := ParseCount(FormatCount(n))
		if err != nil || float64(c) < float64(n)*0.99 || float64(c) > float64(n)*1.01 {
			t.Errorf("FormatCount(%d) = %q reads back as %d, %v", n, FormatCount(n), c, err)
		}
	}
}

func FuzzParseUnits(f *testing.F) {
	for _, s := range []string{"20ms", "0.02s", "40MB", "1.5GiB", "300M", "1e3k", "-1", "", "5 µs", "1e", "1e+", "60%", "0.5 %", "20"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseLatency(s); err == nil && !(v > 0) {
			t.Fatalf("ParseLatency(%q) = %v without error", s, v)
		}
		if v, err := ParseBytes(s); err == nil && v < 1 {
			t.Fatalf("ParseBytes(%q) = %v without error", s, v)
		}
		if v, err := ParseCount(s); err == nil && v < 1 {
			t.Fatalf("ParseCount(%q) = %v without error", s, v)
		}
		if v, err := ParseShare(s); err == nil && !(v > 0 && v <= 1) || err == nil && !IsShare(s) {
			t.Fatalf("ParseShare(%q) = %v without error", s, v)
		}
	})
}

func TestParseShare(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
	}{{"60%", 0.6}, {" 12.5 % ", 0.125}, {"100%", 1}, {"0.5%", 0.005}} {
		got, err := ParseShare(tc.in)
		if err != nil || got != tc.want || !IsShare(tc.in) {
			t.Errorf("ParseShare(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if back, err := ParseShare(FormatShare(got)); err != nil || back != got {
			t.Errorf("FormatShare(%v) = %q reads back as %v, %v", got, FormatShare(got), back, err)
		}
	}
	for _, in := range []string{"0%", "101%", "-5%", "%", "sixty%", "60"} {
		if _, err := ParseShare(in); err == nil {
			t.Errorf("ParseShare(%q) accepted", in)
		}
	}
	if got := FormatShare(0.6); got != "60%" {
		t.Errorf("FormatShare(0.6) = %q", got)
	}
}
