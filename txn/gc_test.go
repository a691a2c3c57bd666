package txn

import (
	"testing"

	"github.com/substrate-lab/substrate/mvcc"
)

// TestVersionsReclaimed: with no snapshot left open, many updates of one key
// keep its chain bounded and recycle version nodes.
func TestVersionsReclaimed(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	const n = 3000
	maxLen := 0
	for i := range n {
		if err := e.Update(func(tx Tx) error { return Put(tx, s, "hot", i) }); err != nil {
			t.Fatal(err)
		}
		maxLen = max(maxLen, s.Lookup("hot").ChainLen())
	}
	if maxLen > mvcc.WatermarkEvery+2 {
		t.Fatalf("chain reached %d versions, want <= %d", maxLen, mvcc.WatermarkEvery+2)
	}
	if ps := s.Stats().Pool; ps.Reused < n/2 || ps.Allocated > n/2 {
		t.Fatalf("versions not recycled: %+v", ps)
	}
}

// TestHeldSnapshotAcrossCommits: a read-only transaction left open keeps its
// view across many commits; the metric shows how far it pins the watermark;
// once released the chain is pruned again.
func TestHeldSnapshotAcrossCommits(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	e.Update(func(tx Tx) error { Put(tx, s, "a", 1); return Put(tx, s, "b", 1) })
	held := e.BeginReadOnly()
	snap := held.Snapshot()
	const n = 500
	for i := range n {
		e.Update(func(tx Tx) error { Put(tx, s, "a", i+2); return Put(tx, s, "b", i+2) })
	}
	a, _ := Get(held, s, "a")
	b, _ := Get(held, s, "b")
	if a != 1 || b != 1 {
		t.Fatalf("held snapshot reads a=%d b=%d, want 1, 1", a, b)
	}
	// The age is in clock ticks (commits no longer tick the clock one by
	// one); it must be positive and keep growing while commits go on.
	st := e.Domain().Stats()
	if st.OldestSnapshot != snap || st.OldestSnapshotAge == 0 || st.Watermark != snap || st.ActiveSnapshots != 1 {
		t.Fatalf("forgotten-snapshot metric %+v, want oldest %d, age > 0", st, snap)
	}
	if l := s.Lookup("a").ChainLen(); l < n {
		t.Fatalf("chain %d while a snapshot %d commits old is held", l, n)
	}
	for i := range n {
		e.Update(func(tx Tx) error { return Put(tx, s, "a", i) })
	}
	if st2 := e.Domain().Stats(); st2.OldestSnapshot != snap || st2.OldestSnapshotAge <= st.OldestSnapshotAge {
		t.Fatalf("forgotten-snapshot age did not grow: %+v then %+v", st, st2)
	}
	held.Commit()
	e.Domain().RefreshWatermark()
	e.Update(func(tx Tx) error { Put(tx, s, "a", 0); return Put(tx, s, "b", 0) })
	if l := s.Lookup("a").ChainLen(); l > 2 {
		t.Fatalf("chain %d after the snapshot was released, want <= 2", l)
	}
	if st := e.Domain().Stats(); st.ActiveSnapshots != 0 || st.OldestSnapshotAge != 0 {
		t.Fatalf("stats after release %+v", st)
	}
}

// TestDeletedKeysRemoved: a workload that writes and deletes ever new keys
// does not keep their records (they leave the store once the watermark
// passes their tombstones), while an open snapshot keeps the ones it can
// see.
func TestDeletedKeysRemoved(t *testing.T) {
	e := NewEngine()
	s := NewStore[int, int](e)
	held := e.BeginReadOnly()
	if err := e.Update(func(tx Tx) error { return Put(tx, s, -1, 7) }); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for k := range n {
		if err := e.Update(func(tx Tx) error { return Put(tx, s, k, k) }); err != nil {
			t.Fatal(err)
		}
		if err := e.Update(func(tx Tx) error { _, err := Delete(tx, s, k); return err }); err != nil {
			t.Fatal(err)
		}
		if k == n/2 {
			// The held snapshot began before every key existed: it pins the
			// watermark, so nothing can be removed while it is open.
			if got := s.Stats().Removed; got != 0 {
				t.Fatalf("%d records removed under an open older snapshot", got)
			}
			held.Rollback()
		}
	}
	if err := e.Update(func(tx Tx) error { _, err := Delete(tx, s, -1); return err }); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Records > n/4 || st.Removed < n/2 {
		t.Fatalf("after %d put+delete pairs: %d records left, %d removed", n, st.Records, st.Removed)
	}
	if err := e.View(func(tx Tx) error {
		for k := range n {
			if _, ok := Get(tx, s, k); ok {
				t.Fatalf("deleted key %d reads as present", k)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d put+delete pairs: %d records left, %d removed", n, st.Records, st.Removed)
}
