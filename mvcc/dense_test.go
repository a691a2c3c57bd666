package mvcc

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/quick"
)

// seqKey is a dense test key: a group and a sequence number.
type seqKey struct {
	g [16]byte
	n uint64
}

func splitSeqKey(k seqKey) ([16]byte, uint64) { return k.g, k.n }
func joinSeqKey(g [16]byte, n uint64) seqKey  { return seqKey{g, n} }

func newDenseStore(d *Domain) *Store[seqKey, int] {
	return NewStore[seqKey, int](d, WithDenseKeys(splitSeqKey, joinSeqKey))
}

func group(i byte) [16]byte { return [16]byte{i, 0xa5, i} }

// TestDenseSlotMapping: every sequence number from denseFirst up maps to a
// slot inside its bucket, consecutive numbers to consecutive slots, and no
// two numbers to the same (bucket, offset).
func TestDenseSlotMapping(t *testing.T) {
	seen := map[[2]uint64]uint64{}
	prevB, prevOff := -1, uint64(0)
	for n := uint64(denseFirst); n < 1<<16; n++ {
		b, off := denseSlot(n)
		if b < 0 || b >= denseBuckets || off >= denseFirst<<b {
			t.Fatalf("n=%d: bucket %d offset %d out of range", n, b, off)
		}
		if b == prevB && off != prevOff+1 || b != prevB && (b != prevB+1 || off != 0) {
			t.Fatalf("n=%d: (%d, %d) does not follow (%d, %d)", n, b, off, prevB, prevOff)
		}
		if m, dup := seen[[2]uint64{uint64(b), off}]; dup {
			t.Fatalf("n=%d and n=%d share bucket %d offset %d", n, m, b, off)
		}
		seen[[2]uint64{uint64(b), off}] = n
		prevB, prevOff = b, off
	}
	if b, off := denseSlot(^uint64(0)); b != denseBuckets-1 || off != ^uint64(0)-denseFirst<<b {
		t.Fatalf("max uint64: bucket %d offset %d", b, off)
	}
}

// TestDenseStoreModel checks a dense store against a map over random
// sequences of LoadOrCreate and Lookup on a few groups (dense numbers with
// holes, as aborted appends leave): the same record for the same key, nil
// exactly for keys never created, and Range and Len visiting exactly the
// created keys with their own records.
func TestDenseStoreModel(t *testing.T) {
	check := func(seed uint64) bool {
		rng := rand.New(rand.NewPCG(seed, 7))
		s := newDenseStore(NewDomain())
		model := map[seqKey]*Record[int]{}
		for range 600 {
			k := seqKey{group(byte(rng.IntN(3))), uint64(rng.IntN(300))}
			if rng.IntN(2) == 0 {
				r := s.LoadOrCreate(k)
				if want, ok := model[k]; ok && r != want {
					t.Logf("LoadOrCreate(%v): a new record for an existing key", k)
					return false
				}
				if r == nil || r.Partition() != s.PartitionOf(k) {
					t.Logf("LoadOrCreate(%v): record %v, partition wrong", k, r)
					return false
				}
				model[k] = r
			} else if got := s.Lookup(k); got != model[k] {
				t.Logf("Lookup(%v) = %p, want %p", k, got, model[k])
				return false
			}
		}
		visited := map[seqKey]bool{}
		ok := true
		s.Range(func(k seqKey, r *Record[int]) bool {
			if visited[k] || model[k] != r {
				t.Logf("Range: %v visited twice or with the wrong record", k)
				ok = false
			}
			visited[k] = true
			return true
		})
		if len(visited) != len(model) || s.Len() != len(model) || s.Stats().Records != len(model) {
			t.Logf("Range visited %d, Len %d, model %d", len(visited), s.Len(), len(model))
			return false
		}
		return ok
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 50}); err != nil {
		t.Fatal(err)
	}
}

// TestDenseStoreRangeStops: Range stops when fn returns false, inside the
// inline records and inside a bucket.
func TestDenseStoreRangeStops(t *testing.T) {
	s := newDenseStore(NewDomain())
	for n := range uint64(100) {
		s.LoadOrCreate(seqKey{group(1), n})
	}
	for _, stop := range []int{1, 5, 40} {
		calls := 0
		s.Range(func(seqKey, *Record[int]) bool { calls++; return calls < stop })
		if calls != stop {
			t.Errorf("Range stopped after %d calls, want %d", calls, stop)
		}
	}
}

// TestDenseStoreConcurrentCreate: goroutines create the same keys of a few
// groups at once, in different orders; every key must end up with exactly
// one record, the one every creator got.
func TestDenseStoreConcurrentCreate(t *testing.T) {
	s := newDenseStore(NewDomain())
	const groups, perGroup, workers = 3, 3000, 4
	got := make([][]*Record[int], workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs := make([]*Record[int], groups*perGroup)
			for i := range rs {
				j := i
				if w%2 == 1 {
					j = len(rs) - 1 - i
				}
				rs[j] = s.LoadOrCreate(seqKey{group(byte(j % groups)), uint64(j / groups)})
			}
			got[w] = rs
		}()
	}
	wg.Wait()
	for i := range got[0] {
		k := seqKey{group(byte(i % groups)), uint64(i / groups)}
		for w := 1; w < workers; w++ {
			if got[w][i] != got[0][i] {
				t.Fatalf("%v: workers got different records", k)
			}
		}
		if s.Lookup(k) != got[0][i] {
			t.Fatalf("%v: Lookup finds another record", k)
		}
	}
	if s.Len() != groups*perGroup {
		t.Fatalf("Len %d, want %d", s.Len(), groups*perGroup)
	}
}

