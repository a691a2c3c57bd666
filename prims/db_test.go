package prims

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/substrate-lab/substrate/txn"
)

// openDB opens a DB closed at the end of the test.
func openDB(t testing.TB, opts ...Option) *DB {
	t.Helper()
	db, err := Open(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mustUpdate(t testing.TB, db *DB, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.Update(fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustView(t testing.TB, db *DB, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.View(fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

func TestSentinelsAreTxns(t *testing.T) {
	if ErrConflict != txn.ErrConflict || ErrTxDone != txn.ErrTxDone || ErrReadOnly != txn.ErrReadOnly {
		t.Fatal("ErrConflict, ErrTxDone and ErrReadOnly must be txn's sentinels")
	}
	all := []error{ErrConflict, ErrExists, ErrNotFound, ErrVersionMismatch, ErrInvalidTransition, ErrClosed, ErrTxDone, ErrReadOnly, ErrInvalid}
	for i, a := range all {
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v is %v", a, b)
			}
		}
	}
}

func TestUpdateView(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "a", 1) })
	mustView(t, db, func(tx *Tx) error {
		if v, ok := kv.Get(tx, run, "a"); !ok || v != 1 {
			t.Errorf("Get = %v, %v", v, ok)
		}
		if !tx.ReadOnly() {
			t.Error("View tx not read-only")
		}
		wantErr(t, "Put in View", kv.Put(tx, run, "b", 2), ErrReadOnly)
		_, err := kv.Delete(tx, run, "a")
		wantErr(t, "Delete in View", err, ErrReadOnly)
		return nil
	})
	// fn's own error comes back unchanged and nothing is written.
	mine := errors.New("mine")
	err := db.Update(func(tx *Tx) error {
		if err := kv.Put(tx, run, "a", 99); err != nil {
			return err
		}
		return mine
	})
	if err != mine {
		t.Fatalf("Update returned %v, want fn's error itself", err)
	}
	if err := db.View(func(tx *Tx) error { return mine }); err != mine {
		t.Fatalf("View returned %v, want fn's error itself", err)
	}
	mustView(t, db, func(tx *Tx) error {
		if v, _ := kv.Get(tx, run, "a"); v != 1 {
			t.Errorf("aborted Update leaked: a = %d", v)
		}
		return nil
	})
	wantErr(t, "Update(nil)", db.Update(nil), ErrInvalid)
	wantErr(t, "View(nil)", db.View(nil), ErrInvalid)
	var nilDB *DB
	wantErr(t, "nil DB Update", nilDB.Update(func(*Tx) error { return nil }), ErrInvalid)
	if nilDB.Close() != nil {
		t.Error("nil DB Close failed")
	}
}

func TestUpdateRetriesConflicts(t *testing.T) {
	db := openDB(t)
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "c"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error { _, err := cells.Init(tx, run, "n", 0); return err })
	attempts := 0
	mustUpdate(t, db, func(tx *Tx) error {
		attempts++
		if _, err := cells.Transition(tx, run, "n", func(n int) (int, error) { return n + 1, nil }); err != nil {
			return err
		}
		if attempts == 1 { // a concurrent commit of the same cell: this attempt must fail
			other := db.Begin()
			if _, err := cells.Set(other, run, "n", 100); err != nil {
				return err
			}
			if err := other.Commit(); err != nil {
				return err
			}
		}
		return nil
	})
	if attempts != 2 {
		t.Fatalf("attempts = %d, want 2", attempts)
	}
	mustView(t, db, func(tx *Tx) error {
		if st, _ := cells.Read(tx, run, "n"); st.Value != 101 || st.Version != 3 {
			t.Errorf("state = %+v, want 101 at version 3", st)
		}
		return nil
	})

	// Bounded: a policy of 3 attempts gives up with a RetryError wrapping
	// ErrConflict.
	db2 := openDB(t, WithRetryPolicy(txn.RetryPolicy{MaxAttempts: 3}))
	n := 0
	err := db2.Update(func(tx *Tx) error { n++; return ErrConflict })
	var re *txn.RetryError
	if !errors.Is(err, ErrConflict) || !errors.As(err, &re) || n != 3 {
		t.Fatalf("err = %v after %d attempts; want a RetryError wrapping ErrConflict after 3", err, n)
	}
}

