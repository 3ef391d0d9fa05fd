package profiler

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/internal/journal"
	"github.com/edgefit/edgefit/profiler/lut"
	"github.com/edgefit/edgefit/profiler/timing"
	"github.com/edgefit/edgefit/supernet"
)

// JournalSuffix is appended to a table's path to name its journal:
// DEVICE.lut.json.journal.
const JournalSuffix = ".journal"

// journalMagic and journalVersion open every journal's header line.
const (
	journalMagic   = "edgefit-profile-journal"
	journalVersion = 1
)

// JournalPath returns the journal kept next to the table at out.
func JournalPath(out string) string { return out + JournalSuffix }

// Record kinds in a journal.
const (
	recEntry     = "entry"     // one layer shape at one resolution
	recNetwork   = "network"   // one whole subnet
	recSession   = "session"   // a profiling run started or resumed: fingerprint, runtime
	recReference = "reference" // the drift reference measured at the end of a batch
	recFinish    = "finish"    // a profiling run finished: fingerprint after
)

// journalHeader is the first line of a journal. It pins what is measured
// and how, so that a resumed run cannot mix incompatible numbers.
type journalHeader struct {
	Journal  string    `json:"journal"` // journalMagic
	Version  int       `json:"version"`
	Created  time.Time `json:"created"`
	Target   string    `json:"target"`
	Identity Identity  `json:"identity"`
	Digest   string    `json:"identity_digest"`
	// DeviceDigest hashes the fingerprint fields that name the hardware and
	// software (CPU model, kernel, runtime), not clocks or temperatures.
	DeviceDigest string `json:"device_digest,omitempty"`
	Device       string `json:"device,omitempty"` // human summary of the same
}

// journalRecord is every line after the header.
type journalRecord struct {
	Kind  string `json:"kind"`
	Batch int    `json:"batch,omitempty"`
	// Entry and network records.
	R      int              `json:"r,omitempty"`
	Key    string           `json:"key,omitempty"`
	Index  *int             `json:"index,omitempty"` // network number within its resolution
	Config *supernet.Config `json:"config,omitempty"`
	Stats  *timing.Stats    `json:"stats,omitempty"`
	// CI is the relative half-width of the 95% confidence interval of the
	// median; Drift the reference's ratio to its baseline when the batch
	// ended (1 = no drift).
	CI    float64 `json:"ci,omitempty"`
	Drift float64 `json:"drift,omitempty"`
	// Session and finish records.
	Fingerprint json.RawMessage `json:"fingerprint,omitempty"`
	Runtime     *lut.Runtime    `json:"runtime,omitempty"`
	Note        string          `json:"note,omitempty"`
	At          time.Time       `json:"at"`
}

// id names what a record measured; each id is measured once.
func (r *journalRecord) id() string {
	switch r.Kind {
	case recEntry:
		return itemID(recEntry, r.R, r.Key)
	case recNetwork:
		if r.Index == nil {
			return ""
		}
		return itemID(recNetwork, r.R, strconv.Itoa(*r.Index))
	}
	return ""
}

func itemID(kind string, r int, key string) string {
	return kind + "/" + strconv.Itoa(r) + "/" + key
}

// Journal is the content of a profiling journal read by [ReadJournal].
type Journal struct {
	Header  journalHeader
	Records []journalRecord
	// Done maps the id of every measured item to its record's position in
	// Records (the first, should an id appear twice).
	Done map[string]int
	// Duplicates counts records measuring an id already measured. A
	// journal written by this package has none.
	Duplicates int
	// ValidBytes is the length of the journal up to the end of its last
	// complete, valid line; what follows is a torn line that a killed
	// process left half-written and that is dropped.
	ValidBytes int64
	// Torn is set when such a torn line was dropped.
	Torn bool
	// NeedsNewline is set when the last valid line lacks its newline.
	NeedsNewline bool
}

// Measured counts entries and networks in the journal.
func (j *Journal) Measured() (entries, networks int) {
	for _, i := range j.Done {
		switch j.Records[i].Kind {
		case recEntry:
			entries++
		case recNetwork:
			networks++
		}
	}
	return entries, networks
}

// JournalError reports a journal that cannot be resumed: a corrupt line
// (not the last, which a crash may legitimately leave torn) or a header
// that is not a journal's. Nothing was changed on disk.
type JournalError struct {
	Path string
	Line int // 1-based; 0 when the file as a whole is wrong
	// Intact counts the measurements on the lines that could be read.
	Intact int
	Err    error
}

func (e *JournalError) Error() string {
	where := e.Path
	if where == "" {
		where = "journal"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d is corrupt: %v (the %d measurements on other lines are intact; the file was not changed)", where, e.Line, e.Err, e.Intact)
	}
	return fmt.Sprintf("%s: %v", where, e.Err)
}

func (e *JournalError) Unwrap() error { return e.Err }

// Hint says how to go on.
func (e *JournalError) Hint() string {
	if e.Line > 0 {
		return fmt.Sprintf("fix or delete line %d of %s and rerun the same command to resume, or rerun with --restart to set the journal aside and measure afresh", e.Line, e.Path)
	}
	return "rerun with --restart to set this file aside and measure afresh, or use another -o"
}

// maxJournalLine bounds one journal line; a fingerprint record is the
// largest, a few kilobytes.
const maxJournalLine = 4 << 20

