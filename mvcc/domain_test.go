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
	if got := s.Acquire(); got != bound(0) || Tick(got) != 0 {
		t.Fatalf("first snapshot = %d, want bound(0) = %d", got, bound(0))
	}
	if !s.Active() {
		t.Fatal("slot not active after Acquire")
	}
	s.Release()
	if s.Active() {
		t.Fatal("slot active after Release")
	}
	var vers []uint64
	for range 3 {
		vers = append(vers, d.NextVersion())
	}
	for i := 1; i < len(vers); i++ {
		if vers[i] <= vers[i-1] {
			t.Fatalf("NextVersion not increasing: %v", vers)
		}
	}
	snap := s.Acquire()
	if snap < vers[2] || snap&seqMask != seqMask {
		t.Fatalf("snapshot after 3 commits = %d, want a bound >= %d", snap, vers[2])
	}
	if got := d.RefreshWatermark(); got != snap {
		t.Fatalf("watermark = %d, want the snapshot %d", got, snap)
	}
	s.Release()
	if d.Now() != snap || d.Epoch() != snap {
		t.Fatalf("Now/Epoch = %d/%d, want %d", d.Now(), d.Epoch(), snap)
	}
}

// TestLazyClock: commits mark the clock dirty without advancing it; a fresh
// snapshot advances it (one CAS) only when it is dirty; a read-write
// snapshot never writes it; commit versions of one tick are shared by
// disjoint commits and rise within one record's chain.
func TestLazyClock(t *testing.T) {
	d := NewDomain()
	s := d.NewSlot()
	defer s.Close()
	base := s.Acquire()
	s.Release()
	v1 := d.CommitVersion(0)
	v2 := d.CommitVersion(0) // a disjoint commit: same version
	if v1 != v2 || Tick(v1) != Tick(base)+1 || v1&seqMask != 0 {
		t.Fatalf("disjoint commits got %d, %d; want both (tick %d)<<%d", v1, v2, Tick(base)+1, SeqBits)
	}
	c := d.clock.Load()
	if c&1 == 0 || c>>1 != Tick(base) {
		t.Fatalf("clock word %#x after commits, want tick %d dirty", c, Tick(base))
	}
	if v3 := d.CommitVersion(v1 + 1); v3 != v1+1 {
		t.Fatalf("commit over head %d got %d, want %d (next seq)", v1, v3, v1+1)
	}
	if d.clock.Load() != c {
		t.Fatal("a commit on a dirty clock wrote it")
	}
	snap, consistent := s.AcquireOptimistic()
	if consistent || snap < v1+1 || d.clock.Load() != c {
		t.Fatalf("read-write snapshot %d (consistent %v) misses tick %d or wrote the clock", snap, consistent, Tick(v1))
	}
	s.Release()
	fresh := s.Acquire()
	if fresh < v1+1 || d.clock.Load() != (Tick(base)+1)<<1 {
		t.Fatalf("fresh snapshot %d; clock %#x, want advanced and clean", fresh, d.clock.Load())
	}
	if again := s.Acquire(); again != fresh || d.clock.Load() != (Tick(base)+1)<<1 {
		t.Fatal("a fresh snapshot on a clean clock moved it")
	}
	s.Release()
	// A record that runs out of seqs in a tick raises the clock.
	head := (Tick(fresh)+1)<<SeqBits | seqMask
	v := d.CommitVersion(head + 1)
	if v != head+1 || Tick(d.Now()) < Tick(v) {
		t.Fatalf("seq overflow: version %d, clock bound %d", v, d.Now())
	}
	if got := s.Acquire(); got < v {
		t.Fatalf("fresh snapshot %d misses the raised commit %d", got, v)
	}
	s.Release()
}