func TestUpdatePanicRollsBack(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	run := NewRunID()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic was swallowed")
			}
		}()
		_ = db.Update(func(tx *Tx) error {
			_ = kv.Put(tx, run, "a", 1)
			panic("boom")
		})
	}()
	mustView(t, db, func(tx *Tx) error {
		if _, ok := kv.Get(tx, run, "a"); ok {
			t.Error("panicking Update committed")
		}
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "a", 2) })
}

func TestClose(t *testing.T) {
	db := must[*DB](t)(Open())
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "log"))
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "a", 1) })

	open := db.Begin() // begun before Close
	if err := kv.Put(open, run, "b", 2); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	wantErr(t, "Put on tx begun before Close", kv.Put(open, run, "c", 3), ErrClosed)
	wantErr(t, "Commit after Close", open.Commit(), ErrClosed)
	wantErr(t, "Update", db.Update(func(*Tx) error { return nil }), ErrClosed)
	wantErr(t, "View", db.View(func(*Tx) error { return nil }), ErrClosed)
	_, err := NewKVStore[int](db, "kv")
	wantErr(t, "NewKVStore", err, ErrClosed)
	_, err = NewEventLog[int](db, "other")
	wantErr(t, "NewEventLog", err, ErrClosed)
	_, err = NewStateCell[int](db, "x")
	wantErr(t, "NewStateCell", err, ErrClosed)

	tx := db.Begin()
	if !tx.Done() {
		t.Error("Begin on a closed DB returned a live tx")
	}
	if _, ok := kv.Get(tx, run, "a"); ok {
		t.Error("Get on a closed DB found a value")
	}
	wantErr(t, "Put", kv.Put(tx, run, "a", 1), ErrClosed)
	_, err = kv.Delete(tx, run, "a")
	wantErr(t, "Delete", err, ErrClosed)
	_, err = kv.List(tx, run, "")
	wantErr(t, "List", err, ErrClosed)
	_, err = log.Append(tx, run, "t", "p")
	wantErr(t, "Append", err, ErrClosed)
	_, err = log.ReadRange(tx, run, 0, 1)
	wantErr(t, "ReadRange", err, ErrClosed)
	_, err = log.VerifyChain(tx, run)
	wantErr(t, "VerifyChain", err, ErrClosed)
	if log.Len(tx, run) != 0 {
		t.Error("Len on a closed DB")
	}
	_, err = cells.Init(tx, run, "n", 1)
	wantErr(t, "Init", err, ErrClosed)
	_, err = cells.Set(tx, run, "n", 1)
	wantErr(t, "Set", err, ErrClosed)
	_, err = cells.CAS(tx, run, "n", 1, 2)
	wantErr(t, "CAS", err, ErrClosed)
	_, err = cells.Transition(tx, run, "n", func(n int) (int, error) { return n, nil })
	wantErr(t, "Transition", err, ErrClosed)
	_, err = cells.Delete(tx, run, "n")
	wantErr(t, "Delete cell", err, ErrClosed)
	wantErr(t, "Commit", tx.Commit(), ErrClosed)
	wantErr(t, "deleteRunData", db.deleteRunData(tx, run), ErrClosed)
}

