package accuracy

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/edgefit/edgefit/export"
	"github.com/edgefit/edgefit/internal/atomicfile"
	"github.com/edgefit/edgefit/internal/journal"
	"github.com/edgefit/edgefit/supernet"
)

// DatasetOptions configure [BuildDataset].
type DatasetOptions struct {
	Subnets     int    // unique random subnets (OFA's default: 1000)
	Resolutions []int  // every subnet is measured at each (OFA: 128, 160, 192, 224)
	Seed        uint64 // draws the subnets
	Calib       CalibOptions
	Eval        EvalOptions
	// Output is the CSV to write (the format predictor.ReadAccuracyCSV
	// reads); the journal that makes the work resumable is Output+".journal".
	Output   string
	Progress func(DatasetProgress)
}

// DatasetRow is one measured subnet at one resolution.
type DatasetRow struct {
	Config   supernet.Config `json:"config"`
	Top1     float64         `json:"top1"`
	Top5     float64         `json:"top5"`
	Images   int             `json:"images"`
	Seconds  float64         `json:"wall_seconds"`
	Recorded time.Time       `json:"recorded"`
}

// DatasetProgress reports one finished measurement.
type DatasetProgress struct {
	Done, Total int           // measurements finished (resumed ones included) and in all
	Resumed     int           // taken from the journal
	Last        *DatasetRow   // nil for the report made on resuming
	Elapsed     time.Duration // since this run started
	ETA         time.Duration // at this run's pace; 0 until one measurement is done
}

// DatasetResult is what [BuildDataset] made.
type DatasetResult struct {
	Rows     []DatasetRow
	Resumed  int // rows taken from the journal rather than measured now
	Journal  string
	Subnets  []supernet.Config // the drawn subnets (resolution 0)
	PerHour  float64           // measurements per hour in this run (0 when all were resumed)
	Calib    int               // calibration images per measurement
	EvalSize int               // evaluation images per measurement
}

// JournalSuffix names the journal kept beside an accuracy dataset's CSV.
const JournalSuffix = ".journal"

const (
	datasetMagic   = "edgefit-accuracy-dataset"
	datasetVersion = 1
)

// datasetHeader pins what a journal measures: a resumed run with other
// settings would mix incomparable accuracies.
type datasetHeader struct {
	Journal          string            `json:"journal"`
	Version          int               `json:"version"`
	Space            string            `json:"space"`
	CheckpointSHA256 string            `json:"checkpoint_sha256"`
	Seed             uint64            `json:"seed"`
	Resolutions      []int             `json:"resolutions"`
	Subnets          []supernet.Config `json:"subnets"`
	CalibSHA256      string            `json:"calib_list_sha256"`
	CalibImages      int               `json:"calib_images"`
	CalibBatch       int               `json:"calib_batch"`
	CalibAugment     bool              `json:"calib_augment,omitempty"`
	CalibSeed        uint64            `json:"calib_seed,omitempty"`
	EvalSHA256       string            `json:"val_list_sha256"`
	EvalImages       int               `json:"val_images"`
}

