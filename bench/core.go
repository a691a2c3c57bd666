package bench

import (
	"testing"
	"time"

	"github.com/substrate-lab/substrate/lockfree"
)

// coreKeys is the key-space size of the core_* cases and the peers: 10,000
// random uint64 keys, all present in the map.
const coreKeys = 10_000

// coreCases is Tier A0 Category 1 (M3 plan): raw map operations with no
// transaction machinery, snapshots, closures or version tracking.
func coreCases() []Case {
	return []Case{
		{
			Name: "core_get_hot", Tier: "A0", Group: "core", Gate: "none",
			PlanGoal: 200 * time.Nanosecond, OurGoal: 30 * time.Nanosecond,
			Run: benchCoreGetHot,
		},
		{
			Name: "core_put_hot", Tier: "A0", Group: "core", Gate: "none",
			PlanGoal: 300 * time.Nanosecond, OurGoal: 60 * time.Nanosecond,
			Run: benchCorePutHot,
		},
		{
			Name: "core_cas_hot", Tier: "A0", Group: "core", Gate: "none",
			PlanGoal: 500 * time.Nanosecond, OurGoal: 60 * time.Nanosecond,
			Run: benchCoreCASHot,
		},
	}
}

// benchCoreGetHot measures Load over 10,000 random keys, all present, in the
// order they were generated (a random order over the table).
func benchCoreGetHot(b *testing.B) {
	keys := randomKeys(coreKeys)
	runSubstrateLoads(b, newFilledMap(keys), keys)
}

// benchCorePutHot measures Store to keys that already exist: an update, never
// an insert, so the table never grows and the figure is the steady-state
// write path.
func benchCorePutHot(b *testing.B) {
	keys := randomKeys(coreKeys)
	runSubstrateStores(b, newFilledMap(keys), keys)
}

// benchCoreCASHot measures CompareAndSwap on existing keys with the correct
// expected value, so every CAS must succeed (old -> old+1).
func benchCoreCASHot(b *testing.B) {
	keys := randomKeys(coreKeys)
	runSubstrateCAS(b, newFilledMap(keys), keys)
}

// runSubstrateLoads is the load loop shared by core_get_hot, the cache_* and
// branch_* cases and the substrate peer: one Load per iteration, keys taken
// from order with a wrap counter. Loaded values are summed into a local and
// published to sink after the loop; a miss fails the benchmark. The map is
// warmed with one full pass before the timer starts.
func runSubstrateLoads(b *testing.B, m *lockfree.Map[uint64, uint64], order []uint64) {
	b.ReportAllocs()
	var sum uint64
	misses := 0
	for _, k := range order { // warm-up pass: steady state only
		v, ok := m.Load(k)
		sum += v
		if !ok {
			misses++
		}
	}
	if misses != 0 {
		b.Fatalf("warm-up: %d of %d keys missing", misses, len(order))
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		v, ok := m.Load(order[i])
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
	sink = sum
	if misses != 0 {
		b.Fatalf("%d of %d loads missed a present key", misses, b.N)
	}
}

// runSubstrateStores is the store loop: one Store of an existing key per
// iteration, with the iteration number as the value (a changing value, so no
// implementation can skip an identical write). The final length is checked
// so a store that inserted instead of updating fails the benchmark.
func runSubstrateStores(b *testing.B, m *lockfree.Map[uint64, uint64], order []uint64) {
	b.ReportAllocs()
	want := m.Len()
	for i, k := range order { // warm-up pass of the measured operation
		m.Store(k, uint64(i))
	}
	b.ResetTimer()
	i := 0
	for n := range b.N {
		m.Store(order[i], uint64(n))
		i++
		if i == len(order) {
			i = 0
		}
	}
	b.StopTimer()
	if got := m.Len(); got != want {
		b.Fatalf("store changed the map's length: %d, want %d", got, want)
	}
}

// runSubstrateCAS is the compare-and-swap loop. order must hold each key at
// most once: cur[i] is the expected current value of order[i], kept in a
// slice allocated before the timer, and every CAS swaps cur[i] -> cur[i]+1,
// so every CAS must succeed. Failures are counted and fail the benchmark
// after the loop (a CAS that fails is a cheaper operation and would flatter
// the figure).
func runSubstrateCAS(b *testing.B, m *lockfree.Map[uint64, uint64], order []uint64) {
	b.ReportAllocs()
	cur := make([]uint64, len(order))
	for i, k := range order {
		v, ok := m.Load(k)
		if !ok {
			b.Fatalf("key %d missing before CAS", k)
		}
		cur[i] = v
	}
	failures := 0
	for i, k := range order { // warm-up pass of the measured operation
		if lockfree.CompareAndSwap(m, k, cur[i], cur[i]+1) {
			cur[i]++
		} else {
			failures++
		}
	}
	if failures != 0 {
		b.Fatalf("warm-up: %d CAS failed", failures)
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		if lockfree.CompareAndSwap(m, order[i], cur[i], cur[i]+1) {
			cur[i]++
		} else {
			failures++
		}
		i++
		if i == len(order) {
			i = 0
		}
	}
	b.StopTimer()
	if failures != 0 {
		b.Fatalf("%d of %d CAS failed; every CAS had the right expected value", failures, b.N)
	}
}
