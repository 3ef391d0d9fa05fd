// Package native is a pure Go (plus amd64 assembly) engine for the
// batch-statistics forward pass of OFA MobileNetV3 subnets, the work of
// BatchNorm recalibration.
package native
