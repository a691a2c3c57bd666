package prims

import (
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/substrate-lab/substrate/internal/cacheline"
)

// TestTxHandlePadded: the fields a transaction handle writes every
// transaction (db through ts) have cacheline.PadSize bytes of padding on
// either side, so that two goroutines' handles never share a 128-byte block
// however the allocator places them (see Tx).
func TestTxHandlePadded(t *testing.T) {
	var h Tx
	first, end := unsafe.Offsetof(h.db), unsafe.Offsetof(h.ts)+unsafe.Sizeof(h.ts)
	if first < cacheline.PadSize || unsafe.Sizeof(h)-end < cacheline.PadSize {
		t.Fatalf("Tx fields at [%d, %d) of %d bytes: want %d bytes of padding on each side",
			first, end, unsafe.Sizeof(h), cacheline.PadSize)
	}
}

func TestTxLifecycle(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	run := NewRunID()

	tx := db.Begin()
	if tx.Done() || tx.ReadOnly() {
		t.Fatal("fresh tx is done or read-only")
	}
	if err := kv.Put(tx, run, "a", 1); err != nil {
		t.Fatal(err)
	}
	if v, ok := kv.Get(tx, run, "a"); !ok || v != 1 {
		t.Fatalf("own write not visible: %v %v", v, ok)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if !tx.Done() {
		t.Error("committed tx not done")
	}
	wantErr(t, "second Commit", tx.Commit(), ErrTxDone)
	wantErr(t, "Rollback after Commit", tx.Rollback(), ErrTxDone)
	wantErr(t, "Put after Commit", kv.Put(tx, run, "b", 2), ErrTxDone)
	_, err := kv.Delete(tx, run, "a")
	wantErr(t, "Delete after Commit", err, ErrTxDone)
	_, err = kv.List(tx, run, "")
	wantErr(t, "List after Commit", err, ErrTxDone)
	if _, ok := kv.Get(tx, run, "a"); ok {
		t.Error("Get after Commit found a value")
	}

	// A stale *Tx never acts on a later transaction, even though the
	// engine recycles transaction objects.
	later := db.Begin()
	wantErr(t, "stale Put", kv.Put(tx, run, "c", 3), ErrTxDone)
	if err := kv.Put(later, run, "d", 4); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "stale Commit", tx.Commit(), ErrTxDone)
	if err := later.Commit(); err != nil {
		t.Fatal(err)
	}
	mustView(t, db, func(tx *Tx) error {
		keys, _ := kv.List(tx, run, "")
		if len(keys) != 2 || keys[0] != "a" || keys[1] != "d" {
			t.Errorf("keys = %v, want [a d]", keys)
		}
		return nil
	})

	rb := db.Begin()
	if err := kv.Put(rb, run, "e", 5); err != nil {
		t.Fatal(err)
	}
	if err := rb.Rollback(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "second Rollback", rb.Rollback(), ErrTxDone)
	wantErr(t, "Commit after Rollback", rb.Commit(), ErrTxDone)
	mustView(t, db, func(tx *Tx) error {
		if _, ok := kv.Get(tx, run, "e"); ok {
			t.Error("rolled-back write visible")
		}
		return nil
	})

	var nilTx *Tx
	wantErr(t, "nil tx Put", kv.Put(nilTx, run, "x", 1), ErrInvalid)
	wantErr(t, "nil tx Commit", nilTx.Commit(), ErrInvalid)
	wantErr(t, "nil tx Rollback", nilTx.Rollback(), ErrInvalid)
	if !nilTx.Done() || nilTx.ReadOnly() {
		t.Error("nil tx: Done false or ReadOnly true")
	}
	if _, ok := kv.Get(nilTx, run, "a"); ok {
		t.Error("nil tx Get found a value")
	}
	var nilDB *DB
	wantErr(t, "nil DB Begin Commit", nilDB.Begin().Commit(), ErrInvalid)
}

func TestCommitConflict(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "n", 0) })

	a, b := db.Begin(), db.Begin()
	va, _ := kv.Get(a, run, "n")
	vb, _ := kv.Get(b, run, "n")
	if err := kv.Put(a, run, "n", va+1); err != nil {
		t.Fatal(err)
	}
	if _, err := cells.Init(a, run, "side", 1); err != nil { // another store in the same tx
		t.Fatal(err)
	}
	if err := kv.Put(b, run, "n", vb+1); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	err := a.Commit()
	wantErr(t, "lost-update commit", err, ErrConflict)
	mustView(t, db, func(tx *Tx) error {
		if v, _ := kv.Get(tx, run, "n"); v != 1 {
			t.Errorf("n = %d, want 1", v)
		}
		if _, ok := cells.Read(tx, run, "side"); ok {
			t.Error("a conflicting commit left its other write visible")
		}
		return nil
	})
}

