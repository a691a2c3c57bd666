package prims

import (
	"sync/atomic"
	"time"

	"github.com/substrate-lab/substrate/internal/cacheline"
)

// wallClock hands out wall-clock timestamps (Unix nanoseconds, no
// monotonic reading) for one read of the monotonic clock each, where
// time.Now reads two clocks (the wall clock and the monotonic one) and
// Round(0) then drops the second. It keeps the wall clock's offset from
// the monotonic clock, taken from a full time.Now reading, and takes it
// again every reanchorEvery of monotonic time; the same scheme as the
// vDSO's and the kernel's own timekeeping, one level up.
//
// What it gives up: a step of the system's wall clock (settimeofday, an
// NTP step) shows up to reanchorEvery late, and the time a suspended
// machine slept (which the wall clock counts and the monotonic clock does
// not) likewise. Rate corrections (NTP slewing) apply to both clocks
// alike, so between anchors the two do not drift apart. An anchor's offset
// is off by the gap between time.Now's two reads (wall first, then
// monotonic: tens of nanoseconds), so timestamps may trail the wall clock
// by that much.
//
// Why: every transaction that writes a timestamp (state cells, events,
// traces, runs) reads the clock once (Tx.now). On the 2-core VM
// (clocksource kvm-clock, not served by the vDSO's fast path) time.Now
// costs 56 ns and time.Since 30 ns; time.runtimeNow was 15% of
// statecell_cas's profile (docs/BENCHMARKS.md "One clock read per
// timestamp"). On a TSC clocksource both are a few nanoseconds.
//
// Safe for concurrent use; lock-free and allocation-free. Create it with
// newWallClock (the zero value has no monotonic base).
type wallClock struct {
	// The words below are read by every timestamped transaction on every
	// core and written once per reanchorEvery: padded on both sides so
	// that no object the allocator places next to the clock (a counter
	// written per operation, say) shares their lines (TestWallClockLayout).
	_ cacheline.Pad128
	// base is the reading that monotonic offsets are measured from; set
	// once, by newWallClock, before the clock is shared.
	base time.Time
	// offset is wall - mono at the last anchor: Unix nanoseconds minus
	// nanoseconds since base. Each Store publishes a complete offset;
	// concurrent anchors store offsets of the same two clocks, each valid.
	offset atomic.Int64
	// next is the monotonic offset (from base) at which to anchor again;
	// 0 until the first anchor.
	next atomic.Int64
	_    cacheline.Pad128
}

// reanchorEvery bounds how late a step of the wall clock is seen. One
// time.Now per 100 ms is nothing next to the ~26 ns saved per timestamp.
const reanchorEvery = 100 * time.Millisecond

// newWallClock returns a clock that anchors on its first call.
func newWallClock() *wallClock { return &wallClock{base: time.Now()} }

// clock is the process's timestamp source (see now).
var clock = newWallClock()

// now returns the wall-clock time in Unix nanoseconds.
func (c *wallClock) now() int64 {
	mono := int64(time.Since(c.base)) // the one clock read
	if mono < c.next.Load() {
		return mono + c.offset.Load()
	}
	t := time.Now()
	return c.anchor(t.UnixNano(), int64(t.Sub(c.base)))
}

// anchor sets the offset from a wall reading and the monotonic offset of
// the same instant, and returns the wall reading.
func (c *wallClock) anchor(wall, mono int64) int64 {
	c.offset.Store(wall - mono)               // publishes the new offset
	c.next.Store(mono + int64(reanchorEvery)) // then the deadline it is good until
	return wall
}

// now is the wall-clock time without a monotonic reading, so timestamps
// compare, hash and print plainly: time.Unix(0, ns), the Local time that
// time.Now().Round(0) would give (same wall, ext and location), which
// is also what an event's stored Unix nanoseconds rebuild exactly.
func now() time.Time { return time.Unix(0, clock.now()) }
