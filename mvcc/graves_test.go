package mvcc

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"weak"
)

// commitDelete commits a tombstone for k (commitOne, which Entombs it).
func commitDelete[K comparable, V any](s *Store[K, V], k K) uint64 {
	var zero V
	return commitOne(s, k, zero, true)
}

// TestDeletedRecordsRemoved: the record of a deleted key leaves the store
// once the watermark passes its tombstone, and not before (an older
// snapshot pins it); a removed record reads as absent, cannot be locked,
// and the key gets a new record when written again; a grave whose record
// was written again, or is locked by a committer, is handled.
func TestDeletedRecordsRemoved(t *testing.T) {
	d := NewDomain()
	s := NewStore[string, int](d)
	old := d.NewSlot()
	defer old.Close()

	commitOne(s, "a", 1, false)
	commitOne(s, "b", 2, false)
	commitOne(s, "c", 3, false)
	snap := old.Acquire() // sees a, b and c
	va := commitDelete(s, "a")
	commitDelete(s, "b")
	commitOne(s, "b", 22, false) // written again: its grave is stale
	ra := s.Lookup("a")

	wm := d.RefreshWatermark()
	d.sweep(wm)
	// a's grave is above the watermark: kept, and the sweep stops there
	// (b's stale grave behind it waits for the next sweep).
	if s.Lookup("a") != ra || ra.Removed() || s.graveCount() != 2 {
		t.Fatalf("removed under an older snapshot (wm %d, tombstone %d): lookup %p, graves %d",
			wm, va, s.Lookup("a"), s.graveCount())
	}
	if v, _, ok := ra.Read(snap); !ok || v != 1 {
		t.Fatalf("the old snapshot reads a = %d, %v", v, ok)
	}
	old.Release()

	// A committer holds a's lock: the sweep keeps the grave for later.
	if !ra.TryLock() {
		t.Fatal("TryLock on a live record failed")
	}
	d.sweep(d.RefreshWatermark())
	if ra.Removed() || s.graveCount() != 1 {
		t.Fatalf("swept a locked record: removed %v, graves %d", ra.Removed(), s.graveCount())
	}
	ra.Unlock()

	d.sweep(d.RefreshWatermark())
	if s.Lookup("a") != nil || !ra.Removed() || s.graveCount() != 0 {
		t.Fatalf("after the watermark passed: lookup %p, removed %v, graves %d", s.Lookup("a"), ra.Removed(), s.graveCount())
	}
	if s.Lookup("b") == nil || s.Lookup("c") == nil || s.Len() != 2 || s.Stats().Removed != 1 {
		t.Fatalf("other keys: b %p, c %p, len %d, stats %+v", s.Lookup("b"), s.Lookup("c"), s.Len(), s.Stats())
	}
	if _, _, ok := ra.Read(d.Now()); ok || ra.TryLock() {
		t.Fatal("a removed record reads as present or can be locked")
	}
	if w := ra.Lock(); w&1 == 0 || w>>1 <= d.Now() {
		t.Fatalf("a removed record's lock word %#x would make readers wait", w)
	}
	v := commitOne(s, "a", 5, false)
	if r := s.Lookup("a"); r == ra || r == nil {
		t.Fatal("writing a removed key again did not make a new record")
	} else if got, _, ok := r.Read(v); !ok || got != 5 {
		t.Fatalf("new record reads %d, %v", got, ok)
	}

	// Two graves for one record (deleted, written, deleted again): one
	// burial, and the second grave is dropped.
	commitDelete(s, "c")
	commitOne(s, "c", 33, false)
	commitDelete(s, "c")
	rc := s.Lookup("c")
	d.sweep(d.RefreshWatermark())
	if s.Lookup("c") != nil || !rc.Removed() || s.graveCount() != 0 || s.Stats().Removed != 2 {
		t.Fatalf("c: lookup %p, removed %v, graves %d, stats %+v", s.Lookup("c"), rc.Removed(), s.graveCount(), s.Stats())
	}
}

