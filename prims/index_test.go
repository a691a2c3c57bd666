package prims

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestSetIndex(t *testing.T) {
	db := openDB(t)
	x := newSetIndex[RunID](db, hashRun, strings.Compare)
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error {
		for _, s := range []string{"m", "c", "x", "a", "c"} {
			if _, err := x.Add(tx, run, s); err != nil {
				return err
			}
		}
		if got := x.Items(tx, run); !slices.Equal(got, []string{"a", "c", "m", "x"}) {
			t.Errorf("items in tx = %v", got)
		}
		if removed, _ := x.Remove(tx, run, "m"); !removed {
			t.Error("Remove(m) = false")
		}
		if removed, _ := x.Remove(tx, run, "zz"); removed {
			t.Error("Remove(zz) = true")
		}
		return nil
	})
	// A read-only snapshot holds the committed set while another
	// transaction changes the set: the published object must not change.
	mustView(t, db, func(snap *Tx) error {
		before := x.Items(snap, run)
		mustUpdate(t, db, func(tx *Tx) error {
			if added, _ := x.Add(tx, run, "b"); !added {
				t.Error("Add(b) = false")
			}
			if added, _ := x.Add(tx, run, "b"); added {
				t.Error("second Add(b) = true")
			}
			if _, err := x.Add(tx, run, "z"); err != nil { // in place now
				return err
			}
			_, err := x.Remove(tx, run, "a")
			return err
		})
		if !slices.Equal(before, []string{"a", "c", "x"}) || !slices.Equal(x.Items(snap, run), before) {
			t.Errorf("a published set was mutated: %v, snapshot now reads %v", before, x.Items(snap, run))
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		if got := x.Items(tx, run); !slices.Equal(got, []string{"b", "c", "x", "z"}) {
			t.Errorf("items = %v", got)
		}
		if !x.Contains(tx, run, "c") || x.Contains(tx, run, "a") || x.Len(tx, run) != 4 {
			t.Error("Contains/Len wrong")
		}
		return nil
	})
	// Removing the last item deletes the record; Clear deletes the set.
	other := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error {
		if _, err := x.Add(tx, other, "only"); err != nil {
			return err
		}
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error {
		if _, err := x.Remove(tx, other, "only"); err != nil {
			return err
		}
		return x.Clear(tx, run)
	})
	mustView(t, db, func(tx *Tx) error {
		if x.Items(tx, other) != nil || x.Items(tx, run) != nil {
			t.Error("sets not deleted")
		}
		return nil
	})
}

// Changes to one key's set conflict with readers of that set only.
func TestSetIndexPhantom(t *testing.T) {
	db := openDB(t)
	x := newSetIndex[RunID](db, hashRun, strings.Compare)
	a, b := NewRunID(), NewRunID()
	// Phantom protection counts inserts per hash partition, so two keys in
	// one partition conflict by design (a false conflict is allowed; a
	// missed one is not). Random runs shared a partition in about 1 run of
	// 64, and the first half of this test then failed; pick b elsewhere.
	for x.s.PartitionOf(b) == x.s.PartitionOf(a) {
		b = NewRunID()
	}
	reader := db.Begin()
	_ = x.Items(reader, a)
	mustUpdate(t, db, func(tx *Tx) error { _, err := x.Add(tx, b, "k"); return err })
	if _, err := x.Add(reader, a, "mine"); err != nil {
		t.Fatal(err)
	}
	if err := reader.Commit(); err != nil {
		t.Fatalf("insert into another key's set conflicted: %v", err)
	}
	reader = db.Begin()
	_ = x.Items(reader, a)
	mustUpdate(t, db, func(tx *Tx) error { _, err := x.Add(tx, a, "k"); return err })
	if _, err := x.Add(reader, b, "w"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "reader of a changed set", reader.Commit(), ErrConflict)
}