// ReadJournal reads a journal. A last line without its newline that does
// not parse is a write cut short by a crash: it is dropped and reported in
// Journal.Torn. Any other bad line is a *JournalError naming it.
// An empty input gives a Journal without header (Header.Journal == "").
func ReadJournal(r io.Reader) (*Journal, error) {
	j := &Journal{Done: map[string]int{}}
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	var bad *JournalError // the first corrupt line; reading goes on to count what is intact
	line := 0
	for {
		raw, err := journal.ReadLine(br, maxJournalLine)
		if len(raw) == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			if long := (*journal.LineTooLongError)(nil); errors.As(err, &long) {
				if bad == nil {
					bad = &JournalError{Line: line + 1, Err: err}
				}
				break
			}
			return j, fmt.Errorf("read journal: %w", err)
		}
		line++
		complete := len(raw) > 0 && raw[len(raw)-1] == '\n'
		body := bytes.TrimSuffix(raw, []byte("\n"))
		if line > 1 && j.Header.Journal == "" {
			// Without a valid header nothing after it can be trusted.
			break
		}
		perr := j.parseLine(line, body)
		if perr != nil {
			if !complete { // torn tail: drop it
				j.Torn = true
				break
			}
			if bad == nil {
				bad = &JournalError{Line: line, Err: perr}
			}
			continue
		}
		if bad == nil {
			off += int64(len(raw))
			j.ValidBytes = off
			j.NeedsNewline = !complete
		}
		if !complete {
			break
		}
	}
	if bad != nil {
		bad.Intact = len(j.Done)
		return j, bad
	}
	return j, nil
}

func (j *Journal) parseLine(line int, body []byte) error {
	if line == 1 {
		var h journalHeader
		if err := strictUnmarshal(body, &h); err != nil {
			return fmt.Errorf("header: %w", err)
		}
		if h.Journal != journalMagic {
			return fmt.Errorf("not an edgefit profiling journal (first line lacks \"journal\":%q)", journalMagic)
		}
		if h.Version != journalVersion {
			return fmt.Errorf("journal version %d; this edgefit reads version %d", h.Version, journalVersion)
		}
		if h.Digest == "" {
			return errors.New("header has no identity digest")
		}
		j.Header = h
		return nil
	}
	var rec journalRecord
	if err := strictUnmarshal(body, &rec); err != nil {
		return err
	}
	if err := rec.check(); err != nil {
		return err
	}
	j.Records = append(j.Records, rec)
	if id := rec.id(); id != "" {
		if _, dup := j.Done[id]; dup {
			j.Duplicates++
		} else {
			j.Done[id] = len(j.Records) - 1
		}
	}
	return nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// check validates one record, so that a hand-edited or damaged journal
// cannot slip a bad number into a table.
func (r *journalRecord) check() error {
	statsOK := func() error {
		if r.Stats == nil {
			return errors.New("no stats")
		}
		s := r.Stats
		for _, v := range []float64{s.Median, s.Mean, s.P10, s.P90, s.Std, s.CoV} {
			if !finite(v) || v < 0 {
				return fmt.Errorf("stats hold a negative or non-finite value: %+v", *s)
			}
		}
		if s.Median <= 0 || s.N <= 0 {
			return fmt.Errorf("stats need a positive median and run count: %+v", *s)
		}
		return nil
	}
	switch r.Kind {
	case recEntry:
		if r.R <= 0 {
			return errors.New("entry without resolution")
		}
		if _, err := lut.ParseKey(r.Key); err != nil {
			return err
		}
		return statsOK()
	case recNetwork:
		if r.R <= 0 || r.Index == nil || *r.Index < 0 || r.Config == nil {
			return errors.New("network record needs r, index and config")
		}
		if r.Config.R != r.R {
			return fmt.Errorf("network config resolution %d differs from r %d", r.Config.R, r.R)
		}
		return statsOK()
	case recReference:
		return statsOK()
	case recSession, recFinish:
		return nil
	case "":
		return errors.New("record without kind")
	default:
		return fmt.Errorf("unknown record kind %q", r.Kind)
	}
}

// journalWriter appends batches of records to a journal, syncing each.
type journalWriter struct {
	path string
	f    *os.File
}

// createJournal starts a new journal with header h, replacing nothing: it
// fails if path exists.
func createJournal(path string, h journalHeader) (*journalWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	w := &journalWriter{path: path, f: f}
	b, err := json.Marshal(h)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := w.write(append(b, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	atomicfile.SyncDir(filepath.Dir(path))
	return w, nil
}

// appendJournal reopens an existing journal read as j, first cutting off a
// torn last line.
func appendJournal(path string, j *Journal) (*journalWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	w := &journalWriter{path: path, f: f}
	if j.Torn {
		if err := f.Truncate(j.ValidBytes); err != nil {
			f.Close()
			return nil, fmt.Errorf("drop torn last line of %s: %w", path, err)
		}
	}
	if j.NeedsNewline {
		if err := w.write([]byte("\n")); err != nil {
			f.Close()
			return nil, err
		}
	}
	return w, nil
}

// append writes recs as one write and syncs, so that a batch reaches the
// disk whole or (after a crash) as whole lines plus at most one torn line.
func (w *journalWriter) append(recs ...journalRecord) error {
	var buf bytes.Buffer
	for i := range recs {
		if recs[i].At.IsZero() {
			recs[i].At = time.Now().UTC()
		}
		b, err := json.Marshal(&recs[i])
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return w.write(buf.Bytes())
}

func (w *journalWriter) write(b []byte) error {
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("write journal %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync journal %s: %w", w.path, err)
	}
	return nil
}

func (w *journalWriter) Close() error { return w.f.Close() }

// LoadJournal reads the journal at path; see [ReadJournal]. Errors name
// the file.
func LoadJournal(path string) (*Journal, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	j, err := ReadJournal(f)
	var je *JournalError
	if errors.As(err, &je) {
		je.Path = path
	}
	return j, err
}
