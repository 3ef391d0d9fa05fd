package profiler

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler/timing"
)

// Session is one profiling run that added to a journal: the first, or a
// resume.
type Session struct {
	Index        int       `json:"index"` // 1-based, in journal order
	Started      time.Time `json:"started_at"`
	Batches      int       `json:"batches"`
	Measurements int       `json:"measurements"` // entries and networks it journalled
	// ReferenceMS is the median of the drift reference measured after
	// each of its batches: the device's speed during the session.
	ReferenceMS float64 `json:"reference_ms,omitempty"`
	// Clocks sums up what of the device's fingerprint sets its speed
	// (per cluster: governor, clock limits; the Jetson power mode).
	Clocks string `json:"clocks,omitempty"`
}

// SessionReport says whether the sessions of a journal measured the device
// at one speed. A table resumed on a device that had become faster or
// slower (another governor, a thermal cap, a background load) holds
// entries of two speeds, and sums of them are off by the difference.
type SessionReport struct {
	Sessions []Session `json:"sessions"`
	// DriftThreshold is the fraction by which the sessions' references
	// may differ before they count as two speeds: the profile's drift
	// threshold, the limit within one session too.
	DriftThreshold float64 `json:"drift_threshold_fraction"`
	// MixedSpeeds is set when two sessions that measured something
	// differ: their references by more than DriftThreshold, or the clock
	// settings of their fingerprints. Reasons says how.
	MixedSpeeds bool     `json:"mixed_speeds"`
	Reasons     []string `json:"mixed_speeds_reasons,omitempty"`
}

// Sessions splits the journal into its sessions and compares them. The
// signals are the drift reference, which every batch measures after its
// models (so its median per session is that session's speed, and the
// sessions' medians agree within threshold on an unchanged device), and
// the fingerprint each session starts with (a changed governor or clock
// limit changes every latency). threshold is the profile's drift threshold
// (0 means the default).
func (j *Journal) Sessions(threshold float64) SessionReport {
	if threshold <= 0 {
		threshold = DefaultMeasurement().DriftThreshold
	}
	rep := SessionReport{DriftThreshold: threshold}
	var refs [][]float64
	for _, rec := range j.Records {
		if rec.Kind == recSession {
			s := Session{Index: len(rep.Sessions) + 1, Started: rec.At, Clocks: clocksOf(rec.Fingerprint)}
			rep.Sessions = append(rep.Sessions, s)
			refs = append(refs, nil)
			continue
		}
		if len(rep.Sessions) == 0 {
			continue // records before any session: not written by this package
		}
		s := &rep.Sessions[len(rep.Sessions)-1]
		switch rec.Kind {
		case recEntry, recNetwork:
			s.Measurements++
		case recReference:
			if rec.Note != "baseline" && rec.Stats != nil {
				s.Batches++
				refs[len(refs)-1] = append(refs[len(refs)-1], rec.Stats.Median)
			}
		}
	}
	var first *Session
	for i := range rep.Sessions {
		s := &rep.Sessions[i]
		if len(refs[i]) > 0 {
			s.ReferenceMS = timing.Median(refs[i])
		}
		if s.Measurements == 0 || s.ReferenceMS == 0 {
			continue
		}
		if first == nil {
			first = s
			continue
		}
		if d := s.ReferenceMS/first.ReferenceMS - 1; d > threshold || d < -threshold {
			rep.Reasons = append(rep.Reasons, fmt.Sprintf("session %d measured the drift reference at %.4g ms, %.1f%% %s than session %d (%.4g ms); the drift threshold is %.1f%%",
				s.Index, s.ReferenceMS, 100*math.Abs(d), map[bool]string{true: "slower", false: "faster"}[d > 0], first.Index, first.ReferenceMS, 100*threshold))
		}
		if s.Clocks != first.Clocks && s.Clocks != "" && first.Clocks != "" {
			rep.Reasons = append(rep.Reasons, fmt.Sprintf("session %d ran with other clock settings than session %d: %s, then %s", s.Index, first.Index, first.Clocks, s.Clocks))
		}
	}
	rep.MixedSpeeds = len(rep.Reasons) > 0
	return rep
}

// clocksOf sums up the speed settings of a fingerprint recorded as JSON:
// per cluster its governor and clock limits, and a Jetson's power mode.
// Current clocks and temperatures, which move by the second, are left out.
func clocksOf(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var fp devices.Fingerprint
	if json.Unmarshal(raw, &fp) != nil {
		return ""
	}
	var parts []string
	cl := slices.Clone(fp.Clusters)
	slices.SortFunc(cl, func(a, b devices.Cluster) int { return strings.Compare(a.Policy, b.Policy) })
	for _, c := range cl {
		s := fmt.Sprintf("%s %s max %d kHz", c.Policy, c.Governor, c.MaxFreqKHz)
		if c.ScalingMaxKHz > 0 || c.ScalingMinKHz > 0 {
			s += fmt.Sprintf(" (scaling %d-%d kHz)", c.ScalingMinKHz, c.ScalingMaxKHz)
		}
		parts = append(parts, s)
	}
	if fp.Jetson != nil && fp.Jetson.PowerMode != "" {
		parts = append(parts, "power mode "+fp.Jetson.PowerMode)
	}
	return strings.Join(parts, "; ")
}
