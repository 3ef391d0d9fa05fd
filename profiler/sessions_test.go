package profiler

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/devices"
	"github.com/edgefit/edgefit/profiler/timing"
)

func sessionRec(t *testing.T, governor string) journalRecord {
	fp := devices.Fingerprint{OS: "linux", Clusters: []devices.Cluster{{Policy: "policy0", CPUs: []int{0, 1}, MaxFreqKHz: 2400000, CurFreqKHz: 1200000, Governor: governor}}}
	b, err := json.Marshal(fp)
	if err != nil {
		t.Fatal(err)
	}
	return journalRecord{Kind: recSession, Fingerprint: b}
}

func refRec(median float64, note string) journalRecord {
	st := timing.Summarize([]float64{median})
	return journalRecord{Kind: recReference, Stats: &st, Drift: 1, Note: note}
}

// TestSessions: a journal resumed at the same speed is one speed; resumed
// 20% slower (past the 3% threshold), or with another governor, it mixes
// two, and the report says which sessions and by how much. A session that
// measured nothing does not count.
func TestSessions(t *testing.T) {
	const key2 = "expanded_conv-input:20x20x40-output:20x20x40-expand:160-kernel:3-stride:1-idskip:1-se:1-hs:0"
	for _, tc := range []struct {
		name   string
		second []journalRecord
		mixed  string // "" for one speed, else what the reason says
	}{
		{"same speed", []journalRecord{sessionRec(t, "performance"), refRec(0.101, "baseline"), entryRec(160, key2, 0.4), refRec(0.102, "")}, ""},
		{"slower", []journalRecord{sessionRec(t, "performance"), refRec(0.12, "baseline"), entryRec(160, key2, 0.5), refRec(0.12, "")}, "20.0% slower than session 1"},
		{"other governor", []journalRecord{sessionRec(t, "powersave"), refRec(0.1, "baseline"), entryRec(160, key2, 0.4), refRec(0.1, "")}, "performance max 2400000 kHz, then policy0 powersave"},
		{"measured nothing", []journalRecord{sessionRec(t, "powersave"), refRec(0.2, "baseline")}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.lut.json.journal")
			recs := []journalRecord{sessionRec(t, "performance"), refRec(0.1, "baseline"), entryRec(160, entryKey, 0.5), refRec(0.1, ""), refRec(0.1, "")}
			writeTestJournal(t, path, append(recs, tc.second...)...)
			j, err := LoadJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			rep := j.Sessions(0.03)
			if len(rep.Sessions) != 2 || rep.Sessions[0].Batches != 2 || rep.Sessions[0].Measurements != 1 || rep.Sessions[0].ReferenceMS != 0.1 {
				t.Fatalf("sessions %+v", rep.Sessions)
			}
			if rep.MixedSpeeds != (tc.mixed != "") || tc.mixed != "" && !strings.Contains(strings.Join(rep.Reasons, "\n"), tc.mixed) {
				t.Errorf("mixed %v, reasons %q; want %q", rep.MixedSpeeds, rep.Reasons, tc.mixed)
			}
		})
	}
}