// TestDenseStoreRemovesRecords: in a WithDenseKeys store the record of a
// deleted key leaves its run's array once the watermark passes it, as in a
// hashed store; a run keeps its place in the index while it holds a record
// and leaves it with its last one; writing a removed key again makes a new
// record, in a new run when the old one left.
func TestDenseStoreRemovesRecords(t *testing.T) {
	d := NewDomain()
	s := newDenseStore(d)
	const n = 3*denseFirst + 5 // inline slots, the directory and two buckets
	for g := range byte(2) {
		for i := range uint64(n) {
			commitOne(s, seqKey{group(g), i}, int(i), false)
		}
	}
	old := d.NewSlot()
	defer old.Close()
	snap := old.Acquire()
	r5 := s.Lookup(seqKey{group(0), 5})
	for i := range uint64(n) {
		commitDelete(s, seqKey{group(0), i})
	}
	commitDelete(s, seqKey{group(1), 2})
	d.sweep(d.RefreshWatermark())
	if s.Len() != 2*n || r5.Removed() || s.dense.groups() != 2 {
		t.Fatalf("removed under an older snapshot: %d records, %d groups", s.Len(), s.dense.groups())
	}
	if v, _, ok := r5.Read(snap); !ok || v != 5 {
		t.Fatalf("the old snapshot reads (0, 5) = %d, %v", v, ok)
	}
	old.Release()
	d.sweep(d.RefreshWatermark())
	if s.Len() != n-1 || s.Stats().Removed != n+1 || s.graveCount() != 0 {
		t.Fatalf("after the watermark passed: %d records, stats %+v, graves %d", s.Len(), s.Stats(), s.graveCount())
	}
	if s.dense.groups() != 1 || s.Stats().Groups != 1 || s.Lookup(seqKey{group(0), 5}) != nil || !r5.Removed() {
		t.Fatalf("group 0 lost every record but stays: %d groups", s.dense.groups())
	}
	if s.Lookup(seqKey{group(1), 2}) != nil || s.Lookup(seqKey{group(1), 3}) == nil {
		t.Fatal("group 1: the wrong records left")
	}
	v := commitOne(s, seqKey{group(0), 5}, 55, false)
	if r := s.Lookup(seqKey{group(0), 5}); r == nil || r == r5 || s.dense.groups() != 2 {
		t.Fatalf("writing (0, 5) again: record %p (old %p), %d groups", r, r5, s.dense.groups())
	} else if got, _, ok := r.Read(v); !ok || got != 55 {
		t.Fatalf("new record reads %d, %v", got, ok)
	}
	if r := s.Lookup(seqKey{group(0), 4}); r != nil {
		t.Fatal("a neighbour of the new record came back")
	}
}

// TestDenseRemovedRecordInSlot: a creator that finds a removed record still
// in its slot (its burier has not unlinked it yet) unlinks it and creates a
// new one; the burier's unlink then does nothing, and the run's count stays
// right: it leaves the index exactly when its last record goes.
func TestDenseRemovedRecordInSlot(t *testing.T) {
	s := newDenseStore(NewDomain())
	k0, k1 := seqKey{group(3), 0}, seqKey{group(3), 1}
	r0, r1 := s.LoadOrCreate(k0), s.LoadOrCreate(k1)
	r0.lock.Store(lockDead) // removed, not yet unlinked
	n0 := s.LoadOrCreate(k0)
	if n0 == r0 || s.Lookup(k0) != n0 {
		t.Fatal("LoadOrCreate returned a removed record")
	}
	s.dense.remove(k0.g, k0.n, r0) // the late burier
	if s.Lookup(k0) != n0 || s.dense.groups() != 1 {
		t.Fatal("the late burier unlinked the new record or closed the run")
	}
	run, _ := s.dense.runs.Load(k0.g)
	if got := run.live.Load(); got != 2 {
		t.Fatalf("live = %d with two records in the run", got)
	}
	for _, r := range []*Record[int]{n0, r1} {
		r.lock.Store(lockDead)
	}
	s.dense.remove(k0.g, k0.n, n0)
	if s.dense.groups() != 1 {
		t.Fatal("the run left with a record in it")
	}
	s.dense.remove(k1.g, k1.n, r1)
	if s.dense.groups() != 0 || run.live.Load() >= 0 {
		t.Fatalf("the run stays after its last record: %d groups, live %d", s.dense.groups(), run.live.Load())
	}
	if n := s.LoadOrCreate(k1); n == r1 || s.dense.groups() != 1 {
		t.Fatal("no new run for a new record")
	} else if nr, _ := s.dense.runs.Load(k1.g); nr == run {
		t.Fatal("the closed run came back")
	}
}

// TestDenseCreateRacesRemoval: creators and a burier race on a few small
// groups (every record removed as soon as it is made, so runs close and
// open all the time); a creator's record must always be the one the index
// holds until it is removed: none lands in a run that left the index.
func TestDenseCreateRacesRemoval(t *testing.T) {
	s := newDenseStore(NewDomain())
	const workers, rounds = 4, 4000
	type made struct {
		k seqKey
		r *Record[int]
	}
	toBury := make(chan made, 64)
	var lost atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				k := seqKey{group(byte(i % 3)), uint64(w + workers*(i%3))}
				r := s.LoadOrCreate(k)
				if got := s.Lookup(k); got != r && !r.Removed() {
					lost.Add(1) // r is live but the index does not reach it
				}
				if r.TryLock() {
					r.lock.Store(lockDead)
					toBury <- made{k, r}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		for m := range toBury {
			s.dense.remove(m.k.g, m.k.n, m.r)
		}
		close(done)
	}()
	wg.Wait()
	close(toBury)
	<-done
	if lost.Load() != 0 {
		t.Fatalf("%d live records the index did not reach", lost.Load())
	}
	if s.Len() != 0 || s.dense.groups() != 0 {
		t.Fatalf("after every record was removed: %d records, %d groups", s.Len(), s.dense.groups())
	}
}

