//go:build !unix

package stress

import "time"

// processCPU is not implemented on this platform: Result.CPUTime stays 0.
func processCPU() (time.Duration, bool) { return 0, false }