func TestListIndex(t *testing.T) {
	db := openDB(t)
	x := newListIndex[runKey, string](db, hashRunKey)
	run := NewRunID()
	l1, l2 := runKey{run, "tool"}, runKey{run, "thought"}
	mustUpdate(t, db, func(tx *Tx) error {
		for i, s := range []string{"a", "b", "c"} {
			n, err := x.Append(tx, l1, s)
			if err != nil || n != uint64(i) {
				t.Errorf("Append = %d, %v; want %d", n, err, i)
			}
		}
		_, err := x.Append(tx, l2, "z")
		return err
	})
	mustView(t, db, func(tx *Tx) error {
		if x.Len(tx, l1) != 3 || x.Len(tx, l2) != 1 || x.Len(tx, runKey{run, "none"}) != 0 {
			t.Error("Len wrong")
		}
		if v, ok := x.Get(tx, l1, 1); !ok || v != "b" {
			t.Errorf("Get(1) = %q, %v", v, ok)
		}
		var got []string
		x.Range(tx, l1, 1, 10, func(n uint64, s string) bool { got = append(got, s); return true })
		if !slices.Equal(got, []string{"b", "c"}) {
			t.Errorf("Range = %v", got)
		}
		got = nil
		x.Range(tx, l1, 0, 3, func(n uint64, s string) bool { got = append(got, s); return n < 1 })
		if !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("Range stopped = %v", got)
		}
		return nil
	})
	// Phantom: a reader of the length conflicts with an append.
	reader := db.Begin()
	_ = x.Len(reader, l1)
	mustUpdate(t, db, func(tx *Tx) error { _, err := x.Append(tx, l1, "d"); return err })
	if _, err := x.Append(reader, l2, "y"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "reader of an appended list", reader.Commit(), ErrConflict)

	mustUpdate(t, db, func(tx *Tx) error { return x.Clear(tx, l1) })
	mustView(t, db, func(tx *Tx) error {
		if _, ok := x.Get(tx, l1, 0); ok || x.Len(tx, l1) != 0 || x.Len(tx, l2) != 1 {
			t.Error("Clear wrong")
		}
		return nil
	})
}

func TestHashers(t *testing.T) {
	a := NewRunID()
	b := a
	b[15] ^= 1
	if hashRun(a, 1) == hashRun(b, 1) || hashRun(a, 1) == hashRun(a, 2) {
		t.Error("hashRun ignores a bit of the run or the seed")
	}
	if hashRunKey(runKey{a, "x"}, 0) == hashRunKey(runKey{a, "y"}, 0) ||
		hashRunKey(runKey{a, "x"}, 0) == hashRunKey(runKey{b, "x"}, 0) {
		t.Error("hashRunKey collides on a one-byte change")
	}
	if hashRunSeq(runSeq{a, 1}, 0) == hashRunSeq(runSeq{a, 2}, 0) {
		t.Error("hashRunSeq collides")
	}
	// Dense sequences spread over the low bits (tag and group).
	seen, seenRun := map[uint64]int{}, map[uint64]int{}
	for i := range uint64(4096) {
		seen[hashRunSeq(runSeq{a, i}, 7)&0xfff]++
	}
	if len(seen) < 2400 { // about 4096*(1-1/e) = 2589 expected
		t.Errorf("only %d distinct 12-bit buckets for 4096 sequence numbers", len(seen))
	}
	// Dense runs and dense keys too, for many seeds.
	for seed := range uint64(50) {
		clear(seen)
		clear(seenRun)
		for i := range uint64(4096) {
			seen[hashRunKey(runKey{a, fmt.Sprintf("k%04d", i)}, seed)&0xfff]++
			var r, q RunID
			binary.BigEndian.PutUint64(r[8:], i)    // counter in the high bits of a word
			binary.LittleEndian.PutUint64(q[:8], i) // in the low bits
			seenRun[hashRun(r, seed)&0xfff]++
			seenRun[hashRun(q, seed)&0xfff|0x1000]++
		}
		if len(seen) < 2400 || len(seenRun) < 4800 {
			t.Fatalf("seed %d: %d / %d distinct 12-bit buckets for 4096 dense keys / runs", seed, len(seen), len(seenRun))
		}
	}
}