// TestSweepBounded: one sweep of a store buries half its backlog, oldest
// first, but at least maxBury and at most maxBuryBurst graves; later
// sweeps remove the rest.
func TestSweepBounded(t *testing.T) {
	for _, tc := range []struct{ n, first int }{
		{maxBury + 10, maxBury},          // small backlog: maxBury
		{4 * maxBury, 2 * maxBury},       // half
		{3 * maxBuryBurst, maxBuryBurst}, // a large deletion: the burst cap
		{maxBury / 2, maxBury / 2},       // fewer than maxBury: all
	} {
		d := NewDomain()
		s := NewStore[int, int](d)
		for k := range tc.n {
			commitOne(s, k, k, false)
			commitDelete(s, k)
		}
		wm := d.RefreshWatermark()
		d.sweep(wm)
		if got := s.graveCount(); got != tc.n-tc.first || s.Stats().Removed != uint64(tc.first) {
			t.Fatalf("n=%d: after one sweep: %d graves, %d removed; want %d, %d",
				tc.n, got, s.Stats().Removed, tc.n-tc.first, tc.first)
		}
		if s.Lookup(0) != nil || s.Lookup(tc.first-1) != nil || (tc.first < tc.n) != (s.Lookup(tc.first) != nil) {
			t.Fatalf("n=%d: the first sweep did not take the oldest graves", tc.n)
		}
		for range 8 {
			d.sweep(wm)
		}
		if got := s.graveCount(); got != 0 || s.Len() != 0 || s.Stats().Removed != uint64(tc.n) {
			t.Fatalf("n=%d: after more sweeps: %d graves, %d records, %d removed", tc.n, got, s.Len(), s.Stats().Removed)
		}
		if tc.n == 3*maxBuryBurst && cap(s.backlog) > 1024 {
			t.Errorf("the emptied backlog keeps capacity %d", cap(s.backlog))
		}
		// With nothing left the domain's flag is clear, so refreshes walk
		// no store; the next delete sets it.
		if d.graves.Load() {
			t.Error("the domain's graves flag is set with no graves left")
		}
		commitDelete(s, 0)
		if !d.graves.Load() {
			t.Error("a delete into an empty grave list did not set the domain's flag")
		}
	}
}

// TestSweepStopsAboveWatermark: a snapshot holds the watermark below new
// tombstones; a sweep buries the graves below it and stops at the first
// one above it, examining none of the graves behind it, and a later sweep
// after the snapshot ends buries the rest.
func TestSweepStopsAboveWatermark(t *testing.T) {
	d := NewDomain()
	s := NewStore[int, int](d)
	for k := range 10 {
		commitOne(s, k, k, false)
		commitDelete(s, k)
	}
	pin := d.NewSlot()
	defer pin.Close()
	pin.Acquire()
	for k := 10; k < 1000; k++ {
		commitOne(s, k, k, false)
		commitDelete(s, k)
	}
	// Hold one record's lock behind the first above-watermark grave: a
	// sweep that walked past that grave would return it as buryLater.
	r := s.Lookup(500)
	r.TryLock()
	d.sweep(d.RefreshWatermark())
	if s.Stats().Removed != 10 || s.graveCount() != 990 {
		t.Fatalf("with a snapshot pinning: %d removed, %d graves; want 10, 990", s.Stats().Removed, s.graveCount())
	}
	if s.backlog[0].k != 10 || s.backlog[len(s.backlog)-1].k != 999 {
		t.Fatalf("the backlog lost its order: %d .. %d", s.backlog[0].k, s.backlog[len(s.backlog)-1].k)
	}
	r.Unlock()
	pin.Release()
	for range 8 {
		d.sweep(d.RefreshWatermark())
	}
	if s.Stats().Removed != 1000 || s.graveCount() != 0 || s.Len() != 0 {
		t.Fatalf("after the snapshot ended: %d removed, %d graves, %d records", s.Stats().Removed, s.graveCount(), s.Len())
	}
}

// TestDroppedStoreCollected: the domain's sweep list does not keep a store
// alive; a store its users dropped is collected while the domain lives.
func TestDroppedStoreCollected(t *testing.T) {
	d := NewDomain()
	ws := func() weak.Pointer[Store[int, int]] {
		s := NewStore[int, int](d)
		commitOne(s, 1, 1, false)
		commitDelete(s, 1)
		return weak.Make(s)
	}()
	for range 5 {
		runtime.GC()
	}
	if ws.Value() != nil {
		t.Fatal("a dropped store is still alive: the domain holds it")
	}
	d.sweep(d.RefreshWatermark()) // skips the collected store
	runtime.KeepAlive(d)
}
