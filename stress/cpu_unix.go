//go:build unix

package stress

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) the whole process has
// consumed so far, from getrusage(RUSAGE_SELF); ok is false if it failed.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
