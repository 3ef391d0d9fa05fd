package journal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type header struct {
	Kind string `json:"kind"`
	Seed int    `json:"seed"`
}

type rec struct {
	N int `json:"n"`
}

func readAll(t *testing.T, path string) (header, []int, *Writer, error) {
	t.Helper()
	var h header
	var ns []int
	w, err := Open(path, &h, func(line int, raw json.RawMessage) error {
		var r rec
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		ns = append(ns, r.N)
		return nil
	})
	return h, ns, w, err
}

func TestRoundTripAndResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	w, err := Create(path, header{"acc", 7})
	if err != nil {
		t.Fatal(err)
	}
	for n := range 3 {
		if err := w.Append(rec{n}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if _, err := Create(path, header{}); err == nil {
		t.Fatal("Create over an existing journal succeeded")
	}
	h, ns, w, err := readAll(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if h != (header{"acc", 7}) || len(ns) != 3 || ns[2] != 2 {
		t.Fatalf("read back %+v %v", h, ns)
	}
	w.Append(rec{3})
	w.Close()
	if _, ns, w, _ = readAll(t, path); len(ns) != 4 {
		t.Fatalf("after resume: %v", ns)
	}
	w.Close()
}

func TestTornTailDroppedAndOverwritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	os.WriteFile(path, []byte(`{"kind":"acc","seed":1}`+"\n"+`{"n":1}`+"\n"+`{"n":`), 0o644)
	_, ns, w, err := readAll(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 {
		t.Fatalf("records %v, want the one complete record", ns)
	}
	w.Append(rec{2})
	w.Close()
	b, _ := os.ReadFile(path)
	if want := `{"kind":"acc","seed":1}` + "\n" + `{"n":1}` + "\n" + `{"n":2}` + "\n"; string(b) != want {
		t.Fatalf("file after resume:\n%s\nwant\n%s", b, want)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"empty", "", "empty or torn header"},
		{"torn header", `{"kind":"acc"`, "empty or torn header"},
		{"unknown header field", `{"kind":"acc","other":1}` + "\n", "line 1 (header)"},
		{"corrupt middle", `{"kind":"acc"}` + "\n" + "garbage\n" + `{"n":1}` + "\n", "line 2 is not a JSON record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j")
			os.WriteFile(path, []byte(tc.body), 0o644)
			_, _, _, err := readAll(t, path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"kind":"acc","seed":1}` + "\n" + `{"n":1}` + "\n"))
	f.Add([]byte("{}\n{\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "j")
		os.WriteFile(path, data, 0o644)
		var h header
		w, err := Open(path, &h, func(int, json.RawMessage) error { return nil })
		if err == nil {
			w.Close()
		}
	})
}

// TestLongLines: lines longer than the reader's 64 KiB buffer, as the
// header of an accuracy dataset of 1000 subnets is (about 115 KB), read
// back whole, header and records alike.
func TestLongLines(t *testing.T) {
	type big struct {
		Kind  string `json:"kind"`
		Items []int  `json:"items"`
	}
	h := big{Kind: "long"}
	for i := range 40000 { // about 230 KB of JSON
		h.Items = append(h.Items, 100000+i)
	}
	path := filepath.Join(t.TempDir(), "j")
	w, err := Create(path, h)
	if err != nil {
		t.Fatal(err)
	}
	long := rec{N: 7}
	if err := w.Append(h); err != nil { // a long record too
		t.Fatal(err)
	}
	if err := w.Append(long); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var got big
	var recs []json.RawMessage
	w, err = Open(path, &got, func(_ int, r json.RawMessage) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	var first big
	if len(recs) != 2 || json.Unmarshal(recs[0], &first) != nil || len(got.Items) != len(h.Items) || got.Items[len(got.Items)-1] != h.Items[len(h.Items)-1] ||
		len(first.Items) != len(h.Items) || string(recs[1]) != `{"n":7}` {
		t.Fatalf("read back a header of %d items and %d records (%.60s...)", len(got.Items), len(recs), recs)
	}
}
