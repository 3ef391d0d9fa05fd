// Package accuracy measures how well a subnet classifies the user's own
// images, the way OFA does it: BatchNorm recalibration
// (set_running_statistics), top-1/top-5 evaluation through ONNX Runtime,
// and the accuracy dataset that accuracy predictors are fitted to.
package accuracy
