package profiler

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgefit/edgefit/profiler/timing"
	"github.com/edgefit/edgefit/supernet"
)

const entryKey = "expanded_conv-input:20x20x40-output:20x20x40-expand:120-kernel:3-stride:1-idskip:1-se:1-hs:0"

func testHeader() journalHeader {
	id := Identity{Space: "ofa-mbv3-w1.0", Resolutions: []int{160}, Batch: 1, Threads: 1, Provider: "cpu", Runner: RunnerAgent, Networks: 2, Seed: 1}
	return journalHeader{Journal: journalMagic, Version: journalVersion, Target: "local", Identity: id, Digest: id.digest()}
}

func entryRec(r int, key string, median float64) journalRecord {
	st := timing.Summarize([]float64{median, median * 1.01, median * 0.99, median, median, median})
	return journalRecord{Kind: recEntry, R: r, Key: key, Stats: &st}
}

func networkRec(t testing.TB, r, idx int) journalRecord {
	sp, err := supernet.SpaceByName("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	c := sp.MinConfig(r)
	st := timing.Summarize([]float64{5, 5.1, 4.9})
	return journalRecord{Kind: recNetwork, R: r, Index: &idx, Config: &c, Stats: &st}
}

// writeTestJournal writes a journal with a header and recs and returns its
// bytes.
func writeTestJournal(t *testing.T, path string, recs ...journalRecord) []byte {
	t.Helper()
	w, err := createJournal(path, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.append(recs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJournalRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lut.json.journal")
	writeTestJournal(t, path, entryRec(160, entryKey, 0.5), networkRec(t, 160, 0), networkRec(t, 160, 1))
	j, err := LoadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if j.Header.Digest != testHeader().Digest || j.Torn || j.Duplicates != 0 {
		t.Errorf("header %+v torn %v dups %d", j.Header, j.Torn, j.Duplicates)
	}
	e, n := j.Measured()
	if e != 1 || n != 2 {
		t.Errorf("measured %d entries %d networks, want 1 and 2", e, n)
	}
	if _, ok := j.Done[itemID(recEntry, 160, entryKey)]; !ok {
		t.Errorf("entry missing from Done: %v", j.Done)
	}
	// Appending after reading continues the file.
	w, err := appendJournal(path, j)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.append(entryRec(176, entryKey, 0.6)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	j, err = LoadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := j.Measured(); e != 2 {
		t.Errorf("after append: %d entries, want 2", e)
	}
	// createJournal never overwrites.
	if _, err := createJournal(path, testHeader()); err == nil {
		t.Error("createJournal replaced an existing journal")
	}
}

// TestJournalTornTail: a run killed in the middle of a write leaves part of
// a line without its newline; it is dropped, and appending cuts it off.
func TestJournalTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	full := writeTestJournal(t, path, entryRec(160, entryKey, 0.5), networkRec(t, 160, 0))
	lastNL := bytes.LastIndexByte(full[:len(full)-1], '\n')
	for _, cut := range []int{lastNL + 1 + 5, len(full) - 3} {
		if err := os.WriteFile(path, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := LoadJournal(path)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if !j.Torn || j.ValidBytes != int64(lastNL+1) {
			t.Errorf("cut at %d: torn %v valid %d, want true %d", cut, j.Torn, j.ValidBytes, lastNL+1)
		}
		if e, n := j.Measured(); e != 1 || n != 0 {
			t.Errorf("cut at %d: %d entries %d networks", cut, e, n)
		}
		w, err := appendJournal(path, j)
		if err != nil {
			t.Fatal(err)
		}
		w.append(networkRec(t, 160, 0))
		w.Close()
		j, err = LoadJournal(path)
		if err != nil || j.Torn {
			t.Fatalf("after append: %v torn=%v", err, j.Torn)
		}
		if e, n := j.Measured(); e != 1 || n != 1 {
			t.Errorf("after append: %d entries %d networks", e, n)
		}
	}
	// A complete last line missing only its newline is kept.
	if err := os.WriteFile(path, full[:len(full)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := LoadJournal(path)
	if err != nil || j.Torn || !j.NeedsNewline {
		t.Fatalf("no final newline: err %v torn %v needsNewline %v", err, j.Torn, j.NeedsNewline)
	}
	if _, n := j.Measured(); n != 1 {
		t.Errorf("no final newline: %d networks, want 1", n)
	}
}

// TestJournalCorrupt: a bad line that is not the torn tail is an error
// naming the line, and the file is left as it was.
func TestJournalCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	full := writeTestJournal(t, path, entryRec(160, entryKey, 0.5), networkRec(t, 160, 0), networkRec(t, 160, 1))
	lines := strings.SplitAfter(string(full), "\n")
	for _, tc := range []struct {
		name string
		line int // 0-based line to replace
		with string
		want string
	}{
		{"garbage", 2, "{not json\n", "line 3"},
		{"bad key", 1, strings.Replace(lines[1], "kernel:3", "kernel:4", 1), "line 2"},
		{"negative median", 1, strings.Replace(lines[1], `"median_ms":0.5`, `"median_ms":-0.5`, 1), "line 2"},
		{"unknown kind", 3, `{"kind":"bogus","at":"2020-01-01T00:00:00Z"}` + "\n", "line 4"},
		{"bad header", 0, `{"journal":"other"}` + "\n", "line 1"},
		{"unknown field", 2, strings.Replace(lines[2], `"kind"`, `"extra":1,"kind"`, 1), "line 3"},
		{"empty line", 2, "\n", "line 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mod := append([]string(nil), lines...)
			mod[tc.line] = tc.with
			data := []byte(strings.Join(mod, ""))
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadJournal(path)
			var je *JournalError
			if !errors.As(err, &je) {
				t.Fatalf("err = %v, want *JournalError", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) || je.Hint() == "" {
				t.Errorf("err = %v, want %q and the path", err, tc.want)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, data) {
				t.Error("reading changed the journal")
			}
		})
	}
}

func TestJournalEmpty(t *testing.T) {
	j, err := ReadJournal(strings.NewReader(""))
	if err != nil || j.Header.Journal != "" || len(j.Records) != 0 {
		t.Errorf("empty: %+v %v", j, err)
	}
	// Only a torn header: nothing to resume.
	b, _ := json.Marshal(testHeader())
	j, err = ReadJournal(bytes.NewReader(b[:len(b)/2]))
	if err != nil || !j.Torn || j.Header.Journal != "" {
		t.Errorf("torn header: %+v %v", j, err)
	}
}

func FuzzReadJournal(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "j")
	w, err := createJournal(path, testHeader())
	if err != nil {
		f.Fatal(err)
	}
	w.append(entryRec(160, entryKey, 0.5), networkRec(f, 160, 0), journalRecord{Kind: recSession, Fingerprint: json.RawMessage(`{"os":"linux"}`)})
	w.Close()
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add(seed[:len(seed)-7])
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"journal":"edgefit-profile-journal","version":1,"identity_digest":"x"}` + "\n" + `{"kind":"entry"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := ReadJournal(bytes.NewReader(data))
		if j == nil {
			t.Fatal("nil journal")
		}
		if err != nil {
			var je *JournalError
			if !errors.As(err, &je) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if j.ValidBytes > int64(len(data)) {
			t.Fatalf("valid bytes %d > %d", j.ValidBytes, len(data))
		}
		// What was kept reads back the same on its own.
		j2, err := ReadJournal(bytes.NewReader(data[:j.ValidBytes]))
		if err != nil || len(j2.Records) != len(j.Records) || len(j2.Done) != len(j.Done) {
			t.Fatalf("prefix reread: %v, %d/%d records", err, len(j2.Records), len(j.Records))
		}
		for id, i := range j.Done {
			rec := j.Records[i]
			if rec.id() != id || rec.Stats == nil || !(rec.Stats.Median > 0) {
				t.Fatalf("done %s -> %+v", id, rec)
			}
		}
	})
}
