package bench

import (
	"sync"
	"testing"

	xsync3 "github.com/puzpuzpuz/xsync/v3"
	xsync "github.com/puzpuzpuz/xsync/v4"
	"github.com/substrate-lab/substrate/lockfree"
)

// PeerCase is one peer measurement: an implementation and an operation, run
// over the same 10,000 fixed-seed random uint64 keys with the same loop shape
// as the core_* cases, so that ours/peer ratios compare like with like.
type PeerCase struct {
	// Impl is the implementation: "substrate", "xsync_v4", "xsync_v3",
	// "sync.Map" or "rwmutex_map".
	Impl string
	// Op is the operation: "load", "store" (of an existing key), "cas" (that
	// must succeed) or "mem" (live heap per entry, reported as B/entry).
	Op string
	// Run is the benchmark body.
	Run func(b *testing.B)
}

// Name returns the sweep name "impl=<impl>/op=<op>", the sub-benchmark name
// under BenchmarkPeers.
func (p PeerCase) Name() string { return "impl=" + p.Impl + "/op=" + p.Op }

// Peer implementations and operations, in report order.
var (
	peerImpls = []string{"substrate", "xsync_v4", "xsync_v3", "sync.Map", "rwmutex_map"}
	peerOps   = []string{"load", "store", "cas", "mem"}
)

// Peers returns every peer case, operation-major (all loads, then stores,
// cas, mem), implementations in a fixed order with substrate first. The
// substrate rows run the very bodies of core_get_hot, core_put_hot,
// core_cas_hot and mem_bytes_per_kv_entry; their distance from those cases
// in one report is a direct reading of run-to-run noise.
//
// cas: sync.Map has CompareAndSwap and the RWMutex map does the compare
// under its write lock; xsync (v3 and v4) has no compare-and-swap for
// values, so the nearest equivalent, Compute with a callback that compares,
// is measured (see computeCAS).
func Peers() []PeerCase {
	bodies := map[string]map[string]func(*testing.B){
		"substrate": {
			"load":  benchCoreGetHot,
			"store": benchCorePutHot,
			"cas":   benchCoreCASHot,
			"mem":   benchMemSubstrate,
		},
		"xsync_v4": {
			"load":  func(b *testing.B) { k := randomKeys(coreKeys); runXsync4Loads(b, newXsync4(k), k) },
			"store": func(b *testing.B) { k := randomKeys(coreKeys); runXsync4Stores(b, newXsync4(k), k) },
			"cas":   func(b *testing.B) { k := randomKeys(coreKeys); runXsync4CAS(b, newXsync4(k), k) },
			"mem":   benchMemXsync4,
		},
		"xsync_v3": {
			"load":  func(b *testing.B) { k := randomKeys(coreKeys); runXsync3Loads(b, newXsync3(k), k) },
			"store": func(b *testing.B) { k := randomKeys(coreKeys); runXsync3Stores(b, newXsync3(k), k) },
			"cas":   func(b *testing.B) { k := randomKeys(coreKeys); runXsync3CAS(b, newXsync3(k), k) },
			"mem":   benchMemXsync3,
		},
		"sync.Map": {
			"load":  func(b *testing.B) { k := randomKeys(coreKeys); runSyncMapLoads(b, newSyncMap(k), k) },
			"store": func(b *testing.B) { k := randomKeys(coreKeys); runSyncMapStores(b, newSyncMap(k), k) },
			"cas":   func(b *testing.B) { k := randomKeys(coreKeys); runSyncMapCAS(b, newSyncMap(k), k) },
			"mem":   benchMemSyncMap,
		},
		"rwmutex_map": {
			"load":  func(b *testing.B) { k := randomKeys(coreKeys); runRWMapLoads(b, newRWMap(k), k) },
			"store": func(b *testing.B) { k := randomKeys(coreKeys); runRWMapStores(b, newRWMap(k), k) },
			"cas":   func(b *testing.B) { k := randomKeys(coreKeys); runRWMapCAS(b, newRWMap(k), k) },
			"mem":   benchMemRWMap,
		},
	}
	var out []PeerCase
	for _, op := range peerOps {
		for _, impl := range peerImpls {
			out = append(out, PeerCase{Impl: impl, Op: op, Run: bodies[impl][op]})
		}
	}
	return out
}

// The loops below are written out per implementation on purpose: a generic
// loop over an interface-constrained type parameter would call the map
// through a dictionary (an indirect call that the substrate loop does not
// pay), which would skew the ratios. Each loop is the same shape as
// runSubstrateLoads / runSubstrateStores / runSubstrateCAS in core.go.

// computeCAS turns Compute into a compare-and-swap for xsync, which has no
// value CAS: the callback swaps only if the key is present with the expected
// value. The callback is a method value bound once before the timer and the
// loop only writes expect/next into the struct, so the harness allocates
// nothing per op (xsync's own per-update entry allocation remains, as it
// would for any user).
type computeCAS struct {
	expect, next uint64
	swapped      bool
}

