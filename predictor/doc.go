// Package predictor estimates what a subnet will cost and how well it will
// do before it is ever built: latency on one device from a profiled lookup
// table plus regression and whole-network calibration, accuracy from OFA's
// MLP predictors or from a user's samples, and the exact memory, parameter
// and MAC counts of the supernet package.
package predictor
