package prims

import (
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
	if got := c.now() - time.Now().UnixNano(); got < int64(time.Hour)-slack || got > int64(time.Hour)+slack {
		t.Fatalf("before the deadline: %v ahead of time.Now, want an hour (the anchored offset)", time.Duration(got))
	}
	c.next.Store(0)
	if got := c.now() - time.Now().UnixNano(); got < -slack || got > slack {
		t.Fatalf("after the deadline: %v from time.Now, want the real clock", time.Duration(got))
	}
	if d := c.next.Load() - int64(time.Since(c.base)); d <= 0 || d > int64(reanchorEvery) {
		t.Fatalf("next anchor in %v, want within %v", time.Duration(d), reanchorEvery)
	}
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