// v4 is the xsync v4 Compute callback: UpdateOp on a match, CancelOp (leave
// the entry as is) otherwise.
func (c *computeCAS) v4(old uint64, loaded bool) (uint64, xsync.ComputeOp) {
	if loaded && old == c.expect {
		c.swapped = true
		return c.next, xsync.UpdateOp
	}
	c.swapped = false
	return old, xsync.CancelOp
}

// v3 is the xsync v3 Compute callback. v3 has no cancel: on a mismatch the
// old value is written back (an extra store, never taken here since every CAS
// matches) and an absent key is "deleted", which is a no-op.
func (c *computeCAS) v3(old uint64, loaded bool) (uint64, bool) {
	if loaded && old == c.expect {
		c.swapped = true
		return c.next, false
	}
	c.swapped = false
	return old, !loaded
}

// --- xsync v4 (xsync.Map) ---

func newXsync4(keys []uint64) *xsync.Map[uint64, uint64] {
	m := xsync.NewMap[uint64, uint64](xsync.WithPresize(len(keys)))
	for _, i := range fillOrder(len(keys)) {
		k := keys[i]
		m.Store(k, uint64(i))
	}
	return m
}

func runXsync4Loads(b *testing.B, m *xsync.Map[uint64, uint64], order []uint64) {
	b.ReportAllocs()
	var sum uint64
	misses := 0
	for _, k := range order {
		v, ok := m.Load(k)
		sum += v
		if !ok {
			misses++
		}
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
		b.Fatalf("%d loads missed a present key", misses)
	}
}