func TestNamedStores(t *testing.T) {
	db := openDB(t)
	a := must[*KVStore[int]](t)(NewKVStore[int](db, "a"))
	if again := must[*KVStore[int]](t)(NewKVStore[int](db, "a")); again != a {
		t.Error("reopening a KV store returned another store")
	}
	if a.Name() != "a" {
		t.Errorf("Name() = %q", a.Name())
	}
	_, err := NewKVStore[string](db, "a")
	wantErr(t, "KV of another type", err, ErrExists)
	if err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("error does not name the store: %v", err)
	}
	_, err = NewEventLog[int](db, "a")
	wantErr(t, "event log under a KV name", err, ErrExists)
	_, err = NewStateCell[int](db, "a")
	wantErr(t, "state cell under a KV name", err, ErrExists)

	l := must[*EventLog[[]byte]](t)(NewEventLog[[]byte](db, "log"))
	if again := must[*EventLog[[]byte]](t)(NewEventLog[[]byte](db, "log")); again != l {
		t.Error("reopening an event log returned another log")
	}
	_, err = NewKVStore[int](db, "log")
	wantErr(t, "KV under a log name", err, ErrExists)
	c := must[*StateCell[int]](t)(NewStateCell[int](db, "cell"))
	if again := must[*StateCell[int]](t)(NewStateCell[int](db, "cell")); again != c {
		t.Error("reopening a state cell returned another store")
	}
	_, err = NewStateCell[int64](db, "cell")
	wantErr(t, "cell of another type", err, ErrExists)

	for _, e := range []error{
		func() error { _, err := NewKVStore[int](db, ""); return err }(),
		func() error { _, err := NewEventLog[int](db, ""); return err }(),
		func() error { _, err := NewStateCell[int](db, ""); return err }(),
		func() error { _, err := NewKVStore[int](nil, "x"); return err }(),
	} {
		wantErr(t, "empty name or nil DB", e, ErrInvalid)
	}

	// Stores of one DB are unusable with another DB's transactions.
	db2 := openDB(t)
	tx := db2.Begin()
	defer tx.Rollback()
	wantErr(t, "foreign tx", a.Put(tx, NewRunID(), "k", 1), ErrInvalid)
	if _, ok := a.Get(tx, NewRunID(), "k"); ok {
		t.Error("Get with a foreign tx found something")
	}
	if err := tx.Commit(); err != nil {
		t.Errorf("foreign use poisoned the tx: %v", err)
	}
}

func TestComponent(t *testing.T) {
	db := openDB(t)
	var built atomic.Int32
	mk := func() *int { built.Add(1); return new(int) }
	a := component(db, "x", mk)
	b := component(db, "x", mk)
	c := component(db, "y", mk)
	if a != b || a == c || built.Load() != 2 {
		t.Fatalf("component: a=%p b=%p c=%p built=%d", a, b, c, built.Load())
	}
}

func TestDeleteRunData(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[string]](t)(NewKVStore[string](db, "kv"))
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "log"))
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	var hooked []RunID
	db.registerRunHook(func(tx *Tx, run RunID) error { hooked = append(hooked, run); return nil })
	doomed, kept := NewRunID(), NewRunID()
	mustUpdate(t, db, func(tx *Tx) error {
		for _, run := range []RunID{doomed, kept} {
			for _, k := range []string{"a", "b", "c"} {
				if err := kv.Put(tx, run, k, k); err != nil {
					return err
				}
				if _, err := log.Append(tx, run, "t", k); err != nil {
					return err
				}
				if _, err := cells.Init(tx, run, k, 1); err != nil {
					return err
				}
			}
		}
		return nil
	})
	hooked = nil
	mustUpdate(t, db, func(tx *Tx) error { return db.deleteRunData(tx, doomed) })
	if len(hooked) != 1 || hooked[0] != doomed {
		t.Errorf("registered hook saw %v", hooked)
	}
	mustView(t, db, func(tx *Tx) error {
		for run, want := range map[RunID]int{doomed: 0, kept: 3} {
			keys, _ := kv.List(tx, run, "")
			n := 0
			for _, k := range []string{"a", "b", "c"} {
				if _, ok := kv.Get(tx, run, k); ok {
					n++
				}
				if _, ok := cells.Read(tx, run, k); ok {
					n++
				}
			}
			evs, _ := log.ReadRange(tx, run, 0, 10)
			if len(keys) != want || n != 2*want || int(log.Len(tx, run)) != want || len(evs) != want {
				t.Errorf("run with %d expected: keys %v, kv+cells %d, log %d/%d", want, keys, n, log.Len(tx, run), len(evs))
			}
			if _, ok := log.Read(tx, run, 0); ok != (want > 0) {
				t.Errorf("event 0 present = %v", ok)
			}
		}
		return nil
	})
	// The run can be reused afterwards: fresh log from seq 0, fresh cells.
	mustUpdate(t, db, func(tx *Tx) error {
		if seq, err := log.Append(tx, doomed, "t", "again"); err != nil || seq != 0 {
			t.Errorf("append after delete: %d, %v", seq, err)
		}
		if v, err := cells.Init(tx, doomed, "a", 5); err != nil || v != 1 {
			t.Errorf("init after delete: %d, %v", v, err)
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		wantErr(t, "deleteRunData in View", db.deleteRunData(tx, kept), ErrReadOnly)
		return nil
	})
	tx := db.Begin()
	wantErr(t, "deleteRunData(zero)", db.deleteRunData(tx, RunID{}), ErrInvalid)
	tx.Rollback()
}

