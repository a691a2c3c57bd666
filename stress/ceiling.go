package stress

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/substrate-lab/substrate/internal/cacheline"
	"github.com/substrate-lab/substrate/internal/pin"
)

// ceilingSlot is one Ceiling worker's rate, alone in its 128-byte block so
// that the workers share no line.
type ceilingSlot struct {
	_    cacheline.Pad128
	rate float64 // blocks per second, over the worker's own window
	err  error
	_    cacheline.Pad128
}

// Ceiling measures the scaling this machine gives, right now, to work that
// shares nothing: the x-1worker figure of a disjoint Tier D case if the
// engine added no cost of its own. Steps:
//
//  1. One goroutine pinned to core 0 runs register-only arithmetic
//     (xorshift blocks, no memory traffic) for d and counts its blocks.
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
// What it does not see: the work is one dependent chain of arithmetic,
// bound by latency, so two SMT siblings can each run it at full speed and
// memory is never touched; a slowdown that comes from sharing a core's
// ports or the machine's caches and memory shows in a disjoint case's
// figure and not here.
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
	before, err := ceilingRate(1, d)
	if err != nil {
		return 0, err
	}
	during, err := ceilingRate(workers, d)
	if err != nil {
		return 0, err
	}
	after, err := ceilingRate(1, d)
	if err != nil {
		return 0, err
	}
	return float64(workers) * during / ((before + after) / 2), nil
}

// ceilingRate runs workers pinned goroutines of register-only work for
// about d and returns their mean rate in blocks per second per worker. Each
// worker times its own window: with every processor busy the coordinating
// goroutine may wait for one (until the runtime preempts a worker), so its
// clock would not bound the work.
func ceilingRate(workers int, d time.Duration) (float64, error) {
	slots := make([]ceilingSlot, workers)
	var stop atomic.Bool
	var done sync.WaitGroup
	done.Add(workers)
	for i := range workers {
		go func() {
			defer done.Done()
			unpin, err := pin.Pin(i % runtime.NumCPU())
			defer unpin()
			if err != nil {
				slots[i].err = err
				return
			}
			start := time.Now()
			blocks := registerWork(&stop)
			slots[i].rate = float64(blocks) / time.Since(start).Seconds()
		}()
	}
	time.Sleep(d)
	stop.Store(true) // publishes nothing but the end
	done.Wait()      // orders the slots' writes before the reads below
	var sum float64
	for i := range slots {
		if slots[i].err != nil {
			return 0, slots[i].err
		}
		sum += slots[i].rate
	}
	return sum / float64(workers), nil
}

// registerWork runs blocks of 256 xorshift steps until stop is set and
// returns how many it ran. The state stays in registers; the stop flag is
// read once per block (about 0.5 µs).
func registerWork(stop *atomic.Bool) uint64 {
	x := uint64(88172645463325252)
	var blocks uint64
	for !stop.Load() {
		for range 256 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		blocks++
	}
	return blocks + x&1 // x&1 keeps the loop's result live
}
