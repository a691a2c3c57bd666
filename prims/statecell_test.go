package prims

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/substrate-lab/substrate/mvcc"
)

func TestStateCell(t *testing.T) {
	db := openDB(t)
	cells := must[*StateCell[string]](t)(NewStateCell[string](db, "cells"))
	run := NewRunID()
	start := time.Now().Add(-time.Second)
	mustUpdate(t, db, func(tx *Tx) error {
		if v, err := cells.Init(tx, run, "plan", "draft"); err != nil || v != 1 {
			t.Errorf("Init = %d, %v", v, err)
		}
		_, err := cells.Init(tx, run, "plan", "again")
		wantErr(t, "Init twice", err, ErrExists)
		st, ok := cells.Read(tx, run, "plan")
		if !ok || st.Value != "draft" || st.Version != 1 || st.UpdatedAt.Before(start) {
			t.Errorf("Read = %+v, %v", st, ok)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error {
		if v, err := cells.Set(tx, run, "plan", "v2"); err != nil || v != 2 {
			t.Errorf("Set = %d, %v", v, err)
		}
		if v, err := cells.Set(tx, run, "fresh", "f"); err != nil || v != 1 {
			t.Errorf("Set(absent) = %d, %v", v, err)
		}
		if v, err := cells.CAS(tx, run, "plan", 2, "v3"); err != nil || v != 3 {
			t.Errorf("CAS = %d, %v", v, err)
		}
		_, err := cells.CAS(tx, run, "plan", 2, "stale")
		wantErr(t, "CAS stale", err, ErrVersionMismatch)
		_, err = cells.CAS(tx, run, "absent", 0, "x")
		wantErr(t, "CAS absent", err, ErrVersionMismatch)
		v, err := cells.Transition(tx, run, "plan", func(s string) (string, error) { return s + "!", nil })
		if err != nil || v != 4 {
			t.Errorf("Transition = %d, %v", v, err)
		}
		_, err = cells.Transition(tx, run, "absent", func(s string) (string, error) { return s, nil })
		wantErr(t, "Transition absent", err, ErrNotFound)
		_, err = cells.Transition(tx, run, "plan", nil)
		wantErr(t, "Transition nil fn", err, ErrInvalid)
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		if st, _ := cells.Read(tx, run, "plan"); st.Value != "v3!" || st.Version != 4 {
			t.Errorf("plan = %+v", st)
		}
		if _, ok := cells.Read(tx, run, "absent"); ok {
			t.Error("absent cell read")
		}
		if _, ok := cells.Read(tx, RunID{}, "plan"); ok {
			t.Error("zero run read")
		}
		if _, ok := cells.Read(tx, run, ""); ok {
			t.Error("empty name read")
		}
		_, err := cells.Set(tx, run, "plan", "x")
		wantErr(t, "Set in View", err, ErrReadOnly)
		called := false
		_, err = cells.Transition(tx, run, "plan", func(s string) (string, error) { called = true; return s, nil })
		wantErr(t, "Transition in View", err, ErrReadOnly)
		if called {
			t.Error("Transition ran fn in a read-only transaction")
		}
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error {
		if ok, err := cells.Delete(tx, run, "plan"); !ok || err != nil {
			t.Errorf("Delete = %v, %v", ok, err)
		}
		if ok, err := cells.Delete(tx, run, "plan"); ok || err != nil {
			t.Errorf("Delete twice = %v, %v", ok, err)
		}
		// After Delete, Init starts again at version 1.
		if v, err := cells.Init(tx, run, "plan", "reborn"); err != nil || v != 1 {
			t.Errorf("Init after Delete = %d, %v", v, err)
		}
		for name, e := range map[string]error{
			"Init zero run":  func() error { _, err := cells.Init(tx, RunID{}, "a", ""); return err }(),
			"Init empty":     func() error { _, err := cells.Init(tx, run, "", ""); return err }(),
			"Set empty":      func() error { _, err := cells.Set(tx, run, "", ""); return err }(),
			"CAS zero run":   func() error { _, err := cells.CAS(tx, RunID{}, "a", 1, ""); return err }(),
			"Delete empty":   func() error { _, err := cells.Delete(tx, run, ""); return err }(),
			"Transition run": func() error { _, err := cells.Transition(tx, RunID{}, "a", nil); return err }(),
		} {
			wantErr(t, name, e, ErrInvalid)
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		if st, _ := cells.Read(tx, run, "plan"); st.Value != "reborn" || st.Version != 1 {
			t.Errorf("plan = %+v", st)
		}
		return nil
	})
}

// fn's error comes back unchanged and nothing is written; the error aborts
// Update without a retry.
func TestStateCellTransitionError(t *testing.T) {
	db := openDB(t)
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error { _, err := cells.Init(tx, run, "n", 1); return err })
	refused := errors.New("refused")
	calls := 0
	err := db.Update(func(tx *Tx) error {
		_, err := cells.Transition(tx, run, "n", func(n int) (int, error) { calls++; return n + 1, refused })
		return err
	})
	if err != refused || calls != 1 {
		t.Fatalf("err = %v after %d calls; want fn's error after 1", err, calls)
	}
	mustView(t, db, func(tx *Tx) error {
		if st, _ := cells.Read(tx, run, "n"); st.Value != 1 || st.Version != 1 {
			t.Errorf("failed transition wrote: %+v", st)
		}
		return nil
	})
}

// Concurrent transitions of one cell: the final value and version equal the
// number of successful transitions.
func TestStateCellConcurrentTransitions(t *testing.T) {
	db := openDB(t)
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error { _, err := cells.Init(tx, run, "n", 0); return err })
	const workers, per = 4, 250
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				err := db.Update(func(tx *Tx) error {
					_, err := cells.Transition(tx, run, "n", func(n int) (int, error) { return n + 1, nil })
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	mustView(t, db, func(tx *Tx) error {
		st, _ := cells.Read(tx, run, "n")
		if int64(st.Value) != ok.Load() || st.Version != uint64(ok.Load())+1 {
			t.Errorf("final %+v after %d successful transitions", st, ok.Load())
		}
		return nil
	})
}

// Concurrent CAS: exactly one CAS per version wins.
func TestStateCellConcurrentCAS(t *testing.T) {
	db := openDB(t)
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error { _, err := cells.Init(tx, run, "n", 0); return err })
	const workers, per = 4, 200
	var wins, mismatches atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				var seen State[int]
				db.View(func(tx *Tx) error { seen, _ = cells.Read(tx, run, "n"); return nil })
				err := db.Update(func(tx *Tx) error {
					_, err := cells.CAS(tx, run, "n", seen.Version, seen.Value+1)
					return err
				})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, ErrVersionMismatch):
					mismatches.Add(1)
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	mustView(t, db, func(tx *Tx) error {
		st, _ := cells.Read(tx, run, "n")
		if int64(st.Value) != wins.Load() || st.Version != uint64(wins.Load())+1 {
			t.Errorf("final %+v after %d winning CAS (%d mismatches)", st, wins.Load(), mismatches.Load())
		}
		return nil
	})
}

// A cell stores its time as Unix nanoseconds (storedState): Read must still
// return exactly the State the write built, UpdatedAt included (== compares
// the wall, monotonic and location fields), from the writer's own write and
// from a later snapshot; and the stored form keeps a uint64 cell's record
// at 72 bytes (size class 80, against 96 with a time.Time).
func TestStateCellStoresExactTime(t *testing.T) {
	db := openDB(t)
	cells := must[*StateCell[uint64]](t)(NewStateCell[uint64](db, "exact"))
	run := NewRunID()
	var want State[uint64]
	mustUpdate(t, db, func(tx *Tx) error {
		want = State[uint64]{Value: 7, Version: 1, UpdatedAt: time.Unix(0, tx.now())}
		if _, err := cells.Init(tx, run, "c", 7); err != nil {
			return err
		}
		if st, ok := cells.Read(tx, run, "c"); !ok || st != want {
			t.Errorf("own write reads %+v, %v; want %+v", st, ok, want)
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		if st, ok := cells.Read(tx, run, "c"); !ok || st != want {
			t.Errorf("snapshot reads %+v, %v; want %+v", st, ok, want)
		}
		return nil
	})
	if got := unsafe.Sizeof(mvcc.Record[storedState[uint64]]{}); got != 72 {
		t.Errorf("Sizeof(mvcc.Record[storedState[uint64]]) = %d, want 72", got)
	}
}