// A cascade delete reads what it deletes: an insert into the run committed
// meanwhile makes it conflict instead of leaving an orphan.
func TestDeleteRunDataPhantom(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "a", 1) })
	del := db.Begin()
	if err := db.deleteRunData(del, run); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "late", 2) })
	wantErr(t, "delete racing an insert", del.Commit(), ErrConflict)
	mustView(t, db, func(tx *Tx) error {
		if keys, _ := kv.List(tx, run, ""); len(keys) != 2 {
			t.Errorf("keys = %v", keys)
		}
		return nil
	})
}

func TestViewNeverBlocksOrConflicts(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "a", 1) })
	done := make(chan struct{})
	err := db.View(func(tx *Tx) error {
		go func() {
			defer close(done)
			mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "a", 2) })
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("a writer waited for a reader")
		}
		if v, _ := kv.Get(tx, run, "a"); v != 1 {
			t.Errorf("snapshot moved: a = %d", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Writers change a KV entry and a state cell together; readers in View must
// always see them matching (and the event log at the same length).
func TestCrossPrimitiveSnapshots(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	log := must[*EventLog[int]](t)(NewEventLog[int](db, "log"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error {
		if err := kv.Put(tx, run, "n", 0); err != nil {
			return err
		}
		_, err := cells.Init(tx, run, "n", 0)
		return err
	})
	const writers, per = 2, 300
	var wg sync.WaitGroup
	var stop atomic.Bool
	var views atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				err := db.View(func(tx *Tx) error {
					a, _ := kv.Get(tx, run, "n")
					st, _ := cells.Read(tx, run, "n")
					n := log.Len(tx, run)
					if a != st.Value || uint64(a) != n || st.Version != n+1 {
						return fmt.Errorf("torn snapshot: kv %d, cell %+v, log %d", a, st, n)
					}
					if n > 0 {
						if e, ok := log.Read(tx, run, n-1); !ok || e.Payload != a {
							return fmt.Errorf("torn snapshot: last event %+v, kv %d", e, a)
						}
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				views.Add(1)
			}
		}()
	}
	var ww sync.WaitGroup
	for range writers {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for range per {
				err := db.Update(func(tx *Tx) error {
					v, err := cells.Transition(tx, run, "n", func(n int) (int, error) { return n + 1, nil })
					if err != nil {
						return err
					}
					if err := kv.Put(tx, run, "n", int(v-1)); err != nil {
						return err
					}
					_, err = log.Append(tx, run, "inc", int(v-1))
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	ww.Wait()
	stop.Store(true)
	wg.Wait()
	mustView(t, db, func(tx *Tx) error {
		if v, _ := kv.Get(tx, run, "n"); v != writers*per {
			t.Errorf("final %d, want %d", v, writers*per)
		}
		return nil
	})
	if views.Load() == 0 {
		t.Error("no snapshot was checked")
	}
}

// TestNilStores: a store pointer left nil by a failed constructor (or a
// zero store value) fails every operation with an error wrapping
// ErrInvalid, or reports nothing found, instead of panicking; the
// transaction it was used in stays usable and commits.
func TestNilStores(t *testing.T) {
	db := openDB(t)
	run := NewRunID()
	var (
		kv     *KVStore[int]
		events *EventLog[int]
		cells  *StateCell[int]
		traces *TraceStore
		runs   *RunIndex
	)
	zeroKV, zeroEvents, zeroCells := &KVStore[int]{}, &EventLog[int]{}, &StateCell[int]{}
	good := must[*KVStore[int]](t)(NewKVStore[int](db, "good"))
	for _, c := range []struct {
		name   string
		kv     *KVStore[int]
		events *EventLog[int]
		cells  *StateCell[int]
	}{{"nil", kv, events, cells}, {"zero", zeroKV, zeroEvents, zeroCells}} {
		if c.kv.Name() != "" || c.events.Name() != "" || c.cells.Name() != "" {
			t.Errorf("%s stores: Name not empty", c.name)
		}
		mustUpdate(t, db, func(tx *Tx) error {
			calls := map[string]error{"kv.Put": c.kv.Put(tx, run, "k", 1)}
			_, calls["kv.Delete"] = c.kv.Delete(tx, run, "k")
			_, calls["kv.List"] = c.kv.List(tx, run, "")
			_, calls["events.Append"] = c.events.Append(tx, run, "t", 1)
			_, calls["events.ReadRange"] = c.events.ReadRange(tx, run, 0, 1)
			_, calls["events.VerifyChain"] = c.events.VerifyChain(tx, run)
			_, calls["cells.Init"] = c.cells.Init(tx, run, "c", 1)
			_, calls["cells.Set"] = c.cells.Set(tx, run, "c", 1)
			_, calls["cells.CAS"] = c.cells.CAS(tx, run, "c", 1, 2)
			_, calls["cells.Transition"] = c.cells.Transition(tx, run, "c", func(s int) (int, error) { return s, nil })
			_, calls["cells.Delete"] = c.cells.Delete(tx, run, "c")
			for name, err := range calls {
				wantErr(t, c.name+" "+name, err, ErrInvalid)
			}
			if _, ok := c.kv.Get(tx, run, "k"); ok {
				t.Errorf("%s kv.Get found a value", c.name)
			}
			if _, ok := c.events.Read(tx, run, 0); ok || c.events.Len(tx, run) != 0 {
				t.Errorf("%s events.Read or Len found an event", c.name)
			}
			if _, ok := c.cells.Read(tx, run, "c"); ok {
				t.Errorf("%s cells.Read found a cell", c.name)
			}
			return good.Put(tx, run, c.name, 1) // tx is still usable
		})
	}
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := traces.Record(tx, run, Trace{Body: Thought{Content: "x"}})
		wantErr(t, "nil traces.Record", err, ErrInvalid)
		for name, f := range map[string]func() ([]Trace, error){
			"QueryByType": func() ([]Trace, error) { return traces.QueryByType(tx, run, KindThought) },
			"QueryByTag":  func() ([]Trace, error) { return traces.QueryByTag(tx, run, "t") },
			"Children":    func() ([]Trace, error) { return traces.Children(tx, run, 1) },
			"QueryByTime": func() ([]Trace, error) { return traces.QueryByTime(tx, run, time.Time{}, time.Now()) },
		} {
			_, err := f()
			wantErr(t, "nil traces."+name, err, ErrInvalid)
		}
		if _, ok := traces.Get(tx, run, 1); ok || traces.Len(tx, run) != 0 {
			t.Error("nil traces.Get or Len found a trace")
		}
		if _, ok := traces.Tree(tx, run, 1); ok {
			t.Error("nil traces.Tree found a trace")
		}
		_, err = runs.Create(tx, RunOptions{})
		wantErr(t, "nil runs.Create", err, ErrInvalid)
		wantErr(t, "nil runs.Transition", runs.Transition(tx, run, Completed), ErrInvalid)
		wantErr(t, "nil runs.Delete", runs.Delete(tx, run), ErrInvalid)
		_, err = runs.QueryByStatus(tx, Active)
		wantErr(t, "nil runs.QueryByStatus", err, ErrInvalid)
		_, err = runs.QueryByTag(tx, "t")
		wantErr(t, "nil runs.QueryByTag", err, ErrInvalid)
		_, err = runs.Children(tx, run)
		wantErr(t, "nil runs.Children", err, ErrInvalid)
		if _, ok := runs.Get(tx, run); ok {
			t.Error("nil runs.Get found a run")
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		for _, name := range []string{"nil", "zero"} {
			if _, ok := good.Get(tx, run, name); !ok {
				t.Errorf("the good store lost the write made beside the %s stores", name)
			}
		}
		return nil
	})
}
