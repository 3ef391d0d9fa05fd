package predictor

import "github.com/edgefit/edgefit/supernet"

// Estimate is everything the search needs to know about one subnet.
type Estimate struct {
	Accuracy  float64 // predicted top-1, a fraction in [0, 1]
	LatencyMS float64 // predicted latency on the target, milliseconds
	supernet.Costs
}

// LatencyModel predicts the latency of subnets on one device.
type LatencyModel interface {
	// LatencyMS returns the predicted latency of c in milliseconds.
	LatencyMS(c supernet.Config) float64
}

// AccuracyModel predicts the accuracy of subnets. Implementations batch
// their arithmetic, so callers should pass many configs at once.
type AccuracyModel interface {
	// Accuracy writes the predicted accuracy of cfgs[i] to out[i].
	Accuracy(cfgs []supernet.Config, out []float64)
	// Source says where the predictions come from, for reports, for
	// example "OFA tutorial MLP (acc_predictor.pth)" or the documented
	// fallback's name.
	Source() string
}
