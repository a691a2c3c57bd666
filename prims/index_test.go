package prims

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// items collects k's items as tx sees them (nil for none) and checks that
// Len agrees.
func items[K comparable, T any](t testing.TB, x setIndex[K, T], tx *Tx, k K) []T {
	t.Helper()
	got := slices.Collect(x.All(tx, k))
	if n := x.Len(tx, k); n != len(got) {
		t.Errorf("Len = %d, All yields %d items", n, len(got))
	}
	return got
}

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
		if got := items(t, x, tx, run); !slices.Equal(got, []string{"a", "c", "m", "x"}) {
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
		before := items(t, x, snap, run)
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
		if after := items(t, x, snap, run); !slices.Equal(before, []string{"a", "c", "x"}) || !slices.Equal(after, before) {
			t.Errorf("a published set was mutated: %v, snapshot now reads %v", before, after)
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		if got := items(t, x, tx, run); !slices.Equal(got, []string{"b", "c", "x", "z"}) {
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
		if items(t, x, tx, other) != nil || items(t, x, tx, run) != nil {
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
	_ = x.Len(reader, a)
	mustUpdate(t, db, func(tx *Tx) error { _, err := x.Add(tx, b, "k"); return err })
	if _, err := x.Add(reader, a, "mine"); err != nil {
		t.Fatal(err)
	}
	if err := reader.Commit(); err != nil {
		t.Fatalf("insert into another key's set conflicted: %v", err)
	}
	reader = db.Begin()
	_ = x.Len(reader, a)
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
	l1, l2 := keyOf(run, "tool"), keyOf(run, "thought")
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
		if x.Len(tx, l1) != 3 || x.Len(tx, l2) != 1 || x.Len(tx, keyOf(run, "none")) != 0 {
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
	if hashRunKey(keyOf(a, "x"), 0) == hashRunKey(keyOf(a, "y"), 0) ||
		hashRunKey(keyOf(a, "x"), 0) == hashRunKey(keyOf(b, "x"), 0) {
		t.Error("hashRunKey collides on a one-byte change")
	}
	if hashRunSeq(seqOf(a, 1), 0) == hashRunSeq(seqOf(a, 2), 0) {
		t.Error("hashRunSeq collides")
	}
	// Dense sequences spread over the low bits (tag and group).
	seen, seenRun := map[uint64]int{}, map[uint64]int{}
	for i := range uint64(4096) {
		seen[hashRunSeq(seqOf(a, i), 7)&0xfff]++
	}
	if len(seen) < 2400 { // about 4096*(1-1/e) = 2589 expected
		t.Errorf("only %d distinct 12-bit buckets for 4096 sequence numbers", len(seen))
	}
	// Dense runs and dense keys too, for many seeds.
	for seed := range uint64(50) {
		clear(seen)
		clear(seenRun)
		for i := range uint64(4096) {
			seen[hashRunKey(keyOf(a, fmt.Sprintf("k%04d", i)), seed)&0xfff]++
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

func TestHashStringShapes(t *testing.T) {
	// Every length of the short path, and the switch to xxhash64: strings
	// that differ in one byte, or only in length (trailing zero bytes),
	// hash apart.
	for n := 0; n <= shortString+2; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + i)
		}
		base := hashString(string(b), 3)
		if hashString(string(b)+"\x00", 3) == base {
			t.Errorf("len %d: a trailing zero byte does not change the hash", n)
		}
		if hashString(string(b), 4) == base {
			t.Errorf("len %d: the seed does not change the hash", n)
		}
		for i := range b {
			c := slices.Clone(b)
			for _, bit := range []byte{0x01, 0x80} {
				c[i] = b[i] ^ bit
				if hashString(string(c), 3) == base {
					t.Errorf("len %d: flipping bit %#x of byte %d does not change the hash", n, bit, i)
				}
			}
		}
	}
	// Dense keys of every common shape spread over the bits the map uses
	// (tag: bits 0-6, group: 7 and up), through hashRunKey, for many seeds.
	le := func(i uint64) string { return string(binary.LittleEndian.AppendUint64(nil, i)) }
	be := func(i uint64) string { return string(binary.BigEndian.AppendUint64(nil, i)) }
	shapes := map[string]func(i uint64) string{
		"%d":           func(i uint64) string { return fmt.Sprint(i) },
		"k%04d":        func(i uint64) string { return fmt.Sprintf("k%04d", i) },
		"key:%04d":     func(i uint64) string { return fmt.Sprintf("key:%04d", i) },
		"%012d":        func(i uint64) string { return fmt.Sprintf("%012d", i) },
		"session-%08d": func(i uint64) string { return fmt.Sprintf("session-%08d", i) },
		"long":         func(i uint64) string { return fmt.Sprintf("a/long/path/key/%08d", i) },
		"le64":         le,
		"be64":         be,
		"le64+le64":    func(i uint64) string { return le(i) + le(7) },
	}
	run := NewRunID()
	low, high := map[uint64]int{}, map[uint64]int{}
	for name, key := range shapes {
		for seed := range uint64(20) {
			clear(low)
			clear(high)
			for i := range uint64(4096) {
				h := hashRunKey(keyOf(run, key(i)), seed)
				low[h&0xfff]++
				high[h>>52]++
			}
			if len(low) < 2400 || len(high) < 2400 { // about 2589 expected
				t.Fatalf("%s, seed %d: %d / %d distinct values of the low / high 12 bits for 4096 keys",
					name, seed, len(low), len(high))
			}
		}
	}
}

// checkSetShape fails t unless set keeps sortedSet's and setTree's
// invariants and holds want.
func checkSetShape(t *testing.T, set *sortedSet[uint64], want []uint64) {
	t.Helper()
	if set == nil {
		if len(want) != 0 {
			t.Fatalf("no set, want %d items", len(want))
		}
		return
	}
	var got []uint64
	if set.tree == nil {
		if len(set.items) == 0 || len(set.items) > setChunkMax {
			t.Fatalf("flat set of %d items", len(set.items))
		}
		got = set.items
	} else {
		if set.items != nil || len(set.tree.chunks) < 2 {
			t.Fatalf("chunked set with %d flat items and %d chunks", len(set.items), len(set.tree.chunks))
		}
		cs := set.tree.chunks
		for i, c := range cs {
			if len(c.items) == 0 || len(c.items) > setChunkMax {
				t.Fatalf("chunk %d of %d holds %d items", i, len(cs), len(c.items))
			}
			if i > 0 && len(c.items) < setChunkMax/4 && len(cs[i-1].items) < setChunkMax/4 {
				t.Fatalf("chunks %d and %d are both small (%d, %d items)", i-1, i, len(cs[i-1].items), len(c.items))
			}
			got = append(got, c.items...)
		}
		if set.tree.n != len(got) {
			t.Fatalf("n = %d, %d items", set.tree.n, len(got))
		}
	}
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatal("items not sorted and distinct")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("set holds %d items, want %d", len(got), len(want))
	}
}

// TestSetIndexModel checks setIndex against a map over random
// transactions of adds and removes (many per transaction, so the in-place
// paths run; some rolled back; a sixth of the adds append at the end),
// growing a set to thousands of items (tens of chunks: splits) and
// shrinking it again (merges), with the shape
// invariants checked after every transaction, and every published version
// checked again later: a commit must never change a set or chunk that an
// earlier version published.
func TestSetIndexModel(t *testing.T) {
	db := openDB(t)
	x := newSetIndex[RunID](db, hashRun, cmp.Compare[uint64])
	run := NewRunID()
	rng := rand.New(rand.NewPCG(5, 11))
	model := map[uint64]bool{}
	sorted := func(m map[uint64]bool) []uint64 {
		return slices.Sorted(maps.Keys(m))
	}
	type published struct {
		set  *sortedSet[uint64]
		want []uint64
	}
	var old []published
	maxChunks, maxItems := 0, 0
	cursor := uint64(6000) // above every random value added
	errRollback := errors.New("rollback")
	const txns = 1000
	for n := range txns {
		addP := 0.7 // grow, then shrink
		if n >= txns/2 {
			addP = 0.1
		}
		local := maps.Clone(model)
		rollback := rng.IntN(5) == 0
		err := db.Update(func(tx *Tx) error {
			local = maps.Clone(model)
			for range 1 + rng.IntN(40) {
				v := rng.Uint64N(cursor + 1)
				if rng.Float64() < addP {
					if v = rng.Uint64N(6000); n < txns/2 && rng.IntN(6) == 0 { // appends at the end of the set
						cursor++
						v = cursor
					}
					added, err := x.Add(tx, run, v)
					if err != nil {
						return err
					}
					if added == local[v] {
						t.Fatalf("Add(%d) = %v, model has it: %v", v, added, local[v])
					}
					local[v] = true
				} else {
					removed, err := x.Remove(tx, run, v)
					if err != nil {
						return err
					}
					if removed != local[v] {
						t.Fatalf("Remove(%d) = %v, model has it: %v", v, removed, local[v])
					}
					delete(local, v)
				}
				if w := rng.Uint64N(cursor + 1); x.Contains(tx, run, w) != local[w] {
					t.Fatalf("Contains(%d) in tx = %v", w, !local[w])
				}
			}
			checkSetShape(t, x.set(tx, run), sorted(local))
			if rollback {
				return errRollback
			}
			return nil
		})
		if rollback {
			if !errors.Is(err, errRollback) {
				t.Fatalf("rolled-back transaction: %v", err)
			}
		} else {
			if err != nil {
				t.Fatal(err)
			}
			model = local
		}
		mustView(t, db, func(tx *Tx) error {
			want := sorted(model)
			checkSetShape(t, x.set(tx, run), want)
			if got := items(t, x, tx, run); !slices.Equal(got, want) {
				t.Fatalf("All yields %d items, want %d", len(got), len(want))
			}
			from := rng.Uint64N(cursor + 1)
			i, _ := slices.BinarySearch(want, from)
			if got := slices.Collect(x.From(tx, run, from)); !slices.Equal(got, want[i:]) {
				t.Fatalf("From(%d) yields %d items, want %d", from, len(got), len(want)-i)
			}
			if set := x.set(tx, run); set != nil && !rollback {
				old = append(old, published{set, want})
				if set.tree != nil {
					maxChunks = max(maxChunks, len(set.tree.chunks))
				}
				maxItems = max(maxItems, set.len())
			}
			return nil
		})
		for _, p := range old {
			checkSetShape(t, p.set, p.want)
		}
		if len(old) > 8 {
			old = old[1:]
		}
	}
	// Drain the set in random order, 50 removes per transaction: it goes
	// back to the flat form and its record is deleted.
	endItems := len(model)
	rest := sorted(model)
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	sawFlat := false
	for len(rest) > 0 {
		batch := rest[:min(50, len(rest))]
		rest = rest[len(batch):]
		mustUpdate(t, db, func(tx *Tx) error {
			for _, v := range batch {
				if removed, err := x.Remove(tx, run, v); err != nil || !removed {
					t.Fatalf("Remove(%d) = %v, %v", v, removed, err)
				}
			}
			return nil
		})
		for _, v := range batch {
			delete(model, v)
		}
		mustView(t, db, func(tx *Tx) error {
			set := x.set(tx, run)
			checkSetShape(t, set, sorted(model))
			sawFlat = sawFlat || (set != nil && set.tree == nil)
			if set != nil {
				old = append(old, published{set, sorted(model)})
			}
			return nil
		})
		for _, p := range old {
			checkSetShape(t, p.set, p.want)
		}
	}
	if !sawFlat {
		t.Error("the draining set never went back to the flat form")
	}
	// The walk must have split (tens of chunks) and shrunk the set.
	if maxChunks < 20 || endItems > maxItems/2 {
		t.Fatalf("the walk reached %d chunks and %d items and ended at %d items", maxChunks, maxItems, endItems)
	}
	t.Logf("at most %d chunks and %d items; %d items before the drain", maxChunks, maxItems, endItems)
}

// TestSetIndexBackToFlat: a chunked set that loses a chunk goes back to
// the flat form without sharing the remaining, published chunk (changes
// in place must not reach the version a snapshot holds).
func TestSetIndexBackToFlat(t *testing.T) {
	db := openDB(t)
	x := newSetIndex[RunID](db, hashRun, cmp.Compare[uint64])
	run := NewRunID()
	var all []uint64
	mustUpdate(t, db, func(tx *Tx) error {
		for v := range uint64(setChunkMax + 1) { // in order: chunks of 64 and 1
			all = append(all, v)
			if _, err := x.Add(tx, run, v); err != nil {
				return err
			}
		}
		return nil
	})
	var before *sortedSet[uint64]
	mustView(t, db, func(tx *Tx) error {
		before = x.set(tx, run)
		checkSetShape(t, before, all)
		if before.tree == nil || len(before.tree.chunks) != 2 || len(before.tree.chunks[1].items) != 1 {
			t.Fatalf("ordered adds did not fill the first chunk: %+v", before.tree)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error {
		for _, v := range []uint64{setChunkMax, 0, 1} { // empties the last chunk, then in place
			if removed, err := x.Remove(tx, run, v); err != nil || !removed {
				t.Fatalf("Remove(%d) = %v, %v", v, removed, err)
			}
		}
		return nil
	})
	checkSetShape(t, before, all)
	mustView(t, db, func(tx *Tx) error {
		set := x.set(tx, run)
		checkSetShape(t, set, all[2:setChunkMax])
		if set.tree != nil {
			t.Error("a set of one chunk stayed chunked")
		}
		return nil
	})
}
