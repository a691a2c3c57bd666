package txn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/substrate-lab/substrate/mvcc"
)

// TestPutAfterGetUsesTheRightRecord: Put takes the record of the key the
// last read found (storeTx.record) only for that key; a Put of another key,
// of an absent key after a read, or after a read in another store, must
// write that key's own record, in this transaction and the next one (the
// cached pair is reset with the pooled object).
func TestPutAfterGetUsesTheRightRecord(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	other := NewStore[string, int](e)
	require.NoError(t, e.Update(func(tx Tx) error {
		require.NoError(t, Put(tx, s, "a", 1))
		return Put(tx, other, "b", 10)
	}))
	require.NoError(t, e.Update(func(tx Tx) error {
		v, ok := Get(tx, s, "a")
		require.True(t, ok)
		require.NoError(t, Put(tx, s, "a", v+1)) // same key: the cached record
		require.NoError(t, Put(tx, s, "c", v))   // another key: its own record
		_, ok = Get(tx, s, "missing")            // a miss does not replace the cache
		require.False(t, ok)
		require.NoError(t, Put(tx, s, "missing", 7))
		w, _ := Get(tx, other, "b")
		return Put(tx, s, "b", w) // "b" of s, not other's "b"
	}))
	for range 3 { // later transactions reuse the pooled objects
		require.NoError(t, e.Update(func(tx Tx) error {
			return Put(tx, s, "a2", 5)
		}))
	}
	require.NoError(t, e.View(func(tx Tx) error {
		for k, want := range map[string]int{"a": 2, "c": 1, "missing": 7, "b": 10, "a2": 5} {
			got, ok := Get(tx, s, k)
			require.True(t, ok, k)
			require.Equal(t, want, got, k)
		}
		got, _ := Get(tx, other, "b")
		require.Equal(t, 10, got)
		_, ok := Get(tx, other, "a")
		require.False(t, ok)
		return nil
	}))
	require.Equal(t, 5, s.Len())
}

