package mvcc

import (
	"runtime"
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
	if s.Lookup("a") != ra || ra.Removed() || s.graveCount() != 1 {
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

// TestDenseStoreKeepsRecords: Entomb does nothing in a WithDenseKeys store.
func TestDenseStoreKeepsRecords(t *testing.T) {
	d := NewDomain()
	type key struct {
		g [16]byte
		n uint64
	}
	s := NewStore[key, int](d, WithDenseKeys(
		func(k key) ([16]byte, uint64) { return k.g, k.n },
		func(g [16]byte, n uint64) key { return key{g, n} }))
	k := key{n: 3}
	commitOne(s, k, 1, false)
	commitDelete(s, k)
	d.sweep(d.RefreshWatermark())
	if r := s.Lookup(k); r == nil || r.Removed() || s.graveCount() != 0 {
		t.Fatal("a dense store's record was removed or queued")
	}
}

// TestSweepBounded: one sweep of a store examines at most maxBury graves,
// oldest first; later sweeps remove the rest.
func TestSweepBounded(t *testing.T) {
	d := NewDomain()
	s := NewStore[int, int](d)
	const n = 2*maxBury + 100
	for k := range n {
		commitOne(s, k, k, false)
		commitDelete(s, k)
	}
	wm := d.RefreshWatermark()
	d.sweep(wm)
	if got := s.graveCount(); got != n-maxBury || s.Stats().Removed != maxBury {
		t.Fatalf("after one sweep: %d graves, %d removed; want %d, %d", got, s.Stats().Removed, n-maxBury, maxBury)
	}
	if s.Lookup(0) != nil || s.Lookup(maxBury-1) != nil || s.Lookup(maxBury) == nil {
		t.Fatal("the first sweep did not take the oldest graves")
	}
	d.sweep(wm)
	d.sweep(wm)
	if got := s.graveCount(); got != 0 || s.Len() != 0 || s.Stats().Removed != n {
		t.Fatalf("after three sweeps: %d graves, %d records, %d removed", got, s.Len(), s.Stats().Removed)
	}
	// With nothing left the domain's flag is clear, so refreshes walk no
	// store; the next delete sets it.
	if d.graves.Load() {
		t.Error("the domain's graves flag is set with no graves left")
	}
	commitDelete(s, 0)
	if !d.graves.Load() {
		t.Error("a delete into an empty grave list did not set the domain's flag")
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
