//go:build !amd64

package native

// bestKernels returns the portable kernels: only amd64 has assembly.
func bestKernels() *kernelSet { return goKernels }

// kernelSets returns every kernel set this machine can run.
func kernelSets() []*kernelSet { return []*kernelSet{goKernels} }
