package scaling

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestRate: bad arguments are errors; a work function's units over the
// workers' own windows come out as a positive rate with one and two pinned
// workers, and a fixed count of units over a known window gives about that
// count per second.
func TestRate(t *testing.T) {
	if _, err := Rate(Registers, 0, time.Millisecond); err == nil {
		t.Error("0 workers: no error")
	}
	if _, err := Rate(Registers, 1, 0); err == nil {
		t.Error("duration 0: no error")
	}
	for _, n := range []int{1, min(2, runtime.NumCPU())} {
		if r, err := Rate(Registers, n, 20*time.Millisecond); err != nil || r <= 0 {
			t.Errorf("Registers on %d workers: rate %g, %v", n, r, err)
		}
	}
	// 1000 units over a window of at least 10 ms (the work waits for stop,
	// set after d): at most 100,000 per second, and more than 0.
	fixed := func(stop *atomic.Bool) uint64 {
		for !stop.Load() {
			time.Sleep(time.Millisecond)
		}
		return 1000
	}
	if r, err := Rate(fixed, 1, 10*time.Millisecond); err != nil || r <= 0 || r > 100_000 {
		t.Errorf("1000 units over >= 10 ms: rate %g, %v", r, err)
	}
}
