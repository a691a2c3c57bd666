package stress

import (
	"fmt"
	"runtime"
	"time"

	"github.com/substrate-lab/substrate/internal/scaling"
)

// Ceiling measures the scaling this machine gives, right now, to work that
// shares nothing: the x-1worker figure of a disjoint Tier D case if the
// engine added no cost of its own. Steps:
//
//  1. One goroutine pinned to core 0 runs register-only arithmetic
//     (scaling.Registers) for d; scaling.Rate gives its rate, over the
//     worker's own window.
//  2. workers goroutines, worker i pinned to core i (modulo the cores, as
//     the contention protocol pins), run the same for d.
//  3. One goroutine again, as in step 1.
//
// It returns workers times the per-worker rate of step 2 over the mean rate
// of steps 1 and 3 (the protocol's one-worker baseline on both sides). On
// cores that are really independent that is about workers (up to the core
// count); less means the machine itself slows a core down when another
// runs: SMT siblings, a shared frequency budget, or a host that gives the
// vCPUs less than a core each (on the project's 2-vCPU VM the same
// register-only loop scaled 1.54-1.65x at 2 goroutines in one phase of the
// host and 1.96x minutes later; docs/BENCHMARKS.md, "The machine's own
// ceiling beside the disjoint cases").
//
// What it does not see (scaling.Registers): the work is one dependent chain
// of arithmetic, bound by latency, so two SMT siblings can each run it at
// full speed and memory is never touched; a slowdown that comes from
// sharing a core's ports or the machine's caches and memory shows in a
// disjoint case's figure and not here.
//
// Ceiling returns an error for workers < 1 or d <= 0, for more workers
// than usable cores (min(GOMAXPROCS, NumCPU)): then the workers share
// processors and the figure would measure the scheduler, not the cores;
// and when pinning fails. It takes about 3*d.
func Ceiling(workers int, d time.Duration) (float64, error) {
	if workers < 1 || d <= 0 {
		return 0, fmt.Errorf("stress: Ceiling(%d, %v): need workers >= 1 and a positive duration", workers, d)
	}
	if cores := min(runtime.GOMAXPROCS(0), runtime.NumCPU()); workers > cores {
		return 0, fmt.Errorf("stress: Ceiling(%d, %v): more workers than usable cores (%d)", workers, d, cores)
	}
	before, err := scaling.Rate(scaling.Registers, 1, d)
	if err != nil {
		return 0, err
	}
	during, err := scaling.Rate(scaling.Registers, workers, d)
	if err != nil {
		return 0, err
	}
	after, err := scaling.Rate(scaling.Registers, 1, d)
	if err != nil {
		return 0, err
	}
	return float64(workers) * during / ((before + after) / 2), nil
}
