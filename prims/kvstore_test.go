package prims

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestKVStore(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[string]](t)(NewKVStore[string](db, "kv"))
	run, other := NewRunID(), NewRunID()
	mustUpdate(t, db, func(tx *Tx) error {
		for _, k := range []string{"b/2", "a", "b/1", "c", "b/10"} {
			if err := kv.Put(tx, run, k, "v"+k); err != nil {
				return err
			}
		}
		return kv.Put(tx, other, "b/3", "x")
	})
	mustView(t, db, func(tx *Tx) error {
		if v, ok := kv.Get(tx, run, "b/1"); !ok || v != "vb/1" {
			t.Errorf("Get = %q %v", v, ok)
		}
		if _, ok := kv.Get(tx, other, "a"); ok {
			t.Error("runs share keys")
		}
		for prefix, want := range map[string][]string{
			"":    {"a", "b/1", "b/10", "b/2", "c"},
			"b/":  {"b/1", "b/10", "b/2"},
			"b/1": {"b/1", "b/10"},
			"c":   {"c"},
			"d":   nil,
			"0":   nil,
		} {
			got, err := kv.List(tx, run, prefix)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("List(%q) = %v, %v; want %v", prefix, got, err, want)
			}
		}
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error {
		if err := kv.Put(tx, run, "a", "new"); err != nil { // overwrite
			return err
		}
		if existed, err := kv.Delete(tx, run, "b/1"); !existed || err != nil {
			t.Errorf("Delete = %v, %v", existed, err)
		}
		if existed, err := kv.Delete(tx, run, "nope"); existed || err != nil {
			t.Errorf("Delete(absent) = %v, %v", existed, err)
		}
		if _, ok := kv.Get(tx, run, "b/1"); ok {
			t.Error("own delete not visible")
		}
		// Delete then re-put in one transaction.
		if _, err := kv.Delete(tx, run, "c"); err != nil {
			return err
		}
		return kv.Put(tx, run, "c", "again")
	})
	mustView(t, db, func(tx *Tx) error {
		got, _ := kv.List(tx, run, "")
		if !slices.Equal(got, []string{"a", "b/10", "b/2", "c"}) {
			t.Errorf("List = %v", got)
		}
		got[0] = "mutated" // the caller's copy
		if again, _ := kv.List(tx, run, ""); again[0] != "a" {
			t.Error("List returned shared memory")
		}
		if v, _ := kv.Get(tx, run, "a"); v != "new" {
			t.Errorf("a = %q", v)
		}
		if v, _ := kv.Get(tx, run, "c"); v != "again" {
			t.Errorf("c = %q", v)
		}
		return nil
	})
	// Bad input.
	mustUpdate(t, db, func(tx *Tx) error {
		wantErr(t, "Put zero run", kv.Put(tx, RunID{}, "k", ""), ErrInvalid)
		wantErr(t, "Put empty key", kv.Put(tx, run, "", ""), ErrInvalid)
		_, err := kv.Delete(tx, RunID{}, "k")
		wantErr(t, "Delete zero run", err, ErrInvalid)
		_, err = kv.Delete(tx, run, "")
		wantErr(t, "Delete empty key", err, ErrInvalid)
		_, err = kv.List(tx, RunID{}, "")
		wantErr(t, "List zero run", err, ErrInvalid)
		if _, ok := kv.Get(tx, RunID{}, "a"); ok {
			t.Error("Get zero run found a value")
		}
		if _, ok := kv.Get(tx, run, ""); ok {
			t.Error("Get empty key found a value")
		}
		return nil
	})
}

// Many keys in one transaction: the key set is built in place after its
// first copy, and stays sorted.
func TestKVStoreManyKeys(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	run := NewRunID()
	var want []string
	mustUpdate(t, db, func(tx *Tx) error {
		for i := range 500 {
			k := fmt.Sprintf("k%05d", (i*7919)%500)
			want = append(want, k)
			if err := kv.Put(tx, run, k, i); err != nil {
				return err
			}
		}
		return nil
	})
	slices.Sort(want)
	mustView(t, db, func(tx *Tx) error {
		got, _ := kv.List(tx, run, "")
		if !slices.Equal(got, want) {
			t.Errorf("List has %d keys, want %d sorted", len(got), len(want))
		}
		return nil
	})
}

// List in a read-write transaction is phantom-safe per run.
func TestKVStoreListPhantom(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	run, other := NewRunID(), NewRunID()
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "a", 1) })

	// An insert into another run does not disturb the listing.
	tx := db.Begin()
	keys, _ := kv.List(tx, run, "")
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, other, "b", 1) })
	if err := kv.Put(tx, run, "count", len(keys)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("other-run insert failed a listing: %v", err)
	}
	// An insert into the listed run does (even outside the prefix).
	tx = db.Begin()
	_, _ = kv.List(tx, run, "a")
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "zzz", 1) })
	if err := kv.Put(tx, run, "count", 0); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "listing raced by an insert", tx.Commit(), ErrConflict)
	// So does a delete.
	tx = db.Begin()
	_, _ = kv.List(tx, run, "")
	mustUpdate(t, db, func(tx *Tx) error { _, err := kv.Delete(tx, run, "zzz"); return err })
	if err := kv.Put(tx, run, "count", 0); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "listing raced by a delete", tx.Commit(), ErrConflict)
	// An overwrite of an existing key does not change the key set.
	tx = db.Begin()
	_, _ = kv.List(tx, run, "")
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "a", 99) })
	if err := kv.Put(tx, other, "c", 0); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("overwrite failed a listing: %v", err)
	}
}

// The aliasing rule: values are stored as given, not copied.
func TestKVStoreAliasing(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[[]int]](t)(NewKVStore[[]int](db, "kv"))
	run := NewRunID()
	v := []int{1, 2, 3}
	mustUpdate(t, db, func(tx *Tx) error { return kv.Put(tx, run, "v", v) })
	var got []int
	mustView(t, db, func(tx *Tx) error { got, _ = kv.Get(tx, run, "v"); return nil })
	if &got[0] != &v[0] {
		t.Fatal("Get returned a copy; the documented rule is no copy")
	}
	v[0] = 100 // a violation of the rule, visible to every reader
	mustView(t, db, func(tx *Tx) error {
		if again, _ := kv.Get(tx, run, "v"); again[0] != 100 {
			t.Error("mutation after Put not visible: values are being copied")
		}
		return nil
	})
}

// Concurrent read-modify-write counters lose nothing.
func TestKVStoreConcurrentCounters(t *testing.T) {
	db := openDB(t)
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	runs := []RunID{NewRunID(), NewRunID()}
	const workers, per = 4, 300
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				run := runs[(w+i)%2]
				key := []string{"x", "y", "z"}[i%3]
				err := db.Update(func(tx *Tx) error {
					n, _ := kv.Get(tx, run, key)
					return kv.Put(tx, run, key, n+1)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	mustView(t, db, func(tx *Tx) error {
		for _, run := range runs {
			keys, _ := kv.List(tx, run, "")
			if !slices.Equal(keys, []string{"x", "y", "z"}) {
				t.Errorf("keys = %v", keys)
			}
			for _, k := range keys {
				n, _ := kv.Get(tx, run, k)
				total += n
			}
		}
		return nil
	})
	if total != workers*per {
		t.Fatalf("counters sum to %d, want %d: lost updates", total, workers*per)
	}
}
