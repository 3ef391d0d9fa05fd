//go:build !linux && !android

package bench

import "errors"

func pinThread(cpus []int) error {
	return errors.New("CPU pinning needs Linux or Android")
}

func threadCPUs() ([]int, error) { return nil, errors.New("not supported") }

func resetPeakRSS() {}

func peakRSS() int64 { return 0 }
