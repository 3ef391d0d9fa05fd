package edgefit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/edgefit/edgefit/predictor"
	"github.com/edgefit/edgefit/supernet"
	"github.com/edgefit/edgefit/supernet/search"
)

// Prediction is what [Predict] says of given subnets; its JSON is what
// 'edgefit predict --json' prints.
type Prediction struct {
	Space          string `json:"space"`
	Predictor      string `json:"predictor,omitempty"` // the latency predictor's file, where it has one
	AccuracySource string `json:"accuracy_source"`
	AccuracyProxy  bool   `json:"accuracy_is_proxy"`
	// MeasuredResolutions are those the latency predictor's table
	// measured, where it knows them.
	MeasuredResolutions []int             `json:"measured_resolutions,omitempty"`
	Subnets             []PredictedSubnet `json:"subnets"`
}

// PredictedSubnet is one subnet [Predict] scored: where its config came
// from, and the estimate, exactly as a search scores it.
type PredictedSubnet struct {
	Source string // such as "subnet.json" or "configs.jsonl#3"
	search.Candidate
	// LatencyExtrapolated reports a resolution beyond those the table
	// measured.
	LatencyExtrapolated bool
}

// MarshalJSON writes the candidate's keys (see [search.Candidate]) with
// "source" and "latency_extrapolated".
func (p PredictedSubnet) MarshalJSON() ([]byte, error) {
	c, err := json.Marshal(p.Candidate)
	if err != nil {
		return nil, err
	}
	head, _ := json.Marshal(struct {
		Source string `json:"source"`
	}{p.Source})
	tail, _ := json.Marshal(struct {
		X bool `json:"latency_extrapolated"`
	}{p.LatencyExtrapolated})
	out := append(head[:len(head)-1:len(head)-1], ',')
	out = append(out, c[1:len(c)-1]...)
	out = append(out, ',')
	return append(out, tail[1:]...), nil
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (p *PredictedSubnet) UnmarshalJSON(b []byte) error {
	var extra struct {
		Source string `json:"source"`
		X      bool   `json:"latency_extrapolated"`
	}
	if err := json.Unmarshal(b, &extra); err != nil {
		return err
	}
	var c search.Candidate
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	*p = PredictedSubnet{Source: extra.Source, Candidate: c, LatencyExtrapolated: extra.X}
	return nil
}

// ConfigSource is a subnet config and where it came from, for [Predict].
type ConfigSource struct {
	Name string // a file name, with "#N" for the Nth of several
	File supernet.ConfigFile
}

// Predict scores subnets with the latency model lat and the accuracy
// source acc (as [AccuracyRequest.Source] names it), the way Select's search scores the
// subnets it visits: the numbers are those 'edgefit select' reports for
// the same config. Each config must fit space (a config file that names
// another space is refused) at any resolution from 32 to 1024; res, when
// not 0, sets every config's resolution (an OFA net.config needs it).
// Bad configs are [*InputError]s.
func Predict(ctx context.Context, space *supernet.Space, lat predictor.LatencyModel, acc string, configs []ConfigSource, res int) (*Prediction, error) {
	if len(configs) == 0 {
		return nil, inputErrorf("no config given: pass --config FILE (one config, JSON lines or a JSON array) or --config - for stdin")
	}
	cfgs := make([]supernet.Config, len(configs))
	var rs []int
	for i, cs := range configs {
		f := cs.File
		if f.Space != nil && f.Space.Name != space.Name {
			return nil, inputErrorf("config %s is for %s, but the latency predictor is for %s: predict it with a predictor fitted for %s", cs.Name, f.Space.Name, space.Name, f.Space.Name)
		}
		if err := applyRes(&f, cs.Name, res); err != nil {
			return nil, err
		}
		wide, err := validateAnyResolution(space, f.Config)
		if err != nil {
			return nil, withHint(&InputError{Err: fmt.Errorf("%s: %w", cs.Name, err)}, configHint(space))
		}
		cfgs[i] = f.Config.Canonical(wide)
		if !slices.Contains(rs, cfgs[i].R) {
			rs = append(rs, cfgs[i].R)
		}
	}
	slices.Sort(rs)
	// The proxy spans the space's resolutions and these: for subnets at
	// the space's own, the scale every search uses.
	am, err := OpenAccuracy(ctx, space, AccuracyRequest{Source: acc, Resolutions: rs}, nil)
	if err != nil {
		return nil, err
	}
	sc, err := scorer(space, lat, am, rs)
	if err != nil {
		return nil, err
	}
	est := make([]predictor.Estimate, len(cfgs))
	sc.Score(cfgs, est)
	p := &Prediction{Space: space.Name, AccuracySource: sc.AccuracySource(), AccuracyProxy: sc.AccuracyIsProxy(),
		MeasuredResolutions: measuredResolutions(lat)}
	for i, c := range cfgs {
		ps := PredictedSubnet{Source: configs[i].Name, Candidate: search.Candidate{Config: c, Estimate: est[i]}}
		ps.LatencyExtrapolated = OutsideMeasured(c.R, p.MeasuredResolutions)
		p.Subnets = append(p.Subnets, ps)
	}
	return p, nil
}
