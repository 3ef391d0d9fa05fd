package native

func bestKernels() *kernelSet { return goKernels }

func kernelSets() []*kernelSet { return []*kernelSet{goKernels} }
