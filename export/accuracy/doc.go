// Package accuracy measures how well a subnet classifies the user's own
// images, the way Once-for-All does it: BatchNorm recalibration (OFA's
// set_running_statistics), top-1/top-5 evaluation through ONNX Runtime,
// and the accuracy dataset that accuracy predictors are fitted to (OFA's
// AccuracyDataset).
//
// # Why recalibrate
//
// A supernet's BatchNorm running statistics are a mixture accumulated over
// the many subnets and resolutions sampled in training; they match no one
// subnet. Every OFA flow therefore recomputes them for the subnet at hand
// before it evaluates or deploys it, and so does edgefit: [CalibSet]
// holds a folder of calibration images and [CalibSet.Recalibrate] returns
// the subnet with new statistics, which package export then folds into
// the convolutions.
//
// # Recalibration, exactly as OFA computes it
//
// Images are taken in the order torchvision's ImageFolder lists them (see
// package internal/dataset), the first [CalibOptions].Images of them
// (OFA: 2000), in batches of [CalibOptions].Batch (OFA: 200), the last,
// partial batch included. Each image gets OFA's test transform at the
// subnet's resolution r (package internal/imaging reproduces Pillow and
// torchvision bit for bit). For each batch, the net runs with every
// BatchNorm patched as set_running_statistics patches it: the BatchNorm
// normalizes its input x with the batch's own statistics,
//
//	mean_b = mean of x over N, H and W (per channel)
//	var_b  = mean of (x − mean_b)² over N, H and W (the biased variance)
//	y      = (x − mean_b) / √(var_b + ε) · γ + β
//
// so that every later layer sees batch-normalized inputs, and records
// (mean_b, var_b). After the last batch each BatchNorm's statistics are
// the averages over batches weighted by batch size, as OFA's AverageMeter
// computes them:
//
//	mean = Σ_b n_b·mean_b / Σ_b n_b,    var = Σ_b n_b·var_b / Σ_b n_b
//
// The variance is thus a mean of per-batch variances, not the variance of
// all images pooled: the spread of the batch means is left out, so the
// batch size and the order of the images change the result, as they do in
// OFA. The statistics replace the subnet's running mean and variance
// (num_batches_tracked and the momentum play no part); the affine γ, β
// and ε are the supernet's.
//
// Two engines compute the batch statistics ([Engine]): the default,
// [EngineNative], is edgefit's Go forward pass (package export/native),
// which sums in float64 and fuses the statistics into its kernels; the
// other, [EngineORT], runs the calibration graph of
// [export.CalibrationModel] in ONNX Runtime. The two agree with each other
// and with the plain Go reference ([export.ForwardBatchStats]) to about
// 1e-6, relative, and with upstream OFA's own set_running_statistics on
// the same images to about 1e-6 on the means and 3e-6 on the variances.
//
// # Why not OFA's training transform by default
//
// OFA's RunManager calibrates on a random subset of training images with
// its training transform (random resized crops and flips), and its tutorial
// adds colour jitter. edgefit calibrates with the test transform instead,
// unless [CalibOptions].Augment asks for random crops and flips: the
// statistics are then deterministic (the same folder gives the same model,
// whose metadata records the list of images), and they are those of the
// inputs the deployed model will see, which the test transform produces.
// With Augment the crops and flips follow torchvision's RandomResizedCrop
// (scale 0.08–1, ratio 3/4–4/3) and RandomHorizontalFlip, drawn from a
// generator seeded per image by [CalibOptions].Seed; they cannot be
// torch's random draws.
//
// # Evaluation
//
// [EvalSet.Evaluate] runs an exported model (BatchNorm folded, as the user
// deploys it) with ONNX Runtime on a labelled folder and counts the images
// whose label is the highest logit (top-1) or among the five highest
// (top-5), as OFA's accuracy function does; a logit equal to the label's
// does not push it out. Results do not depend on the batch size.
//
// # Accuracy datasets
//
// [BuildDataset] measures the top-1 accuracy of distinct random subnets
// ([SampleSubnets], drawn as OFA's sample_active_subnet draws them) at
// each resolution, resolution by resolution as OFA does, and writes the
// CSV that edgefit's accuracy predictors are fitted to. Every measurement
// is journaled (package internal/journal) before the next starts, so a run
// killed at any point resumes without measuring anything twice; the
// journal pins the checkpoint, the images and the settings, and refuses to
// be resumed with others. The folders' preprocessed crops are kept in
// memory between measurements at one resolution ([CalibSet.KeepCrops]).
package accuracy
