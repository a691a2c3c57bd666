package txn

import (
	"testing"

	"github.com/substrate-lab/substrate/mvcc"
)

// TestSteadyStateAllocs asserts the zero-allocation paths: snapshot
// acquisition and release, an empty commit, a point read in a read-only
// transaction (explicit and through View), and a put of an existing key with
// a pointer-free value (explicit and through Update), plus the
// read-compare-write of CompareAndSwap.
func TestSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	e := NewEngine()
	s := NewStore[uint64, uint64](e, mvcc.WithPresize(64))
	for k := range uint64(64) {
		e.Update(func(tx Tx) error { return Put(tx, s, k, k) })
	}
	slot := e.Domain().NewSlot()
	defer slot.Close()
	var sink uint64
	var n uint64
	cases := []struct {
		name string
		fn   func()
	}{
		{"snapshot acquire+release", func() { sink += slot.Acquire(); slot.Release() }},
		{"Begin+Commit (empty)", func() {
			tx := e.Begin()
			tx.Commit()
		}},
		{"BeginReadOnly+Get+Commit", func() {
			tx := e.BeginReadOnly()
			v, _ := Get(tx, s, 7)
			sink += v
			tx.Commit()
		}},
		{"View+Get", func() {
			e.View(func(tx Tx) error { v, _ := Get(tx, s, 9); sink += v; return nil })
		}},
		{"Begin+Put existing+Commit", func() {
			n++
			tx := e.Begin()
			Put(tx, s, n%64, n)
			tx.Commit()
		}},
		{"Update+Get+Put", func() {
			n++
			e.Update(func(tx Tx) error {
				v, _ := Get(tx, s, n%64)
				return Put(tx, s, n%64, v+1)
			})
		}},
		{"Begin+CompareAndSwap+Commit", func() {
			n++
			tx := e.Begin()
			v, _ := Get(tx, s, n%64)
			CompareAndSwap(tx, s, n%64, v, v+1)
			tx.Commit()
		}},
	}
	for _, c := range cases {
		for range 2000 { // warm the pools: transaction objects and version nodes
			c.fn()
		}
		if a := testing.AllocsPerRun(2000, c.fn); a != 0 {
			t.Errorf("%s: %v allocs/op, want 0", c.name, a)
		}
	}
	_ = sink
}
