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
