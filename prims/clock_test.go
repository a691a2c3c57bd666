package prims

import (
	"math"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/substrate-lab/substrate/internal/cacheline"
)

// slack is how far a derived timestamp may stray from time.Now's wall
// reading taken around it: the anchor's read gap (tens of nanoseconds),
// with room for a descheduled goroutine between the reads.
const slack = int64(50 * time.Millisecond)

func TestWallClockTracksTimeNow(t *testing.T) {
	c := newWallClock()
	for i := range 2000 {
		if i%100 == 0 {
			c.next.Store(0) // the deadline passed: anchor again
		}
		before := time.Now().UnixNano()
		got := c.now()
		after := time.Now().UnixNano()
		if got < before-slack || got > after+slack {
			t.Fatalf("call %d: %d not within [%d, %d]", i, got, before, after)
		}
	}
}

func TestWallClockKeepsOffsetUntilDeadline(t *testing.T) {
	c := newWallClock()
	c.now()
	// A wall clock one hour ahead of the monotonic one, as after a step of
	// the system clock: timestamps follow the anchor's offset until the
	// deadline, then the real clock again.
	wall := time.Now().UnixNano()
	c.anchor(wall+int64(time.Hour), int64(time.Since(c.base)))
	c.next.Store(math.MaxInt64) // no deadline, however long this goroutine waits for a CPU
	if got := c.now() - time.Now().UnixNano(); got < int64(time.Hour)-slack || got > int64(time.Hour)+slack {
		t.Fatalf("before the deadline: %v ahead of time.Now, want an hour (the anchored offset)", time.Duration(got))
	}
	c.next.Store(0)
	m0 := int64(time.Since(c.base))
	if got := c.now() - time.Now().UnixNano(); got < -slack || got > slack {
		t.Fatalf("after the deadline: %v from time.Now, want the real clock", time.Duration(got))
	}
	m1 := int64(time.Since(c.base))
	if next := c.next.Load(); next < m0+int64(reanchorEvery) || next > m1+int64(reanchorEvery) {
		t.Fatalf("next anchor at %v, want %v after the anchor (between %v and %v)",
			time.Duration(next), reanchorEvery, time.Duration(m0), time.Duration(m1))
	}
}

func TestWallClockAnchorKeepsTheBetterOffset(t *testing.T) {
	c := newWallClock()
	c.now()
	o := c.offset.Load()
	mono := int64(time.Since(c.base))
	// An estimate a little low is noise: kept out, and the time it
	// returns does not step back.
	if got := c.anchor(mono+o-maxAnchorError/2, mono); got != mono+o || c.offset.Load() != o {
		t.Fatalf("a low estimate within the noise moved the offset: %d -> %d", o, c.offset.Load())
	}
	// A higher one is a better estimate (or a forward step): taken.
	if c.anchor(mono+o+10, mono); c.offset.Load() != o+10 {
		t.Fatalf("a higher estimate was not taken: %d, want %d", c.offset.Load(), o+10)
	}
	// One far lower is the wall clock stepped back: taken.
	if c.anchor(mono+o-int64(time.Second), mono); c.offset.Load() != o-int64(time.Second) {
		t.Fatalf("a step back was not followed: %d, want %d", c.offset.Load(), o-int64(time.Second))
	}
}

func TestWallClockNeverStepsBack(t *testing.T) {
	c := newWallClock()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			last := c.now()
			for i := range 20000 {
				if i%100 == 0 {
					c.next.Store(0) // anchor again, against the other goroutines too
				}
				got := c.now()
				if got < last {
					t.Errorf("call %d: %d after %d (%d ns back)", i, got, last, last-got)
					return
				}
				last = got
			}
		})
	}
	wg.Wait()
}

func TestNowIsPlainWallTime(t *testing.T) {
	ts := now()
	if ts != ts.Round(0) {
		t.Error("now() carries a monotonic reading")
	}
	if ts.Location() != time.Local {
		t.Errorf("now() in %v, want Local", ts.Location())
	}
	if back := time.Unix(0, ts.UnixNano()); back != ts {
		t.Errorf("time.Unix(0, UnixNano) = %#v, want %#v", back, ts)
	}
	if a := testing.AllocsPerRun(1000, func() { _ = now() }); a != 0 {
		t.Errorf("now() allocates %v times per call", a)
	}
}

func TestWallClockConcurrentAnchors(t *testing.T) {
	c := newWallClock()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 5000 {
				if i%50 == 0 {
					c.next.Store(0)
				}
				before := time.Now().UnixNano()
				if got := c.now(); got < before-slack || got > time.Now().UnixNano()+slack {
					t.Errorf("%d not near %d", got, before)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestWallClockLayout(t *testing.T) {
	var c wallClock
	first, end := unsafe.Offsetof(c.base), unsafe.Offsetof(c.next)+unsafe.Sizeof(c.next)
	if first < cacheline.PadSize || unsafe.Sizeof(c)-end < cacheline.PadSize {
		t.Fatalf("clock words at [%d, %d) of %d bytes: want %d bytes of padding on each side",
			first, end, unsafe.Sizeof(c), cacheline.PadSize)
	}
}
