package edgefit

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgefit/edgefit/export/zerocost"
	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
	"github.com/edgefit/edgefit/supernet/zoo"
)

// ZeroCostSource is the accuracy source that names the zero-cost NASWOT
// proxy ('--acc zero-cost'): every candidate is scored by one forward pass
// of a minibatch, no accuracy predictor or measurement needed. Its numbers
// are a proxy, labelled as such everywhere (see package export/zerocost).
const ZeroCostSource = "zero-cost"

// IsZeroCost reports whether an accuracy source names the zero-cost proxy.
func IsZeroCost(source string) bool { return strings.EqualFold(source, ZeroCostSource) }

// IsZeroCostSource reports whether an accuracy source's description (a
// Selection's or RunResult's AccuracySource) is the zero-cost proxy's.
func IsZeroCostSource(description string) bool {
	return strings.HasPrefix(description, zerocost.SourcePrefix)
}

// ZeroCostOptions say what the zero-cost proxy scores subnets on.
type ZeroCostOptions struct {
	// Data is a folder of images (every JPEG/PNG below it, in torchvision
	// ImageFolder order); "" means a seeded synthetic batch, which every
	// output then names.
	Data string
	// Images is how many of them: the first N (0 means 64, NASWOT's
	// batch; at least 2).
	Images int
	// Seed seeds the synthetic batch and the untrained weights.
	Seed uint64
}

// Zero-cost search defaults: scoring a subnet takes one forward pass of
// the batch (for 64 images at 224 on two cores, about 0.9 s for the mid
// w1.0 subnet and 2.7 s for the largest w1.2 one; less at lower
// resolutions), not the microseconds of a predictor. The search therefore runs without its
// final polish (a local search that spends some 150 to 600 more
// predictions on small gains of the score), and one that leaves
// population and generations unset gets a smaller budget: about 150
// subnets scored, 300 with the Pareto front, a few minutes.
const (
	ZeroCostPopulation  = 16
	ZeroCostGenerations = 8
)

// ZeroCostSearch returns opts for the zero-cost proxy: no polish, and the
// zero-cost population and generations where they are 0.
func ZeroCostSearch(opts search.Options) search.Options {
	opts.PolishOff = true
	if opts.Population == 0 {
		opts.Population = ZeroCostPopulation
	}
	if opts.Generations == 0 {
		opts.Generations = ZeroCostGenerations
	}
	return opts
}

// AccuracyRequest names an accuracy source for [OpenAccuracy].
type AccuracyRequest struct {
	// Source is an OFA predictor (.pth), a CSV of measured samples, a
	// fitted .json, [ZeroCostSource], or "" for the MACs proxy.
	Source string
	// ZeroCost configures the zero-cost proxy; it is an error to set it
	// for another source.
	ZeroCost ZeroCostOptions
	// Resolutions, for the MACs proxy, are the resolutions the search
	// covers beyond the space's own: the proxy then spans the smallest to
	// the largest subnet of them all, so that it does not saturate (and
	// rank every large subnet alike) beyond r=224.
	Resolutions []int
	// Model, for the zero-cost proxy, is the supernet whose subnets are
	// scored with their weights; nil, or a model without a checkpoint,
	// scores seeded untrained weights (NASWOT's own setting).
	Model *Model
}

// OpenAccuracy opens the accuracy source req names for space, checking
// everything it reads before a search starts: a predictor's file, a CSV
// (fitted now, with progress), or the zero-cost proxy's image folder
// (listed, and every header read). The zero-cost model computes within
// ctx for as long as it is used, since an accuracy model's Accuracy takes
// no context.
func OpenAccuracy(ctx context.Context, space *supernet.Space, req AccuracyRequest, progress Progress) (predictor.AccuracyModel, error) {
	if IsZeroCost(req.Source) {
		return openZeroCost(ctx, space, req, progress)
	}
	if req.ZeroCost != (ZeroCostOptions{}) {
		return nil, inputErrorf("--data and the other zero-cost options need --acc %s", ZeroCostSource)
	}
	src, err := zoo.Resolve(req.Source, zoo.Options{})
	if err != nil {
		return nil, fmt.Errorf("accuracy source: %w", err)
	}
	var fit Meter = quiet{}
	if strings.EqualFold(filepath.Ext(src), ".csv") {
		fit = orQuiet(progress).Begin(PhaseFitAccuracy, 6)
	}
	accSpace := space
	if src == "" && len(req.Resolutions) > 0 {
		if s, err := space.WithResolutions(append(slices.Clone(space.Resolutions), req.Resolutions...)); err == nil {
			accSpace = s
		}
	}
	am, err := predictor.LoadAccuracyModelContext(ctx, accSpace, src, predictor.MLPOptions{},
		predictor.AccuracyFitOptions{Progress: func(done, total int) { fit.Set(done, total) }})
	fit.Done()
	if err != nil {
		// The loaders' errors name the file already.
		return nil, withHint(err, accuracyHint)
	}
	return am, nil
}

// accuracyHint says which accuracy sources there are.
const accuracyHint = "give an OFA accuracy predictor (.pth), a CSV of config,accuracy samples, a fitted .json, " + ZeroCostSource + " for the NASWOT proxy, or nothing for the MACs proxy"

func openZeroCost(ctx context.Context, space *supernet.Space, req AccuracyRequest, progress Progress) (*zerocost.Model, error) {
	zo := req.ZeroCost
	if zo.Images < 0 || zo.Images == 1 {
		return nil, inputErrorf("--data-images %d: the zero-cost kernel compares images, so it needs at least %d (default %d)", zo.Images, zerocost.MinImages, zerocost.DefaultImages)
	}
	var im *zerocost.Images
	var err error
	if zo.Data == "" {
		im, err = zerocost.SyntheticImages(zo.Images, zo.Seed)
	} else {
		im, err = zerocost.OpenImages(ctx, zo.Data, zo.Images)
	}
	if err != nil {
		return nil, withHint(dataError(err), "give --data a folder with at least 2 JPEG or PNG images, or leave --data out for a seeded synthetic batch")
	}
	var ck *supernet.Checkpoint
	if req.Model != nil {
		if ck, err = req.Model.Checkpoint(); err != nil {
			return nil, err
		}
	}
	m, err := zerocost.New(space, zerocost.Options{Images: im, Checkpoint: ck, Seed: zo.Seed, Context: ctx})
	if err != nil {
		return nil, &InputError{Err: err}
	}
	statusf(orQuiet(progress), "accuracy: zero-cost NASWOT proxy on %s, one forward pass per subnet (a proxy, not an accuracy)", im.Describe())
	return m, nil
}

// zeroCostScored says how many subnets a zero-cost model computed and how
// long they took, for a status line; "" for other models.
func zeroCostScored(am predictor.AccuracyModel) string {
	m, ok := am.(*zerocost.Model)
	if !ok {
		return ""
	}
	n, busy := m.Stats()
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("zero-cost proxy: %d subnets scored in %.0f s (%.2f s each)", n, busy.Seconds(), busy.Seconds()/float64(n))
}

// accuracyErr returns the error an accuracy model met while the search
// ran (the zero-cost proxy's forward passes), which Accuracy cannot
// return.
func accuracyErr(am predictor.AccuracyModel) error {
	if e, ok := am.(interface{ Err() error }); ok {
		if err := e.Err(); err != nil {
			return fmt.Errorf("accuracy source: %w", err)
		}
	}
	return nil
}
