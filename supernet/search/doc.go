// Package search finds the subnet of an OFA MobileNetV3 supernet that a
// [Scorer] predicts to be most accurate while it meets every limit a user
// sets: predicted latency, peak memory, parameters and MACs (any subset).
//
// # Methods
//
// [Run] with Method "evolution" is OFA's regularized evolution (population
// 100, the best quarter kept as parents, half of the children mutated with
// OFA's per-block and per-stage probabilities, half crossed over element
// by element) with changes that make it terminate and make it fast:
//
//   - Infeasible children are repaired, not resampled forever: each repair
//     step moves one element (a stage depth, a block's kernel or expand
//     ratio, the resolution) one choice toward a subnet known to meet the
//     limits, so repair ends after a bounded number of steps.
//   - Children then grow: random one-choice increases are kept while the
//     subnet still meets the limits, so every child uses its budget.
//   - A subnet is scored once: children that repeat a scored subnet are
//     redrawn.
//   - Screening: three children are bred for each one scored, and a ridge
//     regression on one-hot features of every subnet scored so far picks
//     most of the ones to score (a fifth are drawn at random). Limits
//     are checked with the scorer's cheap path ([CostScorer],
//     [LatencyScorer]), so accuracy predictions go to promising,
//     feasible subnets only.
//   - The best subnet of each resolution stays among the parents: a
//     change of resolution needs a few generations of tuning before it
//     can compete, and would otherwise die at once.
//   - The search stops when the best has not improved for Patience
//     generations, and the best subnet is then polished by a linearized
//     knapsack local search over its blocks' kernels and expand ratios
//     (see polish.go).
//
// With OFA's tutorial accuracy predictor and Note10 lookup tables this
// beats the accuracy OFA's 500-generation search reaches at every latency
// budget from 15 to 50 ms with about a tenth of its predictions.
//
// Method "random" draws uniform subnets, repaired the same way but neither
// grown nor screened, Population per generation: a baseline.
//
// Method "rl" is the reinforcement-learning strategy of NAS-RL and ENAS:
// an LSTM controller (hidden size 64) emits, in order, the resolution, each
// stage's depth and each active block's kernel size and expand ratio,
// each drawn from a softmax over a linear head per decision type, with
// the previous choice fed back as an embedding (plus an embedding of the
// decision's slot, so that the controller tells block 5 from block 9; see
// controller.go). Inactive blocks are not emitted. It is trained with
// REINFORCE and Adam, forward and backward through time written out in
// float64 (gradient-checked against finite differences):
//
//   - The reward of a subnet that meets every limit is its predicted
//     accuracy. One that misses gets b − λ·Σ_m max(0, x_m/L_m − 1), the
//     baseline b minus λ (0.1) times its summed relative excess over the
//     limits L_m: never more than an average sample, and less the further
//     it misses. Misses are found on the scorer's cheap cost path and cost
//     no accuracy prediction; repeats reuse their first score.
//   - The baseline b is a moving average of the rewards (decay 0.9), and
//     advantages are divided by the moving root-mean-square deviation
//     from it, which takes the current batch in, so that the entropy
//     bonus (0.1 per unit of that spread) weighs the same whether the
//     rewards are penalties or accuracies a few tenths of a point apart.
//   - Each update draws 20 subnets; a generation is Population samples,
//     and Generations, Patience and MaxPredictions bound the run as they
//     bound the other methods.
//
// The controller neither repairs, grows nor polishes its subnets: what it
// finds is what it learned to sample. With OFA's tutorial predictor and
// the Note10 tables it beats random search at equal predictions at every
// budget from 15 to 50 ms, in every seed, but falls 0.16 to 0.37 points
// of predicted accuracy behind the evolution at every budget, and its
// search takes seconds instead of a fraction of one (see
// BenchmarkCompareNote10 and the README's table).
//
// Every method counts accuracy predictions the same way (Stats.Scored:
// distinct subnets passed to Score), can be capped by
// Options.MaxPredictions, and returns the same [Result]: the top list, the
// Pareto front of the phase that follows, and a Trace of the best accuracy
// against the predictions made.
//
// With Options.Pareto, Run also returns the Pareto front of accuracy
// against latency (and peak memory with Options.ParetoMemory) among the
// subnets that meet the limits. After the accuracy search, an NSGA-II
// style evolution (non-dominated sorting, crowding distance, binary
// tournaments; children repaired but not grown, so they keep their
// sizes) runs until the area under the front stops growing; every subnet
// either search scored feeds a non-dominated archive, which is the front.
// [WriteFrontJSON], [WriteFrontCSV] and [PlotFront] write and draw it.
//
// # Infeasible limits
//
// When no subnet meets the limits, Run returns an [*InfeasibleError] that
// names, for every limit set, the smallest value reachable while meeting
// the other limits, so that the user knows how far to relax. MACs,
// parameters and memory grow with every choice (kernel, expand ratio,
// depth, resolution), so the smallest subnet at the smallest resolution
// minimizes them exactly. Latency is minimized by coordinate descent at
// each resolution, which is exact when latency is a sum of per-layer
// costs, as a lookup table predicts it.
//
// # Determinism
//
// A run is a function of its seed. Each child of each generation is made
// (drawn, repaired, grown) from its own random stream, derived from the
// seed, the generation and the child's index, so children can be made on
// all cores; siblings are then deduplicated in index order, and the
// scorer, which must give the same estimate for a subnet in any batch,
// scores batches split across cores. Neither GOMAXPROCS nor scheduling
// changes the result. The rl controller samples each subnet of an update
// from its own stream in the same way, and sums its gradient over fixed
// chunks of the batch in index order, so its training is as independent
// of scheduling. (Its floating-point arithmetic uses the math package's
// exp, log and tanh, whose last bits may differ between architectures.)
//
// # Units
//
// [ParseLatency], [ParseBytes] and [ParseCount] read the limits a user
// types ("20ms", "40MB", "300M"). Byte units are SI (1 MB = 10^6 bytes)
// unless binary ones are named (1 MiB = 2^20 bytes).
//
// The package imports predictor, supernet, the LUT format (profiler/lut,
// profiler/timing) and internal helpers only, and no cgo: a search never
// links the measuring engine.
package search