func TestWatermarkIsMinOfActiveSnapshots(t *testing.T) {
	d := NewDomain()
	a, b, c := d.NewSlot(), d.NewSlot(), d.NewSlot()
	d.NextVersion()
	d.NextVersion()
	sa := a.Acquire()
	d.NextVersion()
	d.NextVersion()
	sb := b.Acquire()
	d.NextVersion()
	if sa >= sb {
		t.Fatalf("snapshots %d, %d; want increasing", sa, sb)
	}
	if got := d.RefreshWatermark(); got != sa {
		t.Fatalf("watermark = %d, want %d (oldest snapshot)", got, sa)
	}
	if d.Safe() != sa || d.Watermark() != sa {
		t.Fatalf("Safe/Watermark = %d/%d, want %d", d.Safe(), d.Watermark(), sa)
	}
	st := d.Stats()
	if st.ActiveSnapshots != 2 || st.OldestSnapshot != sa || st.OldestSnapshotAge != Tick(st.Clock)-Tick(sa) ||
		st.OldestSnapshotAge == 0 || st.SlotsInUse != 3 {
		t.Fatalf("stats = %+v", st)
	}
	a.Release()
	if got := d.RefreshWatermark(); got != sb {
		t.Fatalf("watermark after releasing the oldest = %d, want %d", got, sb)
	}
	b.Release()
	now := d.Now()
	if got := d.RefreshWatermark(); got != now || got <= sb {
		t.Fatalf("watermark with no snapshot = %d, want the clock bound %d", got, now)
	}
	// Monotone: a snapshot begun now cannot pull the cached value back.
	if sc := c.Acquire(); sc != now || d.RefreshWatermark() != now {
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
	s := o2.Acquire()
	d.NextVersion()
	d.NextVersion()
	if got := d.RefreshWatermark(); got != s {
		t.Fatalf("watermark = %d, want the overflow snapshot %d", got, s)
	}
	st := d.Stats()
	if st.OverflowSlots != 2 || st.SlotsInUse != NumSlots || st.ActiveSnapshots != 1 || st.OldestSnapshot != s {
		t.Fatalf("stats = %+v", st)
	}
	o2.Release()
	if got := d.RefreshWatermark(); got != d.Now() || got <= s {
		t.Fatalf("watermark after release = %d, want the clock bound %d", got, d.Now())
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

// TestSlotGenerationAndStickyAnnouncement: a slot's generation moves at
// every Acquire and Release (odd while active); the announcement stays in
// place between snapshots but an idle slot never holds the watermark back;
// it is raised exactly when the clock has moved, and not rewritten when it
// has not; closing an active slot ends its snapshot.
func TestSlotGenerationAndStickyAnnouncement(t *testing.T) {
	d := NewDomain()
	s, o := d.NewSlot(), d.NewSlot()
	g0 := s.Generation()
	s1 := s.Acquire()
	g1 := s.Generation()
	s.Release()
	g2 := s.Generation()
	if g0%2 != 0 || g1 != g0+1 || g2 != g1+1 {
		t.Fatalf("generations %d, %d, %d: want even, odd, even, each one more", g0, g1, g2)
	}
	if s.sw.w.Load() != s1+1 {
		t.Fatalf("announcement after release = %d, want it left at %d", s.sw.w.Load(), s1+1)
	}
	d.NextVersion()
	so := o.Acquire()
	if so <= s1 {
		t.Fatalf("snapshot after a commit %d, want above %d", so, s1)
	}
	if got := d.RefreshWatermark(); got != so {
		t.Fatalf("watermark = %d, want %d: the idle slot's old announcement held it back", got, so)
	}
	if st := d.Stats(); st.ActiveSnapshots != 1 || st.OldestSnapshot != so {
		t.Fatalf("stats with one active slot = %+v", st)
	}
	d.NextVersion()
	s2 := s.Acquire() // the clock moved: the announcement is raised
	if s2 <= so || s.sw.w.Load() != s2+1 {
		t.Fatalf("snapshot %d, announcement %d; want above %d and exact", s2, s.sw.w.Load(), so)
	}
	o.Release()
	if got := d.RefreshWatermark(); got != s2 {
		t.Fatalf("watermark = %d, want the raised announcement %d", got, s2)
	}
	s.Release()
	// No commit since: the next snapshot is the same, announced by the
	// value left in place.
	if s3 := s.Acquire(); s3 != s2 || s.sw.w.Load() != s2+1 || !s.Active() {
		t.Fatalf("snapshot %d (announcement %d) with the clock unmoved, want %d", s3, s.sw.w.Load(), s2)
	}
	// A second Acquire or Release changes nothing: act flips once per
	// snapshot.
	g := s.Generation()
	if s4 := s.Acquire(); s4 != s2 || s.Generation() != g || !s.Active() {
		t.Fatalf("second Acquire: snapshot %d, generation %d -> %d", s4, g, s.Generation())
	}
	s.Release()
	s.Release()
	if s.Active() || s.Generation() != g+1 {
		t.Fatalf("double Release: active %v, generation %d -> %d", s.Active(), g, s.Generation())
	}
	s.Acquire()
	s.Close() // while active
	if st := d.Stats(); st.ActiveSnapshots != 0 {
		t.Fatalf("closing an active slot left %d active snapshots", st.ActiveSnapshots)
	}
	o.Close()
}
