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
// alike, so between anchors the two do not drift apart. An offset is
// estimated from a wall reading bracketed by monotonic ones, and errs
// only low, by at most the bracket (about 90 ns here), so timestamps may
// trail the wall clock by that much; they never step back at an anchor.
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
	// offset is wall - mono as of the last anchor that changed it: Unix
	// nanoseconds minus nanoseconds since base. It only grows, except
	// when the wall clock is stepped back (see anchor).
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

// maxAnchorError bounds an anchor's error: a wall reading whose bracket
// of monotonic reads (see reanchor) is wider than this is taken again, and
// a new offset at most this far below the current one is noise, not a step
// of the wall clock. A bracket here is about 90 ns (30 ns time.Since, 56 ns
// time.Now); 50 µs leaves room for slow clock sources and still ignores no
// step of the wall clock that matters.
const maxAnchorError = int64(50 * time.Microsecond)

// now returns the wall-clock time in Unix nanoseconds. Successive calls
// never go back, except when the wall clock itself is stepped back by
// more than maxAnchorError (then they follow it, as time.Now would).
func (c *wallClock) now() int64 {
	mono := int64(time.Since(c.base)) // the one clock read
	if mono < c.next.Load() {
		return mono + c.offset.Load()
	}
	return c.reanchor()
}

// reanchor takes a new offset and returns the time now.
//
//  1. Read the wall clock between two monotonic reads: m0, then
//     time.Now, whose own monotonic reading m1 follows its wall reading.
//     The wall reading was taken at a monotonic time in [m0, m1], so the
//     estimate wall-m1 is at most m1-m0 below the true offset and never
//     above it. A bracket wider than maxAnchorError (the goroutine was
//     descheduled between the reads) is read again, up to three times.
//  2. anchor the estimate.
func (c *wallClock) reanchor() int64 {
	var wall, mono int64
	for range 4 {
		m0 := int64(time.Since(c.base))
		t := time.Now()
		wall, mono = t.UnixNano(), int64(t.Sub(c.base))
		if mono-m0 <= maxAnchorError {
			break
		}
	}
	return c.anchor(wall, mono)
}

// anchor adopts wall-mono as the offset (a wall reading and the monotonic
// offset from base of the same instant), sets the next deadline, and
// returns the time at mono.
//
//  1. Keep the current offset if the new one is below it by at most
//     maxAnchorError: estimates err only low (reanchor step 1), so the
//     higher one is the better, and keeping it keeps timestamps from
//     stepping back by the noise. Otherwise (the first anchor, a later
//     and better estimate, or the wall clock stepped) CAS the new one in;
//     a failed CAS means another anchor stored first: judge against its
//     offset again.
//  2. Store the deadline.
func (c *wallClock) anchor(wall, mono int64) int64 {
	e := wall - mono
	for {
		o := c.offset.Load()
		if e <= o && o-e <= maxAnchorError || c.offset.CompareAndSwap(o, e) { // publishes e
			break
		}
	}
	c.next.Store(mono + int64(reanchorEvery)) // the deadline the offset is good until
	return mono + c.offset.Load()
}

// now is the wall-clock time without a monotonic reading, so timestamps
// compare, hash and print plainly: time.Unix(0, ns), the Local time that
// time.Now().Round(0) would give (same wall, ext and location), which
// is also what an event's stored Unix nanoseconds rebuild exactly.
func now() time.Time { return time.Unix(0, clock.now()) }
