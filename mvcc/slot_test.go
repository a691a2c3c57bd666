package mvcc

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestTryAcquireTakesTheSlot(t *testing.T) {
	d := NewDomain()
	s := d.NewSharedSlot()
	defer s.Close()
	if s.Active() {
		t.Fatal("a new shared slot is active")
	}
	snap, gen, ok := s.TryAcquire()
	if !ok || !s.Active() || gen != s.Generation() || gen&1 != 1 {
		t.Fatalf("TryAcquire = %d, %d, %v; active %v, generation %d", snap, gen, ok, s.Active(), s.Generation())
	}
	if _, _, ok := s.TryAcquire(); ok {
		t.Fatal("a second TryAcquire took a held slot")
	}
	if st := d.Stats(); st.ActiveSnapshots != 1 || st.OldestSnapshot != snap {
		t.Fatalf("held shared slot: %+v, want one active snapshot %d", st, snap)
	}
	s.Release()
	if s.Active() || s.Generation() != gen+1 {
		t.Fatalf("after Release: active %v, generation %d (held at %d)", s.Active(), s.Generation(), gen)
	}
	_, gen2, ok := s.TryAcquire()
	if !ok || gen2 != gen+2 {
		t.Fatalf("TryAcquire after Release = %d, %v; want generation %d", gen2, ok, gen+2)
	}
	s.Release()
}

// TestTryAcquireNeedsAnnouncement: a slot that never announced a snapshot
// has no lower bound in w, so TryAcquire must refuse it rather than
// announce an unbounded snapshot.
func TestTryAcquireNeedsAnnouncement(t *testing.T) {
	d := NewDomain()
	s := d.NewSlot()
	defer s.Close()
	if _, _, ok := s.TryAcquire(); ok || s.Active() {
		t.Fatalf("TryAcquire took a slot that never announced (active %v)", s.Active())
	}
	s.Acquire()
	s.Release()
	if _, _, ok := s.TryAcquire(); !ok {
		t.Fatal("TryAcquire refused an announced idle slot")
	}
	s.Release()
}

func TestSharedSlotsTakeTheHighestIndex(t *testing.T) {
	d := NewDomain()
	a, b := d.NewSharedSlot(), d.NewSlot()
	c := d.NewSharedSlot()
	defer a.Close()
	defer b.Close()
	defer c.Close()
	if a.Index() != NumSlots-1 || c.Index() != NumSlots-2 || b.Index() != 0 {
		t.Fatalf("indexes shared %d, %d, owned %d; want %d, %d, 0", a.Index(), c.Index(), b.Index(), NumSlots-1, NumSlots-2)
	}
}

// TestSharedSlotHoldsTheWatermark: a snapshot taken through TryAcquire
// holds the watermark like an owner's, and its Release lets it go.
func TestSharedSlotHoldsTheWatermark(t *testing.T) {
	d := NewDomain()
	s := d.NewSharedSlot()
	defer s.Close()
	for range 3 {
		d.NextVersion()
	}
	snap, _, ok := s.TryAcquire()
	if !ok {
		t.Fatal("TryAcquire failed")
	}
	for range 5 {
		d.NextVersion()
		d.Advance()
	}
	if w := d.RefreshWatermark(); w > snap {
		t.Fatalf("watermark %d passed the held shared snapshot %d", w, snap)
	}
	s.Release()
	if w := d.RefreshWatermark(); w <= snap {
		t.Fatalf("watermark %d still at the released snapshot %d", w, snap)
	}
}

// TestSharedSlotTurns: goroutines take turns on one shared slot. Each
// holder writes plain (non-atomic) state of the turn, which the race
// detector checks is ordered by TryAcquire and Release, and every
// holder's snapshot is at least its predecessor's (the announcement left
// in the slot stays a lower bound).
func TestSharedSlotTurns(t *testing.T) {
	d := NewDomain()
	s := d.NewSharedSlot()
	defer s.Close()
	var (
		turns    int    // written only by the holder
		lastSnap uint64 // the previous holder's snapshot
		bad      atomic.Int64
		taken    atomic.Int64
		wg       sync.WaitGroup
	)
	per := 2000
	if testing.Short() || raceEnabled {
		per = 300
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; {
				snap, gen, ok := s.TryAcquire()
				if !ok {
					if w == 0 {
						d.NextVersion() // move the clock meanwhile
					}
					continue
				}
				if snap < lastSnap || gen != s.Generation() {
					bad.Add(1)
				}
				lastSnap = snap
				turns++
				i++
				taken.Add(1)
				s.Release()
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d turns saw a snapshot below the previous holder's or a moved generation", bad.Load())
	}
	if int64(turns) != taken.Load() || turns != 4*per {
		t.Fatalf("turns %d, taken %d, want %d: two holders at once", turns, taken.Load(), 4*per)
	}
}