// SampleSubnets draws n distinct subnets of s the way OFA's
// sample_active_subnet does (uniform kernels, expand ratios and depths),
// distinct as subnets (entries of inactive blocks do not count), in the
// order drawn. Their resolution is 0.
func SampleSubnets(s *supernet.Space, n int, seed uint64) []supernet.Config {
	rng := rand.New(rand.NewPCG(seed, 0x0fa))
	seen := map[supernet.Config]bool{}
	out := make([]supernet.Config, 0, n)
	for len(out) < n {
		c := s.RandomConfig(rng)
		c.R = 0
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// BuildDataset measures the top-1 accuracy of random subnets of ck on the
// user's images, as OFA's AccuracyDataset.build_acc_dataset does: for each
// resolution, each subnet is extracted, its BatchNorm recalibrated on the
// calibration folder and it is evaluated on the labelled folder. Every
// measurement is appended to a journal (synced) before the next starts, so
// a run killed at any point resumes without measuring anything twice; the
// CSV is rewritten atomically after each measurement.
func BuildDataset(ctx context.Context, ck *supernet.Checkpoint, opts DatasetOptions) (*DatasetResult, error) {
	if err := checkDatasetOptions(ck.Space, &opts); err != nil {
		return nil, &SetupError{err}
	}
	calib, err := OpenCalibration(ctx, opts.Calib)
	if err != nil {
		return nil, setupError(err)
	}
	eval, err := OpenEvaluation(ctx, opts.Eval, ck.Space.Classes)
	if err != nil {
		return nil, setupError(err)
	}
	calib.KeepCrops()
	eval.KeepCrops()
	h := datasetHeader{
		Journal: datasetMagic, Version: datasetVersion,
		Space: ck.Space.Name, CheckpointSHA256: ck.SHA256,
		Seed: opts.Seed, Resolutions: opts.Resolutions,
		Subnets:     SampleSubnets(ck.Space, opts.Subnets, opts.Seed),
		CalibSHA256: calib.Digest(), CalibImages: calib.Images(), CalibBatch: opts.Calib.Batch,
		CalibAugment: opts.Calib.Augment, CalibSeed: seedIf(opts.Calib.Augment, opts.Calib.Seed),
		EvalSHA256: eval.Digest(), EvalImages: eval.Images(),
	}
	b := &builder{opts: opts, header: h, done: map[supernet.Config]DatasetRow{}}
	if err := b.openJournal(); err != nil {
		return nil, &SetupError{err}
	}
	defer b.j.Close()
	if err := b.writeCSV(); err != nil {
		return nil, err
	}
	if err := b.measureAll(ctx, ck, calib, eval); err != nil {
		return nil, err
	}
	return b.result(calib, eval), nil
}

// SetupError is a problem with [BuildDataset]'s options, folders or journal,
// found before anything is measured: the user's to fix.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

func setupError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &SetupError{err}
}

func checkDatasetOptions(s *supernet.Space, o *DatasetOptions) error {
	switch {
	case o.Subnets <= 0:
		return fmt.Errorf("--subnets %d must be at least 1 (OFA measures 1000 per resolution)", o.Subnets)
	case o.Output == "":
		return errors.New("no output file: pass -o acc.csv")
	case len(o.Resolutions) == 0:
		return errors.New("no resolutions: pass --res, for example --res 160,176,192,208,224")
	}
	if _, err := s.WithResolutions(o.Resolutions); err != nil {
		return fmt.Errorf("--res: %w", err)
	}
	seen := map[int]bool{}
	for _, r := range o.Resolutions {
		if seen[r] {
			return fmt.Errorf("--res lists %d twice", r)
		}
		seen[r] = true
	}
	if err := o.Calib.check(); err != nil {
		return err
	}
	if o.Eval.Dir == "" {
		return errors.New("no evaluation folder: pass --val-data DIR (ImageNet layout: DIR/<class>/<image>)")
	}
	if o.Eval.Batch <= 0 {
		o.Eval.Batch = DefaultEvalBatch
	}
	if fi, err := os.Stat(o.Output); err == nil && fi.IsDir() {
		return fmt.Errorf("-o %s is a directory: give a file name such as %s/acc.csv", o.Output, o.Output)
	}
	return atomicfile.CheckDir(o.Output)
}

// builder carries one BuildDataset run.
type builder struct {
	opts    DatasetOptions
	header  datasetHeader
	j       *journal.Writer
	done    map[supernet.Config]DatasetRow // by config with resolution
	order   []supernet.Config              // journal order
	resumed int
	start   time.Time
	now     int // measured in this run
}

func (b *builder) journalPath() string { return b.opts.Output + JournalSuffix }

// openJournal creates the journal, or resumes one made with the same
// settings.
func (b *builder) openJournal() error {
	path := b.journalPath()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		b.j, err = journal.Create(path, b.header)
		return err
	}
	var old datasetHeader
	w, err := journal.Open(path, &old, func(line int, raw json.RawMessage) error {
		var row DatasetRow
		if err := json.Unmarshal(raw, &row); err != nil {
			return err
		}
		if _, dup := b.done[row.Config]; !dup {
			b.order = append(b.order, row.Config)
		}
		b.done[row.Config] = row
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w (delete it to start over)", err)
	}
	if diff := headerDiff(old, b.header); diff != "" {
		w.Close()
		return fmt.Errorf("journal %s was started with other settings (%s): resume with the same settings, or write the new dataset to another -o", path, diff)
	}
	b.j = w
	b.resumed = len(b.done)
	return nil
}

func headerDiff(a, b datasetHeader) string {
	switch {
	case a.Journal != b.Journal || a.Version != b.Version:
		return fmt.Sprintf("it is a %s v%d journal, not %s v%d", a.Journal, a.Version, b.Journal, b.Version)
	case a.Space != b.Space:
		return fmt.Sprintf("space %s, now %s", a.Space, b.Space)
	case a.CheckpointSHA256 != b.CheckpointSHA256:
		return "another checkpoint"
	case !slices.Equal(a.Resolutions, b.Resolutions):
		return fmt.Sprintf("--res %v, now %v", a.Resolutions, b.Resolutions)
	case a.Seed != b.Seed || !slices.Equal(a.Subnets, b.Subnets):
		return fmt.Sprintf("--subnets %d --seed %d, now --subnets %d --seed %d", len(a.Subnets), a.Seed, len(b.Subnets), b.Seed)
	case a.CalibSHA256 != b.CalibSHA256 || a.CalibImages != b.CalibImages:
		return fmt.Sprintf("other calibration images (%d, list sha256 %.12s…; now %d, %.12s…)", a.CalibImages, a.CalibSHA256, b.CalibImages, b.CalibSHA256)
	case a.CalibBatch != b.CalibBatch || a.CalibAugment != b.CalibAugment || a.CalibSeed != b.CalibSeed:
		return fmt.Sprintf("--calib-batch %d --calib-augment=%v --calib-seed %d, now %d, %v, %d", a.CalibBatch, a.CalibAugment, a.CalibSeed, b.CalibBatch, b.CalibAugment, b.CalibSeed)
	case a.EvalSHA256 != b.EvalSHA256 || a.EvalImages != b.EvalImages:
		return fmt.Sprintf("other evaluation images (%d, list sha256 %.12s…; now %d, %.12s…)", a.EvalImages, a.EvalSHA256, b.EvalImages, b.EvalSHA256)
	}
	return ""
}

func (b *builder) total() int { return len(b.header.Subnets) * len(b.header.Resolutions) }

// measureAll measures every subnet at every resolution not yet in the
// journal, resolution by resolution as OFA does (so that each resolution's
// crops are decoded once).
func (b *builder) measureAll(ctx context.Context, ck *supernet.Checkpoint, calib *CalibSet, eval *EvalSet) error {
	b.start = time.Now()
	b.report(nil)
	for _, r := range b.header.Resolutions {
		for _, c := range b.header.Subnets {
			c.R = r
			if _, ok := b.done[c]; ok {
				continue
			}
			row, err := measure(ctx, ck, c, calib, eval)
			if err != nil {
				return fmt.Errorf("measure subnet %s: %w", c, err)
			}
			if err := b.j.Append(row); err != nil {
				return err
			}
			b.done[c] = *row
			b.order = append(b.order, c)
			b.now++
			if err := b.writeCSV(); err != nil {
				return err
			}
			b.report(row)
		}
	}
	return nil
}

// measure recalibrates and evaluates one subnet.
func measure(ctx context.Context, ck *supernet.Checkpoint, c supernet.Config, calib *CalibSet, eval *EvalSet) (*DatasetRow, error) {
	start := time.Now()
	net, err := supernet.Extract(ck, c)
	if err != nil {
		return nil, err
	}
	res, _, _, err := Measure(ctx, net, export.Metadata{CheckpointSHA256: ck.SHA256}, false, calib, eval)
	if err != nil {
		return nil, err
	}
	return &DatasetRow{Config: c, Top1: res.Top1, Top5: res.Top5, Images: res.Images, Seconds: time.Since(start).Seconds(), Recorded: time.Now().UTC()}, nil
}

// Measure is what measuring one subnet's accuracy takes once net is cut
// from its checkpoint: its BatchNorm statistics recalibrated on calib, the
// result exported with meta (and, with recordCalib, the calibration in
// meta.Calibration) and evaluated on eval at net's resolution. It returns
// the evaluation, the recalibrated net and the calibration's record.
func Measure(ctx context.Context, net *supernet.Net, meta export.Metadata, recordCalib bool, calib *CalibSet, eval *EvalSet) (*EvalResult, *supernet.Net, *Calibration, error) {
	net, cal, err := calib.Recalibrate(ctx, net, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	if recordCalib {
		meta.Calibration = cal.Metadata()
	}
	model, err := export.Marshal(net, meta)
	if err != nil {
		return nil, nil, nil, err
	}
	res, err := eval.Evaluate(ctx, model, net.Config.R, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return res, net, cal, nil
}

func (b *builder) report(last *DatasetRow) {
	if b.opts.Progress == nil {
		return
	}
	p := DatasetProgress{Done: len(b.done), Total: b.total(), Resumed: b.resumed, Last: last, Elapsed: time.Since(b.start)}
	if b.now > 0 {
		p.ETA = time.Duration(float64(p.Elapsed) / float64(b.now) * float64(p.Total-p.Done))
	}
	b.opts.Progress(p)
}

// writeCSV rewrites the CSV from the journal's rows.
func (b *builder) writeCSV() error {
	var buf bytes.Buffer
	h := b.header
	fmt.Fprintf(&buf, "# edgefit accuracy dataset: top-1 accuracy (fraction) of %s subnets after BatchNorm recalibration\n", h.Space)
	fmt.Fprintf(&buf, "# checkpoint sha256 %s\n", h.CheckpointSHA256)
	fmt.Fprintf(&buf, "# calibration: %d images in batches of %d, list sha256 %s\n", h.CalibImages, h.CalibBatch, h.CalibSHA256)
	fmt.Fprintf(&buf, "# validation: %d images, list sha256 %s\n", h.EvalImages, h.EvalSHA256)
	fmt.Fprintf(&buf, "# %d of %d measurements\n", len(b.done), b.total())
	w := csv.NewWriter(&buf)
	w.Write([]string{"config", "accuracy"})
	for _, c := range b.order {
		row := b.done[c]
		cj, err := json.Marshal(row.Config)
		if err != nil {
			return err
		}
		w.Write([]string{string(cj), strconv.FormatFloat(row.Top1, 'f', -1, 64)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return atomicfile.WriteFile(b.opts.Output, buf.Bytes())
}

func (b *builder) result(calib *CalibSet, eval *EvalSet) *DatasetResult {
	res := &DatasetResult{Resumed: b.resumed, Journal: b.journalPath(), Subnets: b.header.Subnets, Calib: calib.Images(), EvalSize: eval.Images()}
	for _, c := range b.order {
		res.Rows = append(res.Rows, b.done[c])
	}
	if el := time.Since(b.start).Hours(); b.now > 0 && el > 0 {
		res.PerHour = float64(b.now) / el
	}
	return res
}