// TestGetSeqMatchesGet: in read-only and read-write transactions, GetSeq
// reports for every key of a range exactly what Get reports (a read-write
// transaction's own puts and deletes included), over random histories of a
// dense store; and it fails cleanly on a dead tx, a foreign store, a
// hashed store and a tx that fn ended.
func TestGetSeqMatchesGet(t *testing.T) {
	type key struct {
		g [16]byte
		n uint64
	}
	dense := mvcc.WithDenseKeys(func(k key) ([16]byte, uint64) { return k.g, k.n },
		func(g [16]byte, n uint64) key { return key{g, n} })
	groups := [][16]byte{{1}, {2}, {3}}
	rng := rand.New(rand.NewPCG(11, 12))
	e := NewEngine()
	s := NewStore[key, int](e, dense)
	randKey := func() key { return key{groups[rng.IntN(len(groups))], uint64(rng.IntN(40))} }
	write := func(tx Tx, k key) {
		if rng.IntN(3) == 0 {
			if _, err := Delete(tx, s, k); err != nil {
				t.Fatal(err)
			}
		} else if err := Put(tx, s, k, rng.IntN(1000)); err != nil {
			t.Fatal(err)
		}
	}
	compare := func(tx Tx, what string) {
		k, n := randKey(), rng.IntN(50)
		calls := 0
		err := GetSeq(tx, s, k, n, func(i int, v int, ok bool) bool {
			calls++
			wv, wok := Get(tx, s, key{k.g, k.n + uint64(i)})
			if v != wv || ok != wok {
				t.Fatalf("%s: key %v+%d: GetSeq (%d, %v), Get (%d, %v)", what, k, i, v, ok, wv, wok)
			}
			return true
		})
		if err != nil || calls != n {
			t.Fatalf("%s: %d of %d keys, %v", what, calls, n, err)
		}
	}
	for round := range 200 {
		ro := e.BeginReadOnly() // its snapshot predates this round's writes
		if err := e.Update(func(tx Tx) error {
			for range rng.IntN(20) {
				write(tx, randKey())
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		compare(ro, fmt.Sprintf("round %d, read-only", round))
		_ = ro.Commit()
		rw := e.Begin()
		for range rng.IntN(5) { // own writes, not yet committed
			write(rw, randKey())
		}
		compare(rw, fmt.Sprintf("round %d, read-write", round))
		_ = rw.Rollback()
	}

	nop := func(int, int, bool) bool { return true }
	tx := e.BeginReadOnly()
	_ = tx.Commit()
	if err := GetSeq(tx, s, key{}, 3, nop); !errors.Is(err, ErrTxDone) {
		t.Errorf("dead tx: %v", err)
	}
	for _, ro := range []bool{true, false} {
		tx := e.Begin()
		if ro {
			tx = e.BeginReadOnly()
		}
		calls := 0
		err := GetSeq(tx, s, key{groups[0], 0}, 5, func(int, int, bool) bool {
			calls++
			_ = tx.Rollback()
			return true
		})
		if !errors.Is(err, ErrTxDone) || calls != 1 {
			t.Errorf("read-only %v: fn ended tx: %v after %d calls", ro, err, calls)
		}
	}
	other := NewStore[key, int](NewEngine(), dense)
	tx = e.Begin()
	if err := GetSeq(tx, other, key{}, 3, nop); !errors.Is(err, ErrForeignStore) {
		t.Errorf("foreign store: %v", err)
	}
	if err := tx.Commit(); !errors.Is(err, ErrForeignStore) {
		t.Errorf("commit after a foreign GetSeq: %v", err)
	}
	hashed := NewStore[key, int](e)
	tx = e.BeginReadOnly()
	if err := GetSeq(tx, hashed, key{}, 3, nop); err == nil || errors.Is(err, ErrTxDone) {
		t.Errorf("hashed store: %v", err)
	}
	_ = tx.Commit()
}

// TestInlineBuffersHoldNoReferences: a participant's write and read sets
// start in inline buffers; the append that moves one to the heap leaves
// copies of its first entries behind, which the next reset zeroes, and
// later resets leave alone (nothing writes the buffer while the set lives
// on the heap), whether the set stays on the heap or, past
// maxRetainedCap, goes back to the buffer.
func TestInlineBuffersHoldNoReferences(t *testing.T) {
	vals := make([]int, maxRetainedCap+2)
	p := newStoreTx[uint64, *int](nil)
	inlineZero := func(when string) {
		t.Helper()
		for i, w := range p.wbuf {
			if w != (writeEntry[uint64, *int]{}) {
				t.Fatalf("%s: wbuf[%d] = %+v, want zero", when, i, w)
			}
		}
	}
	for i := range inlineWrites + 1 {
		p.addWrite(writeEntry[uint64, *int]{k: uint64(i), v: &vals[i]})
	}
	if &p.writes[0] == &p.wbuf[0] {
		t.Fatal("the write set did not move to the heap")
	}
	for i := range inlineWrites + 1 {
		if p.writes[i].k != uint64(i) || p.writes[i].v != &vals[i] {
			t.Fatalf("writes[%d] = %+v after the move", i, p.writes[i])
		}
	}
	p.reset()
	inlineZero("after the reset that followed the move")
	heap := p.writes[:inlineWrites+1]
	for i, w := range heap {
		if w != (writeEntry[uint64, *int]{}) {
			t.Fatalf("after reset: writes[%d] = %+v, want zero", i, w)
		}
	}
	p.addWrite(writeEntry[uint64, *int]{k: 7, v: &vals[7]})
	if &p.writes[0] != &heap[0] {
		t.Fatal("the reset write set did not keep its heap array")
	}
	p.reset()
	inlineZero("reusing the heap array")

	// A set past maxRetainedCap is dropped: the next one starts inline,
	// and moves (and is cleaned up after) again.
	for i := range maxRetainedCap + 1 {
		p.addWrite(writeEntry[uint64, *int]{k: uint64(i), v: &vals[i]})
	}
	p.reset()
	if cap(p.writes) != inlineWrites || &p.writes[:1][0] != &p.wbuf[0] {
		t.Fatal("a write set past maxRetainedCap was kept")
	}
	inlineZero("back in the buffer")
	for i := range inlineWrites + 1 {
		p.addWrite(writeEntry[uint64, *int]{k: uint64(i), v: &vals[i]})
	}
	p.reset()
	inlineZero("after a second move")

	// The buffer is cleared at the first reset after a move only: a
	// sentinel put there behind the participant's back survives the next.
	var rbuf [inlineReads]*int
	var onHeap bool
	s := rbuf[:0]
	for i := range inlineReads + 1 {
		s = append(s, &vals[i])
	}
	s = resetSlice(s, rbuf[:0], &onHeap)
	if rbuf != ([inlineReads]*int{}) || !onHeap {
		t.Fatalf("read buffer after the move's reset: %v (on heap %v)", rbuf, onHeap)
	}
	rbuf[0] = &vals[0]
	s = append(s, &vals[1])
	_ = resetSlice(s, rbuf[:0], &onHeap)
	if rbuf[0] != &vals[0] {
		t.Fatal("a reset of a set already on the heap cleared its buffer again")
	}
}

// TestCommitSoloMatchesLoop: a transaction that touches one store commits
// through storeTx.commitSolo, one that touches two through commit's loops
// over its participants; the same scenarios must end the same way either
// way (a read of a second store turns one into the other). It fails if
// commitSolo skips a step that decides the outcome: the checks of a stale
// read or an absent key (precheck and validate), or a failed lock.
func TestCommitSoloMatchesLoop(t *testing.T) {
	// A scenario's setup runs inside the transaction; what it returns runs
	// after the commit (the lock scenario's unlock: readers wait for a
	// held lock).
	scenarios := map[string]func(e *Engine, s *mvcc.Store[int, int], tx Tx) (after func()){
		"plain write": func(*Engine, *mvcc.Store[int, int], Tx) func() { return func() {} },
		"stale read": func(e *Engine, s *mvcc.Store[int, int], tx Tx) func() {
			Get(tx, s, 1)
			if err := e.Update(func(tx Tx) error { return Put(tx, s, 1, 100) }); err != nil {
				t.Fatal(err)
			}
			return func() {}
		},
		"phantom": func(e *Engine, s *mvcc.Store[int, int], tx Tx) func() {
			if _, ok := Get(tx, s, 50); ok {
				t.Fatal("key 50 present")
			}
			if err := e.Update(func(tx Tx) error { return Put(tx, s, 50, 1) }); err != nil {
				t.Fatal(err)
			}
			return func() {}
		},
		"lock busy": func(e *Engine, s *mvcc.Store[int, int], tx Tx) func() {
			r := s.Lookup(2)
			if !r.TryLockAt(e.Domain().PendingFloor()) {
				t.Fatal("record 2 locked")
			}
			return r.Unlock
		},
	}
	for name, setup := range scenarios {
		var outcomes [2]string
		for i, second := range []bool{false, true} {
			e := NewEngine()
			s := NewStore[int, int](e)
			other := NewStore[string, int](e)
			if err := e.Update(func(tx Tx) error {
				for k := range 3 {
					if err := Put(tx, s, k, k); err != nil {
						return err
					}
				}
				return Put(tx, other, "x", 1)
			}); err != nil {
				t.Fatal(err)
			}
			tx := e.Begin()
			if second {
				Get(tx, other, "x")
			}
			after := setup(e, s, tx)
			if err := Put(tx, s, 2, 200); err != nil {
				t.Fatal(err)
			}
			err := tx.Commit()
			after()
			var got int
			if err := e.View(func(tx Tx) error { got, _ = Get(tx, s, 2); return nil }); err != nil {
				t.Fatal(err)
			}
			outcomes[i] = fmt.Sprintf("conflict=%v value=%d", errors.Is(err, ErrConflict), got)
		}
		if outcomes[0] != outcomes[1] {
			t.Errorf("%s: one store %s, two stores %s", name, outcomes[0], outcomes[1])
		}
		want := "conflict=true value=2"
		if name == "plain write" {
			want = "conflict=false value=200"
		}
		if outcomes[0] != want {
			t.Errorf("%s: %s, want %s", name, outcomes[0], want)
		}
	}
}
