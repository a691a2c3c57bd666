package txn

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/substrate-lab/substrate/mvcc"
)

func TestCommitTwiceAndRollbackAfterCommit(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	tx := e.Begin()
	if err := Put(tx, s, "k", 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, ErrTxDone) {
		t.Fatalf("second Commit = %v, want ErrTxDone", err)
	}
	if err := tx.Rollback(); !errors.Is(err, ErrTxDone) {
		t.Fatalf("Rollback after Commit = %v, want ErrTxDone", err)
	}
	tx2 := e.Begin()
	if err := tx2.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Rollback(); !errors.Is(err, ErrTxDone) {
		t.Fatalf("second Rollback = %v", err)
	}
	if err := tx2.Commit(); !errors.Is(err, ErrTxDone) {
		t.Fatalf("Commit after Rollback = %v", err)
	}
	if !tx.Done() || !tx2.Done() || tx.Snapshot() != 0 || tx.ReadOnly() {
		t.Fatal("dead handles report live state")
	}
}

func TestUseAfterCommit(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	e.Update(func(tx Tx) error { return Put(tx, s, "k", 1) })
	tx := e.Begin()
	if v, ok := Get(tx, s, "k"); !ok || v != 1 {
		t.Fatalf("Get = %d, %v", v, ok)
	}
	tx.Commit()
	if v, ok := Get(tx, s, "k"); ok || v != 0 {
		t.Fatalf("Get after commit = %d, %v; want zero, false", v, ok)
	}
	if err := Put(tx, s, "k", 2); !errors.Is(err, ErrTxDone) {
		t.Fatalf("Put after commit = %v", err)
	}
	if _, err := Delete(tx, s, "k"); !errors.Is(err, ErrTxDone) {
		t.Fatalf("Delete after commit = %v", err)
	}
	if err := Scan(tx, s, func(string, int) bool { return true }); !errors.Is(err, ErrTxDone) {
		t.Fatalf("Scan after commit = %v", err)
	}
	if _, err := CompareAndSwap(tx, s, "k", 1, 2); !errors.Is(err, ErrTxDone) {
		t.Fatalf("CompareAndSwap after commit = %v", err)
	}
	var zero Tx
	if err := zero.Commit(); !errors.Is(err, ErrTxDone) {
		t.Fatalf("zero Tx Commit = %v", err)
	}
	if err := Put(zero, s, "k", 1); !errors.Is(err, ErrTxDone) {
		t.Fatalf("zero Tx Put = %v", err)
	}
}