// A failed operation does not poison the transaction.
func TestFailedOpsDoNotPoison(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "log"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error { _, err := cells.Init(tx, run, "c", 1); return err })
	mine := errors.New("refused")
	mustUpdate(t, db, func(tx *Tx) error {
		wantErr(t, "zero run", kv.Put(tx, RunID{}, "k", 1), ErrInvalid)
		wantErr(t, "empty key", kv.Put(tx, run, "", 1), ErrInvalid)
		_, err := cells.Init(tx, run, "c", 2)
		wantErr(t, "Init existing", err, ErrExists)
		_, err = cells.CAS(tx, run, "c", 7, 2)
		wantErr(t, "CAS", err, ErrVersionMismatch)
		_, err = cells.Transition(tx, run, "c", func(int) (int, error) { return 0, mine })
		if err != mine {
			t.Errorf("Transition error = %v, want fn's own", err)
		}
		_, err = cells.Transition(tx, run, "absent", func(n int) (int, error) { return n, nil })
		wantErr(t, "Transition absent", err, ErrNotFound)
		_, err = log.Append(tx, run, "", "x")
		wantErr(t, "empty event type", err, ErrInvalid)
		_, err = log.ReadRange(tx, run, 2, 1)
		wantErr(t, "start > end", err, ErrInvalid)
		if _, err := log.Append(tx, run, "ok", "x"); err != nil {
			return err
		}
		return kv.Put(tx, run, "k", 1)
	})
	mustView(t, db, func(tx *Tx) error {
		if v, ok := kv.Get(tx, run, "k"); !ok || v != 1 {
			t.Error("write after failed ops lost")
		}
		if st, _ := cells.Read(tx, run, "c"); st.Value != 1 || st.Version != 1 {
			t.Errorf("failed ops changed the cell: %+v", st)
		}
		if n := log.Len(tx, run); n != 1 {
			t.Errorf("log length %d, want 1", n)
		}
		keys, _ := kv.List(tx, run, "")
		if len(keys) != 1 {
			t.Errorf("keys = %v", keys)
		}
		return nil
	})
}

// Every timestamped write of one transaction records the same time; a later
// transaction records a later or equal one.
func TestTxTimestamp(t *testing.T) {
	db := openDB(t)
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "log"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error {
		if _, err := cells.Init(tx, run, "a", 1); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
		if _, err := log.Append(tx, run, "t", "x"); err != nil {
			return err
		}
		_, err := cells.Init(tx, run, "b", 1)
		return err
	})
	time.Sleep(2 * time.Millisecond)
	mustUpdate(t, db, func(tx *Tx) error { _, err := cells.Set(tx, run, "a", 2); return err })
	mustView(t, db, func(tx *Tx) error {
		b, _ := cells.Read(tx, run, "b")
		a, _ := cells.Read(tx, run, "a")
		e, _ := log.Read(tx, run, 0)
		if !e.Timestamp.Equal(b.UpdatedAt) || e.Timestamp.IsZero() {
			t.Errorf("one transaction, two times: %v %v", e.Timestamp, b.UpdatedAt)
		}
		if !a.UpdatedAt.After(b.UpdatedAt) {
			t.Errorf("later transaction stamped %v, not after %v", a.UpdatedAt, b.UpdatedAt)
		}
		if e.Timestamp != e.Timestamp.Round(0) {
			t.Error("timestamp carries a monotonic reading")
		}
		return nil
	})
}

// TestClosureHandleAfterReturn: the *Tx of a View or Update closure is kept
// with the transaction object (txn.Tx.Attached) and reused by later
// closures; one kept past its closure is dead until then: it reads nothing
// and refuses writes, and a later closure's handle works.
func TestClosureHandleAfterReturn(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	run := NewRunID()
	var kept *Tx
	mustUpdate(t, db, func(tx *Tx) error {
		kept = tx
		return kv.Put(tx, run, "a", 1)
	})
	if !kept.Done() {
		t.Fatal("an Update's handle is live after Update returned")
	}
	if _, ok := kv.Get(kept, run, "a"); ok {
		t.Error("a kept handle reads")
	}
	wantErr(t, "Put through a kept handle", kv.Put(kept, run, "b", 2), ErrTxDone)
	mustView(t, db, func(tx *Tx) error {
		if v, ok := kv.Get(tx, run, "a"); !ok || v != 1 {
			t.Errorf("Get in View = %d, %v", v, ok)
		}
		return nil
	})
}