// TestDenseStoreVersions: a dense store's records take part in the commit
// protocol like a hashed store's (install, read at snapshots), and keys
// next to a created one have no record.
func TestDenseStoreVersions(t *testing.T) {
	d := NewDomain()
	s := newDenseStore(d)
	k := seqKey{group(9), 12345}
	v1 := commitOne(s, k, 1, false)
	v2 := commitOne(s, k, 2, false)
	r := s.Lookup(k)
	if v, _, ok := r.Read(v1); !ok || v != 1 {
		t.Fatalf("at v1: %d, %v", v, ok)
	}
	if v, _, ok := r.Read(v2); !ok || v != 2 {
		t.Fatalf("at v2: %d, %v", v, ok)
	}
	if s.Lookup(seqKey{group(9), 12344}) != nil || s.Lookup(seqKey{group(8), 12345}) != nil {
		t.Fatal("a key never created has a record")
	}
}

// TestWithDenseKeysWrongType: a dense option for another key type is a
// programming error that NewStore reports by panicking, naming the types.
func TestWithDenseKeysWrongType(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "WithDenseKeys") || !strings.Contains(fmt.Sprint(r), "int") {
			t.Fatalf("recovered %v", r)
		}
	}()
	NewStore[int, int](NewDomain(), WithDenseKeys(splitSeqKey, joinSeqKey))
}

// BenchmarkDenseLoadOrCreate: op=create makes new records, 64 per group
// (an event log's appends: the inline slots, the directory and three
// buckets), op=load finds existing ones. The creation path is where a
// record reserves its place in the run (denseRun.live).
func BenchmarkDenseLoadOrCreate(b *testing.B) {
	const perGroup = 64
	groups := make([][16]byte, 1<<12)
	for i := range groups {
		groups[i] = [16]byte{byte(i), byte(i >> 8), 0x5a}
	}
	b.Run("op=create", func(b *testing.B) {
		b.ReportAllocs()
		s := newDenseStore(NewDomain())
		gen := 0
		n := uint64(0)
		for b.Loop() {
			s.LoadOrCreate(seqKey{groups[gen%len(groups)], n})
			if n++; n == perGroup {
				n = 0
				if gen++; gen%len(groups) == 0 { // start over in a new store
					b.StopTimer()
					s = newDenseStore(NewDomain())
					b.StartTimer()
				}
			}
		}
	})
	b.Run("op=load", func(b *testing.B) {
		b.ReportAllocs()
		s := newDenseStore(NewDomain())
		for _, g := range groups[:64] {
			for n := range uint64(perGroup) {
				s.LoadOrCreate(seqKey{g, n})
			}
		}
		i := 0
		for b.Loop() {
			s.LoadOrCreate(seqKey{groups[(i/perGroup)%64], uint64(i % perGroup)})
			i++
		}
	})
}

// TestLookupSeq: LookupSeq hands out, for every key of a range, the key
// and the record Lookup finds (nil for holes, runs never created and
// numbers past the run's arrays), stops when fn says so and at the largest
// sequence number, and refuses a hashed store.
func TestLookupSeq(t *testing.T) {
	s := newDenseStore(NewDomain())
	for _, n := range []uint64{0, 1, 2, 5, 7, 8, 9, 30, 31, 200} {
		s.LoadOrCreate(seqKey{group(1), n})
	}
	s.LoadOrCreate(seqKey{group(2), 3})
	for _, tc := range []struct {
		g     byte
		first uint64
		n     int
	}{{1, 0, 12}, {1, 6, 30}, {1, 190, 20}, {1, 300, 5}, {2, 0, 6}, {3, 0, 4}, {1, 0, 0}} {
		var got []int
		ok := s.LookupSeq(seqKey{group(tc.g), tc.first}, tc.n, func(i int, k seqKey, r *Record[int]) bool {
			if want := (seqKey{group(tc.g), tc.first + uint64(i)}); k != want {
				t.Fatalf("%+v: key %d is %+v, want %+v", tc, i, k, want)
			}
			if want := s.Lookup(k); r != want {
				t.Fatalf("%+v: record of %+v is %p, Lookup finds %p", tc, k, r, want)
			}
			got = append(got, i)
			return true
		})
		if !ok || len(got) != tc.n {
			t.Fatalf("%+v: dense %v, %d keys visited", tc, ok, len(got))
		}
	}
	visited := 0
	s.LookupSeq(seqKey{group(1), 0}, 10, func(i int, _ seqKey, _ *Record[int]) bool {
		visited++
		return i < 2
	})
	if visited != 3 {
		t.Fatalf("fn returned false at i=2 but was called %d times", visited)
	}
	visited = 0
	s.LookupSeq(seqKey{group(1), ^uint64(0) - 1}, 10, func(int, seqKey, *Record[int]) bool {
		visited++
		return true
	})
	if visited != 2 {
		t.Fatalf("a range from the second-largest sequence number visited %d keys, want 2", visited)
	}
	h := NewStore[int, int](NewDomain())
	if h.LookupSeq(1, 3, func(int, int, *Record[int]) bool { t.Fatal("called on a hashed store"); return false }) {
		t.Fatal("LookupSeq on a hashed store reported true")
	}
}
