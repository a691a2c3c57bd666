package bench

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/substrate-lab/substrate/mvcc"
	"github.com/substrate-lab/substrate/txn"
)

// Tier A1 (M3 plan Categories 2, 3 and 6, plus a version-size figure and a
// disjoint-key scaling probe): the correctness wrapper of package txn over
// package mvcc. Same keys, loop shape and honesty rules as the core_* cases
// (random uint64 keys and pointer-free uint64 values, fixed seeds, warm-up
// pass before the timer, nothing allocated or formatted in the timed loop,
// misses and failed commits fail the benchmark), so that A1/A0 ratios
// compare like with like.

// engineGate is the plan's M3 hard gate for Tier A1 steady-state timings.
const engineGate = "hard<3us"

// engineColdKeys is the key count of engine_get_cold and engine_get_warm:
// large enough (a few MB of records and versions) that a fresh store is not
// all cache-resident when its first pass starts.
const engineColdKeys = 1 << 15

// maxWarmPasses bounds warmWrites.
const maxWarmPasses = 40

// engineVersionKeys and engineVersionsPerKey size engine_bytes_per_version.
const (
	engineVersionKeys    = 1_000
	engineVersionsPerKey = 100
)

// engineCases lists the Tier A1 cases in report order.
func engineCases() []Case {
	return []Case{
		{
			Name: "engine_get_direct", Tier: "A1", Group: "engine", Gate: engineGate,
			PlanGoal: ns(500), OurGoal: ns(80), Run: benchEngineGetDirect,
		},
		{
			Name: "engine_put_direct", Tier: "A1", Group: "engine", Gate: engineGate,
			PlanGoal: us(1), OurGoal: ns(250), Run: benchEnginePutDirect,
		},
		{
			Name: "engine_cas_direct", Tier: "A1", Group: "engine", Gate: engineGate,
			PlanGoal: us(2), OurGoal: ns(300), Run: benchEngineCASDirect,
		},
		{
			Name: "engine_snapshot_acquire", Tier: "A1", Group: "engine", Gate: engineGate,
			PlanGoal: ns(200), OurGoal: ns(20), Run: benchEngineSnapshotAcquire,
		},
		{
			Name: "engine_txn_empty_commit", Tier: "A1", Group: "engine", Gate: engineGate,
			PlanGoal: ns(500), OurGoal: ns(40), Run: benchEngineEmptyCommit,
		},
		{
			Name: "engine_get_noalloc", Tier: "A1", Group: "engine", Gate: engineGate,
			PlanGoal: ns(500), OurGoal: ns(80), Run: benchEngineGetNoAlloc,
		},
		{
			Name: "engine_put_noalloc", Tier: "A1", Group: "engine", Gate: engineGate,
			PlanGoal: us(1), OurGoal: ns(250), Run: benchEnginePutNoAlloc,
		},
		{
			// First touch: observability only (plan Category 6).
			Name: "engine_get_cold", Tier: "A1", Group: "engine", Gate: "none",
			Run: benchEngineGetCold,
		},
		{
			Name: "engine_get_warm", Tier: "A1", Group: "engine", Gate: engineGate,
			PlanGoal: ns(500), OurGoal: ns(80), Run: benchEngineGetWarm,
		},
		{
			// A size, observability only.
			Name: "engine_bytes_per_version", Tier: "A1", Group: "engine", Gate: "none",
			Metric: "B/version", Run: benchEngineBytesPerVersion,
		},
		{
			// Scaling probe for -cpu 1,2,...; the plan's scaling gate is
			// Tier D's contention/disjoint/N.
			Name: "engine_rmw_disjoint_parallel", Tier: "A1", Group: "engine", Gate: "none",
			Run: benchEngineRMWDisjointParallel,
		},
	}
}

// engineFixture is an engine with one uint64 -> uint64 store holding
// keys[i] -> i, filled in transactions of 100 puts, in key order.
//
// The timed loops visit the keys in f.order, a fixed-seed shuffle of keys.
// Records and versions are heap objects allocated in fill order, so walking
// the keys in fill order would stream through memory and let the hardware
// prefetcher hide the misses (about 25% faster here), which real access
// patterns do not get. The core_* map is laid out by hash, where the order
// does not matter, so the ratio to it stays fair.
type engineFixture struct {
	e     *txn.Engine
	s     *mvcc.Store[uint64, uint64]
	keys  []uint64
	order []uint64
}

