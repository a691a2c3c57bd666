package txn

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/substrate-lab/substrate/internal/cacheline"
	"github.com/substrate-lab/substrate/lockfree"
	"github.com/substrate-lab/substrate/mvcc"
)

const benchKeys = 10_000

func benchStore(b *testing.B) (*Engine, *mvcc.Store[uint64, uint64], []uint64) {
	e := NewEngine()
	s := NewStore[uint64, uint64](e, mvcc.WithPresize(benchKeys))
	keys := make([]uint64, benchKeys)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range keys {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		keys[i] = x
	}
	for i := 0; i < len(keys); i += 100 {
		err := e.Update(func(tx Tx) error {
			for _, k := range keys[i:min(i+100, len(keys))] {
				if err := Put(tx, s, k, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return e, s, keys
}

func BenchmarkSnapshotAcquire(b *testing.B) {
	e := NewEngine()
	sl := e.Domain().NewSlot()
	b.ReportAllocs()
	for b.Loop() {
		sl.Acquire()
		sl.Release()
	}
}

func BenchmarkEmptyCommit(b *testing.B) {
	e := NewEngine()
	b.ReportAllocs()
	for b.Loop() {
		tx := e.Begin()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetRO(b *testing.B) {
	e, s, keys := benchStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	var sum uint64
	i := 0
	for range b.N {
		tx := e.BeginReadOnly()
		v, _ := Get(tx, s, keys[i])
		sum += v
		tx.Commit()
		i++
		if i == len(keys) {
			i = 0
		}
	}
	_ = sum
}

// BenchmarkGetLayers takes engine_get_direct (BeginReadOnly, Get, Commit
// of a uint64 key among 10,000, in a shuffled order) apart, one layer at a
// time, beside the Tier A0 map it is built on, to say where the A1/A0
// ratio comes from (docs/ARCHITECTURE.md, "Why A1 GET stays above 5×"):
//
//	layer=a0-map          lockfree.Map[uint64, uint64].Load: core_get_hot
//	layer=a0-map+fences   the same plus two locked adds on a private padded
//	                      word on the heap: what begin's and end's fences
//	                      alone cost a loop of independent lookups
//	layer=read            Store.Lookup + Record.Read under one snapshot
//	                      held for the whole loop (no per-read protection;
//	                      Get tries the inlined Record.ReadHead first, so
//	                      layer=txn makes one call fewer here than these)
//	layer=read+slot       + Slot.Acquire and Release per read
//	layer=read+slot+pool  + the sync.Pool round trip of a transaction
//	                      object (what read-only transactions paid until
//	                      they took reader objects instead)
//	layer=txn             BeginReadOnly + Get + Commit (engine_get_direct):
//	                      a reader object taken and handed on by the
//	                      slot's own CAS and add, no pool
//
// Each layer's loop is written out in full, with the same inlined
// bookkeeping (cursor): a shared loop calling the layer through a function
// value would add an indirect call per lookup, a layer of its own.
func BenchmarkGetLayers(b *testing.B) {
	e, s, keys := benchStore(b)
	// Shuffled, as in package bench: in fill order the records stream
	// through memory and the prefetcher hides their misses.
	x := uint64(12345)
	for i := len(keys) - 1; i > 0; i-- {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		j := int(x % uint64(i+1))
		keys[i], keys[j] = keys[j], keys[i]
	}
	m := lockfree.NewMap[uint64, uint64](lockfree.WithPresize(len(keys)))
	for _, k := range keys {
		m.Store(k, k)
	}
	b.Run("layer=a0-map", func(b *testing.B) {
		b.ReportAllocs()
		var c cursor
		for b.Loop() {
			v, ok := m.Load(keys[c.i])
			c.step(v, ok, len(keys))
		}
		c.check(b)
	})
	b.Run("layer=a0-map+fences", func(b *testing.B) {
		b.ReportAllocs()
		// On the heap, as the slot words are: a word in this frame, a few
		// lines from the loop's own spills, read 35 ns here on the Intel VM
		// of the thirteenth session against 20-22 on the heap
		// (docs/ARCHITECTURE.md, "Why A1 GET stays above 5×").
		w := new(struct {
			_ cacheline.Pad128
			n atomic.Uint64
			_ cacheline.Pad128
		})
		var c cursor
		for b.Loop() {
			w.n.Add(1)
			v, ok := m.Load(keys[c.i])
			w.n.Add(1)
			c.step(v, ok, len(keys))
		}
		c.check(b)
	})
	b.Run("layer=read", func(b *testing.B) {
		b.ReportAllocs()
		sl := e.Domain().NewSlot()
		defer sl.Close()
		snap := sl.Acquire()
		var c cursor
		for b.Loop() {
			v, _, ok := s.Lookup(keys[c.i]).Read(snap)
			c.step(v, ok, len(keys))
		}
		sl.Release()
		c.check(b)
	})
	b.Run("layer=read+slot", func(b *testing.B) {
		b.ReportAllocs()
		sl := e.Domain().NewSlot()
		defer sl.Close()
		var c cursor
		for b.Loop() {
			snap := sl.Acquire()
			v, _, ok := s.Lookup(keys[c.i]).Read(snap)
			sl.Release()
			c.step(v, ok, len(keys))
		}
		c.check(b)
	})
	b.Run("layer=read+slot+pool", func(b *testing.B) {
		b.ReportAllocs()
		var c cursor
		for b.Loop() {
			st := e.pool.Get().(*txState)
			snap := st.slot.Acquire()
			v, _, ok := s.Lookup(keys[c.i]).Read(snap)
			st.slot.Release()
			e.pool.Put(st)
			c.step(v, ok, len(keys))
		}
		c.check(b)
	})
	b.Run("layer=txn", func(b *testing.B) {
		b.ReportAllocs()
		var c cursor
		for b.Loop() {
			tx := e.BeginReadOnly()
			v, ok := Get(tx, s, keys[c.i])
			tx.Commit()
			c.step(v, ok, len(keys))
		}
		c.check(b)
	})
}

// cursor is the bookkeeping of the read benchmarks' loops: it walks the
// keys round robin, sums the values read (published to a sink by check)
// and counts misses. step is small enough to inline, so every layer's loop
// pays the same few instructions for it, where a loop calling its layer
// through a function value would pay an indirect call per lookup, a layer
// of its own.
type cursor struct {
	i, miss int
	sum     uint64
}

// step records one read (v, ok) and moves to the next of n keys.
func (c *cursor) step(v uint64, ok bool, n int) {
	c.sum += v
	if !ok {
		c.miss++
	}
	if c.i++; c.i == n {
		c.i = 0
	}
}

// check fails b if a read missed, and publishes the sum.
func (c *cursor) check(b *testing.B) {
	if c.miss > 0 {
		b.Fatalf("%d misses", c.miss)
	}
	benchSink.Add(c.sum)
}

// BenchmarkReadOnlyParallel is engine_get_direct's transaction (BeginReadOnly,
// one Get, Commit) from every goroutine of RunParallel, with read-only
// transactions on the engine's reader objects (objects=readers, the
// default) and on pooled objects (objects=pool, the table switched off),
// so that -cpu 1,2,4,8 shows whether the shared reader slots collide or
// bounce lines between cores where the pool's per-P objects did not. Each
// goroutine walks the keys from its own offset.
func BenchmarkReadOnlyParallel(b *testing.B) {
	for _, objects := range []string{"readers", "pool"} {
		b.Run("objects="+objects, func(b *testing.B) {
			e, s, keys := benchStore(b)
			if objects == "pool" {
				e.readers = nil
			}
			var start atomic.Uint64
			var misses atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := cursor{i: int(start.Add(7919) % uint64(len(keys)))}
				for pb.Next() {
					tx := e.BeginReadOnly()
					v, ok := Get(tx, s, keys[c.i])
					tx.Commit()
					c.step(v, ok, len(keys))
				}
				misses.Add(int64(c.miss))
				benchSink.Add(c.sum)
			})
			if n := misses.Load(); n > 0 {
				b.Fatalf("%d misses", n)
			}
		})
	}
}

// benchSink keeps the benchmarks' sums alive (atomic: RunParallel's
// goroutines add to it).
var benchSink atomic.Uint64

func BenchmarkPut(b *testing.B) {
	e, s, keys := benchStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for n := range b.N {
		tx := e.Begin()
		Put(tx, s, keys[i], uint64(n))
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		i++
		if i == len(keys) {
			i = 0
		}
	}
}

func BenchmarkCAS(b *testing.B) {
	e, s, keys := benchStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for range b.N {
		tx := e.Begin()
		v, _ := Get(tx, s, keys[i])
		CompareAndSwap(tx, s, keys[i], v, v+1)
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		i++
		if i == len(keys) {
			i = 0
		}
	}
}

// BenchmarkRMWDisjointParallel: every goroutine increments its own key.
// spread: the goroutines' keys are far apart in fill order, so their
// records were allocated far apart; adjacent: consecutive keys in fill
// order, whose 24-byte records share cache lines (the false-sharing cost of
// compact records).
func BenchmarkRMWDisjointParallel(b *testing.B) {
	for _, c := range []struct {
		name   string
		stride int64
	}{{"spread", 997}, {"adjacent", 1}} {
		b.Run(c.name, func(b *testing.B) {
			e, s, keys := benchStore(b)
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				k := keys[(next.Add(1)*c.stride)%int64(len(keys))]
				for pb.Next() {
					tx := e.Begin()
					v, _ := Get(tx, s, k)
					Put(tx, s, k, v+1)
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkRMWSeparateEngines is the no-shared-state baseline for
// BenchmarkRMWDisjointParallel: every goroutine has its own engine (own
// clock, own store, own pools), so any loss of scaling here is the
// machine's, not the engine's.
func BenchmarkRMWSeparateEngines(b *testing.B) {
	var mu sync.Mutex
	type fx struct {
		e *Engine
		s *mvcc.Store[uint64, uint64]
		k uint64
	}
	var fxs []fx
	for range runtime.GOMAXPROCS(0) {
		e, s, keys := benchStore(b)
		fxs = append(fxs, fx{e, s, keys[0]})
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		f := fxs[len(fxs)-1]
		fxs = fxs[:len(fxs)-1]
		mu.Unlock()
		for pb.Next() {
			tx := f.e.Begin()
			v, _ := Get(tx, f.s, f.k)
			Put(tx, f.s, f.k, v+1)
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
