package supernet

// Costs are the exact, weight-independent costs of one subnet at its
// resolution, for batch 1 and float32. See [Space.Costs] for the
// definitions.
type Costs struct {
	MACs        int64 // multiply-accumulates as OFA counts them
	Params      int64 // parameters as ofa.utils.profile counts them
	WeightBytes int64 // bytes of the exported float32 weights (BN folded)
	PeakMemory  int64 // bytes: weights plus the largest set of live activations
}