func newEngineFixture(b *testing.B, keys []uint64) engineFixture {
	f := engineFixture{e: txn.NewEngine(), keys: keys, order: shuffled(keys)}
	f.s = txn.NewStore[uint64, uint64](f.e, mvcc.WithPresize(len(keys)))
	for lo := 0; lo < len(keys); lo += 100 {
		err := f.e.Update(func(tx txn.Tx) error {
			for i := lo; i < min(lo+100, len(keys)); i++ {
				if err := txn.Put(tx, f.s, keys[i], uint64(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
	return f
}

// getOnce is one engine_get_* operation: a read-only transaction (the
// snapshot), one point read, and its release.
func (f engineFixture) getOnce(k uint64) (uint64, bool) {
	tx := f.e.BeginReadOnly()
	v, ok := txn.Get(tx, f.s, k)
	tx.Commit()
	return v, ok
}

// runEngineGets is the timed read loop shared by the get cases: getOnce's
// operation once per iteration over order, with a wrap counter; a warm-up pass
// first when warm is set. Values are summed and published to sink after the
// loop; a miss fails the benchmark, and so does any allocation in the timed
// loop when noAlloc is set.
func runEngineGets(b *testing.B, f engineFixture, order []uint64, warm, noAlloc bool) {
	b.ReportAllocs()
	var sum uint64
	misses := 0
	if warm {
		for _, k := range order {
			v, ok := f.getOnce(k)
			sum += v
			if !ok {
				misses++
			}
		}
		if misses != 0 {
			b.Fatalf("warm-up: %d of %d keys missing", misses, len(order))
		}
	}
	var before uint64
	if noAlloc {
		before = mallocs()
	}
	b.ResetTimer()
	// The operation is written out in the loop, not called through
	// getOnce: core_get_hot's loop calls Map.Load itself, and a wrapper
	// call here would charge A1 one call level that A0 does not pay.
	e, s := f.e, f.s
	i := 0
	for range b.N {
		tx := e.BeginReadOnly()
		v, ok := txn.Get(tx, s, order[i])
		tx.Commit()
		sum += v
		if !ok {
			misses++
		}
		i++
		if i == len(order) {
			i = 0
		}
	}
	b.StopTimer()
	if noAlloc {
		checkNoAlloc(b, before, nil)
	}
	sink = sum
	if misses != 0 {
		b.Fatalf("%d of %d reads missed a present key", misses, b.N)
	}
}

// benchEngineGetDirect: snapshot + point read of a present key, cycling over
// the 10,000 keys of core_get_hot (its A0 counterpart).
func benchEngineGetDirect(b *testing.B) {
	keys := randomKeys(coreKeys)
	f := newEngineFixture(b, keys)
	runEngineGets(b, f, f.order, true, false)
}

// runEnginePuts is the timed write loop: Begin, Put of an existing key with
// the iteration number as value, Commit. A failed commit fails the
// benchmark; so does a change in the number of records (an insert instead
// of an update), and, when noAlloc is set, any allocation in the timed loop.
func runEnginePuts(b *testing.B, f engineFixture, noAlloc bool) {
	b.ReportAllocs()
	want := f.s.Len()
	put := func(k, v uint64) error {
		tx := f.e.Begin()
		if err := txn.Put(tx, f.s, k, v); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	failures := warmWrites(f, func() int {
		n := 0
		for i, k := range f.order {
			if put(k, uint64(i)) != nil {
				n++
			}
		}
		return n
	}, func() int { return warmPuts(f, put) })
	var before uint64
	nodesBefore := f.s.Stats().Pool.Allocated
	if noAlloc {
		before = mallocs()
	}
	b.ResetTimer()
	// put written out, as getOnce is in runEngineGets: core_put_hot's loop
	// calls Map.Store itself.
	e, s, order := f.e, f.s, f.order
	i := 0
	for n := range b.N {
		tx := e.Begin()
		if err := txn.Put(tx, s, order[i], uint64(n)); err != nil {
			tx.Rollback()
			failures++
		} else if tx.Commit() != nil {
			failures++
		}
		i++
		if i == len(f.order) {
			i = 0
		}
	}
	b.StopTimer()
	if noAlloc {
		checkNoAlloc(b, before, func() string {
			return fmt.Sprintf(" (%d of them version nodes)", f.s.Stats().Pool.Allocated-nodesBefore)
		})
	}
	if failures != 0 {
		b.Fatalf("%d commits failed; single-goroutine puts never conflict", failures)
	}
	if got := f.s.Len(); got != want {
		b.Fatalf("puts changed the record count: %d, want %d", got, want)
	}
}

// warmWrites brings the version-node pools of a write case to their steady
// state, every new version a recycled node, before its timer starts; it
// returns the failed writes. pass writes every key once; parallel, if not
// nil, writes them once split over GOMAXPROCS goroutines (warmPuts).
//
// It runs two passes (a key keeps its previous version until its next
// write, so only from the second pass on does every write retire a node),
// then parallel, then passes until two in a row allocate no version node
// (at most maxWarmPasses). Why not a fixed count: a pool reuses a node only
// once the watermark has passed it, and when its free list runs dry it
// asks for a refresh at most once per 64 retirements (arena.AdvanceEvery),
// allocating meanwhile, so the spare nodes that absorb that lag accumulate
// over a few passes, more or fewer depending on where the refreshes fall.
// A key's first version lives in its record (mvcc's inline node) and never
// feeds a pool, which makes the spare build up more slowly than when it
// did: with the earlier fixed three passes (and a first version of the
// inline node), 3 of 3 runs of engine_put_noalloc allocated 29-55 times in
// their timed loops.
func warmWrites(f engineFixture, pass func() int, parallel func() int) int {
	failures := pass() + pass()
	if parallel != nil {
		// Every P's cached transaction object (txn pools them in a
		// sync.Pool, which is per P) must be warm too: the timed loop's
		// goroutine may migrate to another P, and a transaction object new
		// there starts with an empty version-node pool shard (its slot's)
		// and allocates until its first nodes mature. Measured before this
		// pass: 19-194 allocations in 8 of 30 runs of engine_put_noalloc
		// on the 2-core VM, all of them one such object's warm-up.
		failures += parallel()
	}
	quiet := 0
	for range maxWarmPasses {
		before := f.s.Stats().Pool.Allocated
		failures += pass()
		if f.s.Stats().Pool.Allocated != before {
			quiet = 0
		} else if quiet++; quiet == 2 {
			break
		}
	}
	return failures
}

// warmPuts runs one put of every key of f, split into GOMAXPROCS disjoint
// slices run by as many goroutines at once, and returns the failures.
func warmPuts(f engineFixture, put func(k, v uint64) error) int {
	procs := runtime.GOMAXPROCS(0)
	var failures atomic.Int64
	var wg sync.WaitGroup
	for w := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(f.order); i += procs {
				if put(f.order[i], uint64(i)) != nil {
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(failures.Load())
}

// benchEnginePutDirect: Begin + put of an existing key + commit.
func benchEnginePutDirect(b *testing.B) {
	runEnginePuts(b, newEngineFixture(b, randomKeys(coreKeys)), false)
}

// benchEngineCASDirect: Begin, read + compare + write (txn.CompareAndSwap,
// old -> old+1 with the right expected value), commit (which validates the
// read). cur[i] is the expected value of key i, kept outside the engine; a
// swap or commit that fails fails the benchmark. Keys are visited in a
// shuffled order, as in the other cases (perm holds their indices).
func benchEngineCASDirect(b *testing.B) {
	f := newEngineFixture(b, randomKeys(coreKeys))
	b.ReportAllocs()
	cur := make([]uint64, len(f.keys))
	perm := make([]int, len(f.keys))
	for i, p := range shuffled(denseKeys(len(f.keys))) {
		cur[i] = uint64(i)
		perm[i] = int(p)
	}
	cas := func(i int) bool {
		tx := f.e.Begin()
		ok, err := txn.CompareAndSwap(tx, f.s, f.keys[i], cur[i], cur[i]+1)
		if err != nil || !ok {
			tx.Rollback()
			return false
		}
		if tx.Commit() != nil {
			return false
		}
		cur[i]++
		return true
	}
	failures := warmWrites(f, func() int {
		n := 0
		for _, i := range perm {
			if !cas(i) {
				n++
			}
		}
		return n
	}, nil)
	b.ResetTimer()
	// cas written out, as getOnce is in runEngineGets.
	e, s, keys := f.e, f.s, f.keys
	j := 0
	for range b.N {
		i := perm[j]
		tx := e.Begin()
		if ok, err := txn.CompareAndSwap(tx, s, keys[i], cur[i], cur[i]+1); err != nil || !ok {
			tx.Rollback()
			failures++
		} else if tx.Commit() != nil {
			failures++
		} else {
			cur[i]++
		}
		j++
		if j == len(perm) {
			j = 0
		}
	}
	b.StopTimer()
	if failures != 0 {
		b.Fatalf("%d of %d compare-and-swaps failed; every one had the right expected value", failures, b.N)
	}
}

// benchEngineSnapshotAcquire: the snapshot mechanism alone, acquire and
// release of an epoch slot (mvcc.Slot): one load of the clock, one of the
// cached watermark, and one or two stores to the participant's own padded
// line to announce the snapshot plus one to release it. A user-level
// snapshot (BeginReadOnly + Commit) adds the pooled transaction object: that
// is engine_txn_empty_commit's figure (a read-only Begin costs the same as a
// read-write one).
func benchEngineSnapshotAcquire(b *testing.B) {
	e := txn.NewEngine()
	slot := e.Domain().NewSlot()
	defer slot.Close()
	b.ReportAllocs()
	var sum uint64
	for range 1000 {
		sum += slot.Acquire()
		slot.Release()
	}
	b.ResetTimer()
	for range b.N {
		sum += slot.Acquire()
		slot.Release()
	}
	b.StopTimer()
	sink = sum
}

// benchEngineEmptyCommit: Begin + Commit with no operation: a pooled
// transaction object, a snapshot, and the empty-commit path (no clock, no
// validation).
func benchEngineEmptyCommit(b *testing.B) {
	e := txn.NewEngine()
	b.ReportAllocs()
	failures := 0
	for range 1000 {
		tx := e.Begin()
		if tx.Commit() != nil {
			failures++
		}
	}
	b.ResetTimer()
	for range b.N {
		tx := e.Begin()
		if tx.Commit() != nil {
			failures++
		}
	}
	b.StopTimer()
	if failures != 0 {
		b.Fatalf("%d empty commits failed", failures)
	}
}

// mallocs returns the process's cumulative heap allocation count.
func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// checkNoAlloc fails b if more than a handful of heap allocations happened
// since before (the runtime itself may allocate a few objects during a
// benchmark, e.g. for its timers; one per operation would show as b.N).
// detail, if not nil, adds to the failure message (called only on failure).
func checkNoAlloc(b *testing.B, before uint64, detail func() string) {
	if n := mallocs() - before; n > 16 && !raceEnabled {
		more := ""
		if detail != nil {
			more = detail()
		}
		b.Fatalf("%d heap allocations in %d allocation-free operations%s", n, b.N, more)
	}
}

// benchEngineGetNoAlloc is engine_get_direct with the allocation-free claim
// enforced: pointer-free uint64 keys and values, the same pre-generated keys
// reused, and the benchmark fails if the timed loop allocated.
func benchEngineGetNoAlloc(b *testing.B) {
	f := newEngineFixture(b, randomKeys(coreKeys))
	runEngineGets(b, f, f.order, true, true)
}

// benchEnginePutNoAlloc is engine_put_direct with the allocation-free claim
// enforced (version nodes come from the epoch-deferred pools once warm).
func benchEnginePutNoAlloc(b *testing.B) {
	runEnginePuts(b, newEngineFixture(b, randomKeys(coreKeys)), true)
}

// benchEngineGetCold measures first touch, observability only: every
// timed read is the first read of its key in a freshly built engine and
// store (engineColdKeys keys, several MB, built with the timer stopped), so
// it pays the fresh engine's first transaction objects, cache misses on
// records and versions last touched when the store was filled, and TLB
// misses. Each fixture serves one pass over its keys in a shuffled order;
// then the next one is built.
func benchEngineGetCold(b *testing.B) {
	keys := randomKeys(engineColdKeys)
	order := shuffled(keys)
	b.ReportAllocs()
	b.ResetTimer()
	var sum uint64
	misses := 0
	for done := 0; done < b.N; {
		b.StopTimer()
		f := newEngineFixture(b, keys)
		runtime.GC() // the fill's garbage is not the reads' cost
		b.StartTimer()
		for _, k := range order[:min(len(order), b.N-done)] {
			v, ok := f.getOnce(k)
			sum += v
			if !ok {
				misses++
			}
			done++
		}
	}
	b.StopTimer()
	sink = sum
	if misses != 0 {
		b.Fatalf("%d of %d cold reads missed a present key", misses, b.N)
	}
}

// benchEngineGetWarm is engine_get_cold's steady-state counterpart: the
// same key count and order, after one discarded warm-up pass.
func benchEngineGetWarm(b *testing.B) {
	f := newEngineFixture(b, randomKeys(engineColdKeys))
	runEngineGets(b, f, f.order, true, false)
}

// benchEngineBytesPerVersion reports the live heap per retained version
// (B/version): engineVersionKeys keys, a read-only snapshot held open so that
// version GC must keep every version, then engineVersionsPerKey updates per
// key; the live-heap growth (after full GCs) divided by the number of
// versions written. It is a size, measured once per invocation (run with
// -benchtime 1x); the loop only satisfies the framework, like the mem_ cases.
func benchEngineBytesPerVersion(b *testing.B) {
	b.ReportAllocs()
	f := newEngineFixture(b, randomKeys(engineVersionKeys))
	held := f.e.BeginReadOnly()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for round := range engineVersionsPerKey {
		err := f.e.Update(func(tx txn.Tx) error {
			for _, k := range f.keys {
				if err := txn.Put(tx, f.s, k, uint64(round)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	versions := float64(engineVersionKeys * engineVersionsPerKey)
	perVersion := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / versions
	if v, ok := txn.Get(held, f.s, f.keys[0]); !ok || v != 0 {
		b.Fatalf("held snapshot reads %d, %v; want its version 0", v, ok)
	}
	held.Commit()
	runtime.KeepAlive(f)
	for b.Loop() {
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(perVersion, "B/version")
}

// benchEngineRMWDisjointParallel: b.RunParallel, every goroutine running
// read-modify-write transactions (Begin, Get, Put v+1, Commit) on its own
// contiguous range of the 10,000 keys, so no two goroutines share a key and
// (apart from range boundaries) no records allocated next to each other.
// Compare -cpu 1,2,...: ns/op is wall time per transaction, so perfect
// scaling halves it at -cpu 2. A conflict fails the benchmark (disjoint keys
// never conflict), and the final sum must equal the number of increments.
// No commit writes a line another goroutine's commits write: the lazy
// clock is only read once dirty (mvcc.Domain), and transaction objects are
// padded (txn's txState and storeTx); figures in docs/ARCHITECTURE.md,
// Tier A1.
func benchEngineRMWDisjointParallel(b *testing.B) {
	f := newEngineFixture(b, randomKeys(coreKeys))
	var before uint64
	for i := range f.keys {
		before += uint64(i)
	}
	for range 2 { // warm-up, as in runEnginePuts
		for _, k := range f.keys {
			err := f.e.Update(func(tx txn.Tx) error {
				v, _ := txn.Get(tx, f.s, k)
				return txn.Put(tx, f.s, k, v+1)
			})
			if err != nil {
				b.Fatal(err)
			}
			before++
		}
	}
	procs := runtime.GOMAXPROCS(0)
	chunk := len(f.keys) / procs
	var next, incs, failures atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := int(next.Add(1)-1) % procs
		mine := f.keys[g*chunk : (g+1)*chunk]
		var n, failed int64
		i := 0
		for pb.Next() {
			k := mine[i]
			tx := f.e.Begin()
			v, _ := txn.Get(tx, f.s, k)
			if txn.Put(tx, f.s, k, v+1) != nil || tx.Commit() != nil {
				tx.Rollback()
				failed++
			} else {
				n++
			}
			i++
			if i == len(mine) {
				i = 0
			}
		}
		incs.Add(n)
		failures.Add(failed)
	})
	b.StopTimer()
	if n := failures.Load(); n != 0 {
		b.Fatalf("%d transactions on disjoint keys failed", n)
	}
	var after uint64
	f.e.View(func(tx txn.Tx) error {
		for _, k := range f.keys {
			v, _ := txn.Get(tx, f.s, k)
			after += v
		}
		return nil
	})
	if after-before != uint64(incs.Load()) {
		b.Fatalf("sum grew by %d after %d increments: lost updates", after-before, incs.Load())
	}
}