func runXsync4Stores(b *testing.B, m *xsync.Map[uint64, uint64], order []uint64) {
	b.ReportAllocs()
	want := m.Size()
	for i, k := range order {
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
	if got := m.Size(); got != want {
		b.Fatalf("store changed the map's length: %d, want %d", got, want)
	}
}

func runXsync4CAS(b *testing.B, m *xsync.Map[uint64, uint64], order []uint64) {
	b.ReportAllocs()
	cur := make([]uint64, len(order))
	for i, k := range order {
		cur[i], _ = m.Load(k)
	}
	st := &computeCAS{}
	fn := st.v4
	failures := 0
	for i, k := range order {
		st.expect, st.next = cur[i], cur[i]+1
		m.Compute(k, fn)
		if st.swapped {
			cur[i]++
		} else {
			failures++
		}
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		st.expect, st.next = cur[i], cur[i]+1
		m.Compute(order[i], fn)
		if st.swapped {
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
		b.Fatalf("%d CAS (Compute) failed", failures)
	}
}

func benchMemXsync4(b *testing.B) {
	reportMemFigure(b, measureHeapPerEntry(b, func(keys []uint64) any {
		m := xsync.NewMap[uint64, uint64]()
		for _, i := range fillOrder(len(keys)) {
			k := keys[i]
			m.Store(k, uint64(i))
		}
		return m
	}))
}

// --- xsync v3 (xsync.MapOf) ---

func newXsync3(keys []uint64) *xsync3.MapOf[uint64, uint64] {
	m := xsync3.NewMapOf[uint64, uint64](xsync3.WithPresize(len(keys)))
	for _, i := range fillOrder(len(keys)) {
		k := keys[i]
		m.Store(k, uint64(i))
	}
	return m
}

func runXsync3Loads(b *testing.B, m *xsync3.MapOf[uint64, uint64], order []uint64) {
	b.ReportAllocs()
	var sum uint64
	misses := 0
	for _, k := range order {
		v, ok := m.Load(k)
		sum += v
		if !ok {
			misses++
		}
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
		b.Fatalf("%d loads missed a present key", misses)
	}
}

func runXsync3Stores(b *testing.B, m *xsync3.MapOf[uint64, uint64], order []uint64) {
	b.ReportAllocs()
	want := m.Size()
	for i, k := range order {
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
	if got := m.Size(); got != want {
		b.Fatalf("store changed the map's length: %d, want %d", got, want)
	}
}

func runXsync3CAS(b *testing.B, m *xsync3.MapOf[uint64, uint64], order []uint64) {
	b.ReportAllocs()
	cur := make([]uint64, len(order))
	for i, k := range order {
		cur[i], _ = m.Load(k)
	}
	st := &computeCAS{}
	fn := st.v3
	failures := 0
	for i, k := range order {
		st.expect, st.next = cur[i], cur[i]+1
		m.Compute(k, fn)
		if st.swapped {
			cur[i]++
		} else {
			failures++
		}
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		st.expect, st.next = cur[i], cur[i]+1
		m.Compute(order[i], fn)
		if st.swapped {
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
		b.Fatalf("%d CAS (Compute) failed", failures)
	}
}

func benchMemXsync3(b *testing.B) {
	reportMemFigure(b, measureHeapPerEntry(b, func(keys []uint64) any {
		m := xsync3.NewMapOf[uint64, uint64]()
		for _, i := range fillOrder(len(keys)) {
			k := keys[i]
			m.Store(k, uint64(i))
		}
		return m
	}))
}

// --- sync.Map ---
//
// sync.Map's API takes and returns `any`: keys and values of 256 and above
// are boxed by the caller's conversion, and loads need a type assertion.
// That is the price every sync.Map user pays, so it is part of the figure.

func newSyncMap(keys []uint64) *sync.Map {
	m := new(sync.Map)
	for _, i := range fillOrder(len(keys)) {
		k := keys[i]
		m.Store(k, uint64(i))
	}
	return m
}

func runSyncMapLoads(b *testing.B, m *sync.Map, order []uint64) {
	b.ReportAllocs()
	var sum uint64
	misses := 0
	for _, k := range order {
		v, ok := m.Load(k)
		u, _ := v.(uint64)
		sum += u
		if !ok {
			misses++
		}
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		v, ok := m.Load(order[i])
		u, _ := v.(uint64)
		sum += u
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
		b.Fatalf("%d loads missed a present key", misses)
	}
}

func runSyncMapStores(b *testing.B, m *sync.Map, order []uint64) {
	b.ReportAllocs()
	for i, k := range order {
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
	if got := syncMapLen(m); got != len(order) {
		b.Fatalf("store changed the map's length: %d, want %d", got, len(order))
	}
}

func syncMapLen(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

func runSyncMapCAS(b *testing.B, m *sync.Map, order []uint64) {
	b.ReportAllocs()
	cur := make([]uint64, len(order))
	for i, k := range order {
		v, _ := m.Load(k)
		cur[i], _ = v.(uint64)
	}
	failures := 0
	for i, k := range order {
		if m.CompareAndSwap(k, cur[i], cur[i]+1) {
			cur[i]++
		} else {
			failures++
		}
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		if m.CompareAndSwap(order[i], cur[i], cur[i]+1) {
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
		b.Fatalf("%d CAS failed", failures)
	}
}

func benchMemSyncMap(b *testing.B) {
	reportMemFigure(b, measureHeapPerEntry(b, func(keys []uint64) any {
		m := new(sync.Map)
		for _, i := range fillOrder(len(keys)) {
			k := keys[i]
			m.Store(k, uint64(i))
		}
		return m
	}))
}

// --- map[uint64]uint64 + sync.RWMutex ---

// rwMap is the baseline everyone writes first: a Go map under a
// sync.RWMutex. The methods avoid defer so that they inline like the other
// implementations' fast paths.
type rwMap struct {
	mu sync.RWMutex
	m  map[uint64]uint64
}

func newRWMap(keys []uint64) *rwMap {
	r := &rwMap{m: make(map[uint64]uint64, len(keys))}
	for _, i := range fillOrder(len(keys)) {
		k := keys[i]
		r.m[k] = uint64(i)
	}
	return r
}

// Load returns k's value under the read lock.
func (r *rwMap) Load(k uint64) (uint64, bool) {
	r.mu.RLock()
	v, ok := r.m[k]
	r.mu.RUnlock()
	return v, ok
}

// Store sets k's value under the write lock.
func (r *rwMap) Store(k, v uint64) {
	r.mu.Lock()
	r.m[k] = v
	r.mu.Unlock()
}

// CompareAndSwap swaps k's value from old to new under the write lock.
func (r *rwMap) CompareAndSwap(k, old, new uint64) bool {
	r.mu.Lock()
	v, ok := r.m[k]
	swapped := ok && v == old
	if swapped {
		r.m[k] = new
	}
	r.mu.Unlock()
	return swapped
}

// Len returns the number of entries under the read lock.
func (r *rwMap) Len() int {
	r.mu.RLock()
	n := len(r.m)
	r.mu.RUnlock()
	return n
}

func runRWMapLoads(b *testing.B, m *rwMap, order []uint64) {
	b.ReportAllocs()
	var sum uint64
	misses := 0
	for _, k := range order {
		v, ok := m.Load(k)
		sum += v
		if !ok {
			misses++
		}
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
		b.Fatalf("%d loads missed a present key", misses)
	}
}

func runRWMapStores(b *testing.B, m *rwMap, order []uint64) {
	b.ReportAllocs()
	want := m.Len()
	for i, k := range order {
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

func runRWMapCAS(b *testing.B, m *rwMap, order []uint64) {
	b.ReportAllocs()
	cur := make([]uint64, len(order))
	for i, k := range order {
		cur[i], _ = m.Load(k)
	}
	failures := 0
	for i, k := range order {
		if m.CompareAndSwap(k, cur[i], cur[i]+1) {
			cur[i]++
		} else {
			failures++
		}
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		if m.CompareAndSwap(order[i], cur[i], cur[i]+1) {
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
		b.Fatalf("%d CAS failed", failures)
	}
}

func benchMemRWMap(b *testing.B) {
	reportMemFigure(b, measureHeapPerEntry(b, func(keys []uint64) any {
		r := &rwMap{m: make(map[uint64]uint64)}
		for _, i := range fillOrder(len(keys)) {
			k := keys[i]
			r.m[k] = uint64(i)
		}
		return r
	}))
}

// Compile-time check that the substrate bodies used as peers have the
// expected map type.
var _ func(*testing.B, *lockfree.Map[uint64, uint64], []uint64) = runSubstrateLoads