// TestStaleHandleAfterReuse: the transaction object of a finished handle is
// recycled for the next Begin; the stale handle must not reach it.
func TestStaleHandleAfterReuse(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	for range 100 { // sync.Pool may hand back the same object or not; try often
		old := e.Begin()
		old.Commit()
		cur := e.Begin()
		if err := Put(cur, s, "k", 1); err != nil {
			t.Fatal(err)
		}
		if err := old.Rollback(); !errors.Is(err, ErrTxDone) {
			t.Fatalf("stale Rollback = %v", err)
		}
		if err := Put(old, s, "k", 2); !errors.Is(err, ErrTxDone) {
			t.Fatalf("stale Put = %v", err)
		}
		if err := old.Commit(); !errors.Is(err, ErrTxDone) {
			t.Fatalf("stale Commit = %v", err)
		}
		if v, ok := Get(cur, s, "k"); !ok || v != 1 {
			t.Fatalf("live transaction disturbed by a stale handle: %d, %v", v, ok)
		}
		if err := cur.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDeferredRollbackIdiom(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	work := func(v int) (err error) {
		tx := e.Begin()
		defer tx.Rollback()
		if err := Put(tx, s, "k", v); err != nil {
			return err
		}
		if v < 0 {
			return errors.New("negative")
		}
		return tx.Commit()
	}
	if err := work(5); err != nil {
		t.Fatal(err)
	}
	if err := work(-1); err == nil {
		t.Fatal("expected an error")
	}
	e.View(func(tx Tx) error {
		if v, _ := Get(tx, s, "k"); v != 5 {
			t.Fatalf("k = %d, want 5 (the failed call must leave no trace)", v)
		}
		return nil
	})
}

// TestPanickingClosure: a panic inside Update rolls the transaction back
// (no lock or snapshot left behind) and keeps unwinding.
func TestPanickingClosure(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	e.Update(func(tx Tx) error { return Put(tx, s, "k", 1) })
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want boom", r)
			}
		}()
		e.Update(func(tx Tx) error {
			v, _ := Get(tx, s, "k")
			Put(tx, s, "k", v+100)
			panic("boom")
		})
	}()
	func() {
		defer func() { recover() }()
		e.View(func(tx Tx) error { panic("view boom") })
	}()
	if st := e.Domain().Stats(); st.ActiveSnapshots != 0 {
		t.Fatalf("%d snapshots left active after panics", st.ActiveSnapshots)
	}
	done := make(chan error)
	go func() {
		done <- e.Update(func(tx Tx) error {
			v, _ := Get(tx, s, "k")
			return Put(tx, s, "k", v+1)
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("transaction after the panic: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("transaction after the panic is stuck: a lock leaked")
	}
	e.View(func(tx Tx) error {
		if v, _ := Get(tx, s, "k"); v != 2 {
			t.Fatalf("k = %d, want 2", v)
		}
		return nil
	})
}

func TestReadOnlyRejectsWrites(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	err := e.View(func(tx Tx) error { return Put(tx, s, "k", 1) })
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Put in View = %v, want ErrReadOnly", err)
	}
	tx := e.BeginReadOnly()
	if _, err := Delete(tx, s, "k"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Delete in read-only tx = %v", err)
	}
	if _, err := CompareAndSwap(tx, s, "k", 0, 1); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("CompareAndSwap in read-only tx = %v", err)
	}
	if !tx.ReadOnly() {
		t.Fatal("ReadOnly() = false")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateErrors(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	mine := errors.New("mine")
	calls := 0
	err := e.Update(func(tx Tx) error {
		calls++
		Put(tx, s, "k", 1)
		return mine
	})
	if err != mine || calls != 1 {
		t.Fatalf("fn's error: got %v after %d calls, want it unchanged after 1", err, calls)
	}
	e.View(func(tx Tx) error {
		if _, ok := Get(tx, s, "k"); ok {
			t.Fatal("write of a failed Update is visible")
		}
		return nil
	})

	// A conflict reported by fn is retried like a commit conflict.
	calls = 0
	err = e.Update(func(tx Tx) error {
		calls++
		if calls < 3 {
			return fmt.Errorf("early abort: %w", ErrConflict)
		}
		return Put(tx, s, "k", 3)
	})
	if err != nil || calls != 3 {
		t.Fatalf("retried fn: %v after %d calls", err, calls)
	}

	// Giving up: every attempt conflicts.
	calls = 0
	n, err := e.UpdateN(RetryPolicy{MaxAttempts: 5, MaxBackoff: time.Microsecond}, func(tx Tx) error {
		calls++
		return errLockBusy
	})
	var re *RetryError
	if !errors.Is(err, ErrConflict) || !errors.As(err, &re) || re.Attempts != 5 || n != 5 || calls != 5 {
		t.Fatalf("gave up with %v (attempts %d, calls %d)", err, n, calls)
	}
}

// TestUpdateRetriesRealConflicts: a transaction whose commit conflicts is
// re-run in a fresh snapshot and succeeds.
func TestUpdateRetriesRealConflicts(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	e.Update(func(tx Tx) error { return Put(tx, s, "k", 0) })
	calls := 0
	n, err := e.UpdateN(RetryPolicy{}, func(tx Tx) error {
		calls++
		v, _ := Get(tx, s, "k")
		if calls == 1 { // a concurrent commit sneaks in
			done := make(chan error)
			go func() { done <- e.Update(func(tx Tx) error { return Put(tx, s, "k", 10) }) }()
			if err := <-done; err != nil {
				return err
			}
		}
		return Put(tx, s, "k", v+1)
	})
	if err != nil || n != 2 || calls != 2 {
		t.Fatalf("Update: %v after %d attempts (%d calls), want success after 2", err, n, calls)
	}
	e.View(func(tx Tx) error {
		if v, _ := Get(tx, s, "k"); v != 11 {
			t.Fatalf("k = %d, want 11", v)
		}
		return nil
	})
}

func TestForeignStore(t *testing.T) {
	e1, e2 := NewEngine(), NewEngine()
	s2 := NewStore[string, int](e2)
	tx := e1.Begin()
	if err := Put(tx, s2, "k", 1); !errors.Is(err, ErrForeignStore) {
		t.Fatalf("Put to a foreign store = %v", err)
	}
	if err := tx.Commit(); !errors.Is(err, ErrForeignStore) {
		t.Fatalf("Commit after a foreign access = %v", err)
	}
	err := e1.View(func(tx Tx) error {
		if _, ok := Get(tx, s2, "k"); ok {
			t.Fatal("foreign read returned a value")
		}
		return Scan(tx, s2, func(string, int) bool { return true })
	})
	if !errors.Is(err, ErrForeignStore) {
		t.Fatalf("foreign Scan in View = %v", err)
	}
}

func TestRetryPolicyWait(t *testing.T) {
	p := RetryPolicy{MaxBackoff: 100 * time.Microsecond}.withDefaults()
	if p.MaxAttempts != DefaultRetryPolicy.MaxAttempts || p.YieldAttempts != 3 || p.MinBackoff != time.Microsecond {
		t.Fatalf("defaults: %+v", p)
	}
	start := time.Now()
	for n := 1; n <= 20; n++ {
		p.wait(n)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("20 waits took %v; the cap is 100µs each", el)
	}
}

// TestForeignStoreWithSameID: store ids restart in every engine; a store of
// another engine with the id of a store this transaction uses must still be
// refused, not confused with it.
func TestForeignStoreWithSameID(t *testing.T) {
	e1, e2 := NewEngine(), NewEngine()
	s1 := NewStore[string, int](e1)
	s2 := NewStore[string, int](e2)
	if s1.ID() != s2.ID() {
		t.Skip("ids differ; nothing to confuse")
	}
	tx := e1.Begin()
	Put(tx, s1, "k", 1)
	if err := Put(tx, s2, "k", 2); !errors.Is(err, ErrForeignStore) {
		t.Fatalf("Put to a foreign store with a known id = %v", err)
	}
	if v, _ := Get(tx, s1, "k"); v != 1 {
		t.Fatalf("own write clobbered: %d", v)
	}
	tx.Rollback()
}

// TestNilArguments: a nil store, a nil function, and a nil or zero
// Engine are errors (or a dead transaction), never a panic; a transaction
// handed a nil store is poisoned like one handed a foreign store.
func TestNilArguments(t *testing.T) {
	e := NewEngine()
	s := NewStore[uint64, uint64](e, mvcc.WithDenseKeys(
		func(k uint64) ([16]byte, uint64) { return [16]byte{}, k },
		func(_ [16]byte, n uint64) uint64 { return n }))
	if err := e.Update(func(tx Tx) error { return Put(tx, s, 1, 1) }); err != nil {
		t.Fatal(err)
	}
	var ns *mvcc.Store[uint64, uint64]
	visit := func(uint64, uint64) bool { return true }
	seq := func(int, uint64, bool) bool { return true }

	ro := e.BeginReadOnly()
	if _, ok := Get(ro, ns, 1); ok {
		t.Error("read-only Get on a nil store found a value")
	}
	if err := ro.Commit(); !errors.Is(err, ErrForeignStore) {
		t.Errorf("read-only Commit after a nil-store Get = %v, want ErrForeignStore", err)
	}
	for name, op := range map[string]func(Tx) error{
		"Get": func(tx Tx) error {
			if _, ok := Get(tx, ns, 1); ok {
				t.Error("Get on a nil store found a value")
			}
			return nil
		},
		"Put":           func(tx Tx) error { return Put(tx, ns, 1, 2) },
		"Delete":        func(tx Tx) error { _, err := Delete(tx, ns, 1); return err },
		"CAS":           func(tx Tx) error { _, err := CompareAndSwap(tx, ns, 1, 1, 2); return err },
		"Scan":          func(tx Tx) error { return Scan(tx, ns, visit) },
		"ScanPartition": func(tx Tx) error { return ScanPartition(tx, ns, 0, visit) },
		"GetSeq":        func(tx Tx) error { return GetSeq(tx, ns, 1, 2, seq) },
	} {
		tx := e.Begin()
		if err := op(tx); err != nil && !errors.Is(err, ErrForeignStore) {
			t.Errorf("%s on a nil store = %v, want ErrForeignStore", name, err)
		}
		if err := tx.Commit(); !errors.Is(err, ErrForeignStore) {
			t.Errorf("Commit after %s on a nil store = %v, want ErrForeignStore", name, err)
		}
	}

	for name, op := range map[string]func(Tx) error{
		"Scan":          func(tx Tx) error { return Scan(tx, s, nil) },
		"ScanPartition": func(tx Tx) error { return ScanPartition(tx, s, 0, nil) },
		"GetSeq":        func(tx Tx) error { return GetSeq[uint64, uint64](tx, s, 1, 2, nil) },
	} {
		for _, tx := range []Tx{e.Begin(), e.BeginReadOnly()} {
			if err := op(tx); err == nil {
				t.Errorf("%s with a nil function: no error", name)
			}
			if err := tx.Commit(); err != nil {
				t.Errorf("Commit after %s with a nil function = %v (the transaction is not poisoned)", name, err)
			}
		}
	}
	if err := e.Update(nil); err == nil {
		t.Error("Update(nil): no error")
	}
	if err := e.View(nil); err == nil {
		t.Error("View(nil): no error")
	}
	if n, err := e.UpdateN(DefaultRetryPolicy, nil); err == nil || n != 0 {
		t.Errorf("UpdateN(nil) = %d, %v; want 0 attempts and an error", n, err)
	}

	var nilEngine *Engine
	for name, eng := range map[string]*Engine{"nil": nilEngine, "zero": new(Engine)} {
		for _, tx := range []Tx{eng.Begin(), eng.BeginReadOnly()} {
			if !tx.Done() {
				t.Errorf("%s Engine: Begin gave a live transaction", name)
			}
			if err := tx.Commit(); !errors.Is(err, ErrTxDone) {
				t.Errorf("%s Engine: Commit = %v, want ErrTxDone", name, err)
			}
		}
		fn := func(Tx) error { t.Errorf("%s Engine ran fn", name); return nil }
		if err := eng.Update(fn); err == nil {
			t.Errorf("%s Engine: Update gave no error", name)
		}
		if err := eng.View(fn); err == nil {
			t.Errorf("%s Engine: View gave no error", name)
		}
		if eng.Domain() != nil || NewStore[int, int](eng) != nil {
			t.Errorf("%s Engine: a domain or a store", name)
		}
	}
}
