//go:build linux

package pin

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

const supported = true

// startCPUs lists, in ascending order, the CPUs in the affinity mask at
// package initialisation, the same mask runtime.NumCPU counted. It is nil if
// the mask could not be read.
var startCPUs = allowedCPUs()

func allowedCPUs() []int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil {
		return nil
	}
	var cpus []int
	for i := range int(unsafe.Sizeof(set)) * 8 {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

// cpuFor maps a non-negative core index to a CPU number.
func cpuFor(core int) int {
	if len(startCPUs) == 0 {
		return core % max(runtime.NumCPU(), 1)
	}
	return startCPUs[core%len(startCPUs)]
}

// pinThread restricts the calling (locked) thread to cpuFor(core) and returns
// a function that restores the previous mask.
func pinThread(core int) (restore func() error, err error) {
	var prev unix.CPUSet
	if err := unix.SchedGetaffinity(0, &prev); err != nil {
		return nil, fmt.Errorf("pin: sched_getaffinity: %w", err)
	}
	cpu := cpuFor(core)
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("pin: sched_setaffinity to CPU %d: %w", cpu, err)
	}
	return func() error { return unix.SchedSetaffinity(0, &prev) }, nil
}
