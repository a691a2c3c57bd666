package stress

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/substrate-lab/substrate/internal/cacheline"
	"github.com/substrate-lab/substrate/internal/pin"
)

// ErrOneCore is returned by Handoff when the process cannot run two
// goroutines at once (GOMAXPROCS or the CPU count is 1): there is no second
// core to hand a line to.
var ErrOneCore = errors.New("stress: core handoff needs two cores and GOMAXPROCS >= 2")

// handoffWord is the line the two sides of Handoff pass back and forth,
// alone in its 128-byte block.
type handoffWord struct {
	_ cacheline.Pad128
	v atomic.Int64
	_ cacheline.Pad128
}

// Handoff measures how long this machine takes to hand one cache line from
// core a to core b: two goroutines, pinned to a and b (pin.Pin; unpinned
// where pinning is not supported), take turns writing one padded atomic
// word, each waiting (spinning on loads) for the other's write before its
// own. It returns the mean time per one-way handoff over rounds round trips.
//
// It is the baseline of the same-key contention figures: a transaction on
// a key last written from another core must first fetch that key's lines
// (record, lock word, newest version), so when the handoff costs as much as
// a whole single-threaded transaction, same-key throughput with workers on
// two cores cannot approach one worker's, whatever the engine does. On the
// project's 2-vCPU VM it measured 233-290 ns or 40-74 ns depending on where
// the hypervisor placed the vCPUs at the time (docs/BENCHMARKS.md); on a
// CPU with SMT siblings it is tens of nanoseconds.
//
// Handoff returns ErrOneCore when runtime.GOMAXPROCS(0) or runtime.NumCPU()
// is below 2, and an error for rounds < 1 or a < 0 or b < 0. A spinning
// side yields every 64k loads, so a descheduled partner slows the figure
// down but cannot hang it.
func Handoff(a, b, rounds int) (time.Duration, error) {
	if runtime.GOMAXPROCS(0) < 2 || runtime.NumCPU() < 2 {
		return 0, ErrOneCore
	}
	if rounds < 1 || a < 0 || b < 0 {
		return 0, fmt.Errorf("stress: Handoff(%d, %d, %d): cores must be >= 0 and rounds >= 1", a, b, rounds)
	}
	w := new(handoffWord)
	var wg sync.WaitGroup
	var pinErr error
	ready := make(chan struct{})
	wg.Add(1)
	go func() { // side b: answers odd values
		defer wg.Done()
		unpin, err := pin.Pin(b)
		defer unpin()
		if err != nil {
			pinErr = err
			close(ready)
			w.v.Store(-1) // tells side a to stop
			return
		}
		close(ready)
		for i := int64(1); i < 2*int64(rounds); i += 2 {
			if !awaitWord(&w.v, i) {
				return
			}
			w.v.Store(i + 1) // publishes nothing but the turn
		}
	}()
	unpin, err := pin.Pin(a)
	defer unpin()
	<-ready
	if err != nil || pinErr != nil {
		w.v.Store(-1)
		wg.Wait()
		return 0, errors.Join(err, pinErr)
	}
	start := time.Now()
	for i := int64(0); i < 2*int64(rounds); i += 2 {
		if !awaitWord(&w.v, i) {
			break
		}
		w.v.Store(i + 1) // publishes nothing but the turn
	}
	awaitWord(&w.v, 2*int64(rounds))
	el := time.Since(start)
	wg.Wait()
	return el / time.Duration(2*rounds), nil
}

// awaitWord spins until v holds want (true) or -1 (false, the partner gave
// up), yielding every 64k loads.
func awaitWord(v *atomic.Int64, want int64) bool {
	for n := 1; ; n++ {
		switch v.Load() {
		case want:
			return true
		case -1:
			return false
		}
		if n%(1<<16) == 0 {
			runtime.Gosched()
		}
	}
}
