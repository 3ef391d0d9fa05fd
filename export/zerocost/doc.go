// Package zerocost owns edgefit's zero-cost accuracy proxy: the NASWOT
// score of Mellor et al., "Neural Architecture Search without Training"
// (ICML 2021), computed for OFA MobileNetV3 subnets on a minibatch of the
// user's images or a seeded synthetic one.
//
// # The score
//
// A network with ReLU-like activations cuts its input space into linear
// regions; each image falls in one, named by the binary code of which
// units are active. NASWOT scores a network at initialization by how well
// those codes tell a batch of images apart. For n images with codes c_i
// over the N units of the network,
//
//	K_ij = c_i·c_j + (1−c_i)·(1−c_j) = N − hamming(c_i, c_j)
//
// and the score is log |det K|: near its bound n·log N when images are
// coded very differently, low when they are coded alike.
//
// The units here are every element of the input of every ReLU and
// h_swish of the subnet (export.CodeLayers): the first conv, each block's
// expand and depthwise activations, the ReLU inside each
// squeeze-and-excitation (as a PyTorch hook on every ReLU module would see
// it), the final expand and the feature mix. A unit's code is 1 where its
// activation's input is positive (for h_swish, exactly where its output
// is). BatchNorm normalizes with the batch's own statistics, as a freshly
// built PyTorch module does in training mode, the mode NASWOT's code
// scores in.
//
// # Computing it
//
// [Model] extracts each subnet from a checkpoint, or initializes it with
// seeded untrained weights (supernet.Init; NASWOT's own setting), runs the
// batch once through the native engine (native.Calibrator's
// ActivationCodes), which compares each raw convolution output with an
// exact per-channel threshold and packs the codes 64 to a word, and counts
// K exactly in integers with popcounts ([Kernel]). The log-determinant is
// a float64 Cholesky factorization of K/N + Ridge·I, with n·log N added
// back: K is positive semi-definite, and singular when two images get the
// same codes, so the ridge (1e-6, see [Ridge]) keeps every score finite,
// above [Floor]. Scores are cached by config. The images are preprocessed
// once per resolution with OFA's test transform ([Images]).
//
// The cost is one forward pass of n images per subnet, plus the codes and
// the popcounts (n(n−1)/2 pairs over N/64 words: 2016 pairs over about
// 180,000 words for the largest w1.2 subnet at 224). BenchmarkScore224
// measured, for 64 images at 224 on two cores of a shared Xeon (AVX-512),
// 0.88 s (1.56 CPU-s) for the mid w1.0 subnet (kernel 5, expand 4, depth
// 3) and 2.7 s (4.7 CPU-s) for the largest w1.2 subnet, within 10% of
// the forward pass alone; the engine's buffers pass from subnet to
// subnet, so that only the first allocates them.
//
// # How well it ranks OFA's subnets
//
// Against OFA's tutorial accuracy predictor, on 100 random w1.2 subnets
// at 160 to 224 (edgefit predictor correlate, seed 1), the score at
// untrained initialization had Spearman's ρ 0.82 and Kendall's τ 0.61 on
// the synthetic batch and ρ 0.83 on 64 generated pictures read from
// files, below the MACs count's ρ 0.92 against the same predictions. The
// n·log N term dominates: the unit count alone has ρ 0.83, and the part
// that measures how the images are told apart, log det(K/N), only 0.26 to
// 0.34 (two initialization seeds). On these spaces the proxy therefore
// ranks mostly by size; 'edgefit predictor correlate' shows how it does on
// the user's own images and weights.
//
// # As an accuracy source
//
// [Model] implements predictor.AccuracyModel without importing it: its
// Accuracy is the score normalized to [0, 1] ([Model.Normalize]), its
// Source starts with [SourcePrefix] ("PROXY, not an accuracy: …") and says
// which weights and images were used, and AccuracyIsProxy reports true, so
// that every table, report and plot labels it a proxy.
//
// Package zerocost imports supernet, export and its subpackages, and
// leaf helpers under internal/ only.
package zerocost
