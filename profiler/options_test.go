package profiler

import (
	"testing"
	"time"
)

// TestDefaultMeasurement: the defaults the commands show are a valid
// discipline, the one a zero Measurement stands for, and fill every field.
func TestDefaultMeasurement(t *testing.T) {
	d := DefaultMeasurement()
	if err := d.validate(); err != nil {
		t.Fatal(err)
	}
	if d.withDefaults() != d {
		t.Errorf("defaults are not a fixed point: %+v -> %+v", d, d.withDefaults())
	}
	want := Measurement{Warmup: 5, MinRuns: 10, MaxRuns: 200, TargetCI: 0.02, MaxTime: 2 * time.Second, SampleMS: 2,
		DriftThreshold: 0.03, ReferenceSessions: 3, DriftRetries: 2, CooldownDelta: 2, MaxCooldown: time.Minute, Rounds: 4}
	if d != want {
		t.Errorf("DefaultMeasurement() = %+v, want the documented %+v", d, want)
	}
}
