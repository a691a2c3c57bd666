package mvcc

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestSnapshotAcquireRelease(t *testing.T) {
	d := NewDomain()
	s := d.NewSlot()
	defer s.Close()
	if got := s.Acquire(); got != 0 {
		t.Fatalf("first snapshot = %d, want 0", got)
	}
	if !s.Active() {
		t.Fatal("slot not active after Acquire")
	}
	s.Release()
	if s.Active() {
		t.Fatal("slot active after Release")
	}
	for range 3 {
		d.NextVersion()
	}
	if got := s.Acquire(); got != 3 {
		t.Fatalf("snapshot after 3 commits = %d, want 3", got)
	}
	if got := d.RefreshWatermark(); got != 3 {
		t.Fatalf("watermark = %d, want 3", got)
	}
	s.Release()
	if d.Now() != 3 || d.Epoch() != 3 {
		t.Fatalf("Now/Epoch = %d/%d, want 3", d.Now(), d.Epoch())
	}
}

func TestWatermarkIsMinOfActiveSnapshots(t *testing.T) {
	d := NewDomain()
	a, b, c := d.NewSlot(), d.NewSlot(), d.NewSlot()
	d.NextVersion()
	d.NextVersion() // clock 2
	sa := a.Acquire()
	d.NextVersion()
	d.NextVersion() // clock 4
	sb := b.Acquire()
	d.NextVersion() // clock 5
	if sa != 2 || sb != 4 {
		t.Fatalf("snapshots %d, %d; want 2, 4", sa, sb)
	}
	if got := d.RefreshWatermark(); got != 2 {
		t.Fatalf("watermark = %d, want 2 (oldest snapshot)", got)
	}
	if d.Safe() != 2 || d.Watermark() != 2 {
		t.Fatalf("Safe/Watermark = %d/%d, want 2", d.Safe(), d.Watermark())
	}
	st := d.Stats()
	if st.ActiveSnapshots != 2 || st.OldestSnapshot != 2 || st.OldestSnapshotAge != 3 || st.SlotsInUse != 3 {
		t.Fatalf("stats = %+v", st)
	}
	a.Release()
	if got := d.RefreshWatermark(); got != 4 {
		t.Fatalf("watermark after releasing the oldest = %d, want 4", got)
	}
	b.Release()
	if got := d.RefreshWatermark(); got != 5 {
		t.Fatalf("watermark with no snapshot = %d, want the clock 5", got)
	}
	// Monotone: a snapshot begun now cannot pull the cached value back.
	if sc := c.Acquire(); sc != 5 || d.RefreshWatermark() != 5 {
		t.Fatalf("snapshot %d, watermark %d", sc, d.Watermark())
	}
	c.Release()
	a.Close()
	b.Close()
	c.Close()
	if st := d.Stats(); st.SlotsInUse != 0 || st.ActiveSnapshots != 0 {
		t.Fatalf("stats after closing = %+v", st)
	}
}

// TestOverflowSlots exhausts the fixed slots: further participants get
// overflow slots, never block or fail, and their snapshots hold the
// watermark like fixed ones. Closed overflow slots are reused.
func TestOverflowSlots(t *testing.T) {
	d := NewDomain()
	fixed := make([]Slot, NumSlots)
	for i := range fixed {
		fixed[i] = d.NewSlot()
		if fixed[i].Overflow() || fixed[i].Index() != i {
			t.Fatalf("slot %d: overflow=%v index=%d", i, fixed[i].Overflow(), fixed[i].Index())
		}
	}
	o1 := d.NewSlot()
	o2 := d.NewSlot()
	if !o1.Overflow() || !o2.Overflow() || o1.Index() != -1 {
		t.Fatal("expected overflow slots once the fixed ones are taken")
	}
	d.NextVersion()
	s := o2.Acquire() // 1
	d.NextVersion()
	d.NextVersion()
	if got := d.RefreshWatermark(); got != s {
		t.Fatalf("watermark = %d, want the overflow snapshot %d", got, s)
	}
	st := d.Stats()
	if st.OverflowSlots != 2 || st.SlotsInUse != NumSlots || st.ActiveSnapshots != 1 || st.OldestSnapshot != 1 {
		t.Fatalf("stats = %+v", st)
	}
	o2.Release()
	if got := d.RefreshWatermark(); got != 3 {
		t.Fatalf("watermark after release = %d, want 3", got)
	}
	o1.Close()
	o3 := d.NewSlot() // reuses o1's node
	if !o3.Overflow() || d.Stats().OverflowSlots != 2 {
		t.Fatalf("closed overflow slot not reused: overflow slots = %d", d.Stats().OverflowSlots)
	}
	fixed[7].Close()
	if f := d.NewSlot(); f.Overflow() || f.Index() != 7 {
		t.Fatalf("freed fixed slot not reused: overflow=%v index=%d", f.Overflow(), f.Index())
	}
	o3.Close()
	o2.Close()
}

// TestWatermarkNeverPassesActiveSnapshot races snapshot acquisition against
// committers and watermark scans: while a snapshot S is active, no
// watermark computed anywhere may exceed S (that is what protects the
// versions S needs).
func TestWatermarkNeverPassesActiveSnapshot(t *testing.T) {
	d := NewDomain()
	iters := 20000
	if testing.Short() || raceEnabled {
		iters = 3000
	}
	var stop atomic.Bool
	committer := make(chan struct{})
	go func() { // committers and GC
		defer close(committer)
		for !stop.Load() {
			d.NextVersion()
			d.RefreshWatermark()
		}
	}()
	var bad atomic.Int64
	var readers sync.WaitGroup
	for g := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s := d.NewSlot()
			defer s.Close()
			for i := range iters {
				snap := s.Acquire()
				if i%2 == g {
					d.RefreshWatermark()
				}
				if w := d.Watermark(); w > snap {
					bad.Add(1)
				}
				s.Release()
			}
		}()
	}
	readers.Wait()
	stop.Store(true)
	<-committer
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d times a watermark passed an active snapshot", n)
	}
	if d.Now() == 0 {
		t.Fatal("the committer never ran")
	}
}

// Clock benchmarks for the GV1-vs-GV4 note on Domain.clock. Run with
// -cpu 1,2: every goroutine hammers the clock, the worst case.
func BenchmarkClockGV1Add(b *testing.B) {
	d := NewDomain()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d.clock.Add(1)
		}
	})
}

func BenchmarkClockGV4CAS(b *testing.B) {
	d := NewDomain()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var v uint64
		for pb.Next() {
			// TL2 GV4: one CAS; on failure reuse the winner's value.
			old := d.clock.Load()
			if d.clock.CompareAndSwap(old, old+1) {
				v = old + 1
			} else {
				v = d.clock.Load()
			}
		}
		_ = v
	})
}

func BenchmarkSlotAcquireRelease(b *testing.B) {
	d := NewDomain()
	s := d.NewSlot()
	b.ReportAllocs()
	for b.Loop() {
		s.Acquire()
		s.Release()
	}
}

func TestSlotAcquireAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	d := NewDomain()
	s := d.NewSlot()
	if n := testing.AllocsPerRun(1000, func() { s.Acquire(); s.Release() }); n != 0 {
		t.Fatalf("Acquire+Release allocates %v times", n)
	}
}
