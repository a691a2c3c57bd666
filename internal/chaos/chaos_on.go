//go:build substrate_adversarial

package chaos

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Enabled reports whether this build has the adversarial hooks (the
// substrate_adversarial build tag).
const Enabled = true

// counters maps a point name to its *atomic.Int64 hit count.
var counters sync.Map

// Yield marks a critical point named point: it counts the hit and, chosen at
// random, yields the processor (runtime.Gosched, about one call in two) or,
// about one call in 128, sleeps a few microseconds, which also hands the OS
// thread's core to other threads. The random source is the runtime's
// per-thread generator (math/rand/v2's top-level functions), so Yield takes
// no lock.
func Yield(point string) {
	c, ok := counters.Load(point)
	if !ok {
		c, _ = counters.LoadOrStore(point, new(atomic.Int64))
	}
	c.(*atomic.Int64).Add(1)
	switch r := rand.Uint32(); {
	case r&127 == 0:
		time.Sleep(time.Duration(1+r>>7%20) * time.Microsecond)
	case r&2 == 0:
		runtime.Gosched()
	}
}

// Hits returns how many times each point was reached since the start of the
// process (or the last Reset).
func Hits() map[string]int64 {
	out := map[string]int64{}
	counters.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// Reset clears the hit counts.
func Reset() {
	counters.Range(func(k, _ any) bool {
		counters.Delete(k)
		return true
	})
}
