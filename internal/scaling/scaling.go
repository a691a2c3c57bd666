// Package scaling measures how fast pinned goroutines run private work, the
// machine's side of every scaling figure: work that shares nothing should
// run as fast per goroutine with N goroutines on N cores as with one, and
// where it does not, the machine (SMT siblings, a shared frequency budget,
// caches and memory, a crowded host) is the limit, not the code measured.
// Used by stress.Ceiling beside the Tier D disjoint cases and by
// internal/tools/scaleprobe.
package scaling

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/substrate-lab/substrate/internal/cacheline"
	"github.com/substrate-lab/substrate/internal/pin"
)

// Work is one kind of private work: it runs until stop is set and returns
// how many units it ran. It must touch nothing another worker touches.
type Work func(stop *atomic.Bool) uint64

// slot is one worker's result, alone in its 128-byte block so that the
// workers share no line.
type slot struct {
	_    cacheline.Pad128
	rate float64 // units per second, over the worker's own window
	err  error
	_    cacheline.Pad128
}

// Rate runs work on workers goroutines, worker w pinned to core w (pin.Pin:
// modulo the cores the process may use), for about d, and returns their
// mean rate in units per second per worker.
//
// Each worker times its own window, from its first unit to the end of its
// last: with every processor busy the coordinating goroutine may wait for
// one (until the runtime preempts a worker) before it can set stop, so d
// does not bound the work. With more workers than usable cores the workers
// share processors and the figure measures the scheduler, not the cores.
//
// It returns an error for workers < 1 or d <= 0, or when pinning fails.
func Rate(work Work, workers int, d time.Duration) (float64, error) {
	if workers < 1 || d <= 0 {
		return 0, fmt.Errorf("scaling: Rate(%d workers, %v): need workers >= 1 and a positive duration", workers, d)
	}
	slots := make([]slot, workers)
	var stop atomic.Bool
	var done sync.WaitGroup
	done.Add(workers)
	for w := range workers {
		go func() {
			defer done.Done()
			unpin, err := pin.Pin(w)
			defer unpin()
			if err != nil {
				slots[w].err = err
				return
			}
			start := time.Now()
			units := work(&stop)
			slots[w].rate = float64(units) / time.Since(start).Seconds()
		}()
	}
	time.Sleep(d)
	stop.Store(true) // publishes nothing but the end
	done.Wait()      // orders the slots' writes before the reads below
	var sum float64
	for w := range slots {
		if slots[w].err != nil {
			return 0, slots[w].err
		}
		sum += slots[w].rate
	}
	return sum / float64(workers), nil
}

// Registers is register-only work: blocks of 256 xorshift steps, the stop
// flag read once per block (about 0.5 µs). It is one dependent chain, bound
// by latency, so two SMT siblings can each run it at full speed and memory
// is never touched: it shows a slower or shared-out core, not contention
// for a core's ports or for caches and memory.
func Registers(stop *atomic.Bool) uint64 {
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
