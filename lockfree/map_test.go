package lockfree

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"testing/quick"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --- reference model -------------------------------------------------------

// op is one step of a random operation sequence.
type op struct {
	Kind uint8
	Key  uint16
	Val  uint32
}

// configs are the adversarial configurations every model test runs under.
var configs = []struct {
	name string
	opts []Option
}{
	{"default", nil},
	{"tiny", []Option{WithPresize(0)}},
	{"colliding", []Option{WithHasher(func(uint64, uint64) uint64 { return 0x2a })}}, // every key on one tag and one home group
	{"two-hashes", []Option{WithHasher(func(k uint64, _ uint64) uint64 { return (k & 1) << 7 })}},
	{"presized", []Option{WithPresize(5000)}},
}

// checkAgainstModel applies ops to a Map and to the model and compares
// every result, then the full contents.
func checkAgainstModel(t *testing.T, opts []Option, keySpace uint16, ops []op) bool {
	t.Helper()
	m := NewMap[uint64, uint64](opts...)
	ref := map[uint64]uint64{}
	for n, o := range ops {
		k := uint64(o.Key % keySpace)
		v := uint64(o.Val)
		switch o.Kind % 7 {
		case 0:
			got, ok := m.Load(k)
			want, wok := ref[k]
			if got != want || ok != wok {
				t.Logf("op %d Load(%d) = %d,%v want %d,%v", n, k, got, ok, want, wok)
				return false
			}
		case 1:
			m.Store(k, v)
			ref[k] = v
		case 2:
			got, loaded := m.LoadOrStore(k, v)
			want, wok := ref[k]
			if !wok {
				want = v
				ref[k] = v
			}
			if got != want || loaded != wok {
				t.Logf("op %d LoadOrStore(%d) = %d,%v want %d,%v", n, k, got, loaded, want, wok)
				return false
			}
		case 3:
			got, loaded := m.LoadAndDelete(k)
			want, wok := ref[k]
			delete(ref, k)
			if got != want || loaded != wok {
				t.Logf("op %d LoadAndDelete(%d) = %d,%v want %d,%v", n, k, got, loaded, want, wok)
				return false
			}
		case 4:
			m.Delete(k)
			delete(ref, k)
		case 5:
			old := v % 4
			swapped := CompareAndSwap(m, k, old, v)
			cur, ok := ref[k]
			want := ok && cur == old
			if want {
				ref[k] = v
			}
			if swapped != want {
				t.Logf("op %d CompareAndSwap(%d, %d, %d) = %v want %v", n, k, old, v, swapped, want)
				return false
			}
		case 6:
			old := v % 4
			del := CompareAndDelete(m, k, old)
			cur, ok := ref[k]
			want := ok && cur == old
			if want {
				delete(ref, k)
			}
			if del != want {
				t.Logf("op %d CompareAndDelete(%d, %d) = %v want %v", n, k, old, del, want)
				return false
			}
		}
		if m.Len() != len(ref) {
			t.Logf("op %d Len = %d want %d", n, m.Len(), len(ref))
			return false
		}
	}
	got := map[uint64]uint64{}
	dups := 0
	m.Range(func(k, v uint64) bool {
		if _, dup := got[k]; dup {
			t.Logf("Range visited %d twice", k) // each key exactly once (Map.Range)
			dups++
		}
		got[k] = v
		return true
	})
	return assert.Equal(t, ref, got, "Range contents") && dups == 0
}

func TestMapMatchesModel(t *testing.T) {
	for _, c := range configs {
		t.Run("config="+c.name, func(t *testing.T) {
			for _, space := range []uint16{4, 64, 2000} {
				f := func(ops []op) bool { return checkAgainstModel(t, c.opts, space, ops) }
				cfg := &quick.Config{MaxCount: 60, Rand: nil}
				if c.name == "colliding" && space == 2000 {
					cfg.MaxCount = 10 // every probe is a full scan: keep it quick
				}
				if err := quick.Check(f, cfg); err != nil {
					t.Fatalf("space=%d: %v", space, err)
				}
			}
		})
	}
}

// TestMapMatchesModelLong drives long sequences so tables grow, fill with
// deleted slots and rebuild many times.
func TestMapMatchesModelLong(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range configs {
		t.Run("config="+c.name, func(t *testing.T) {
			n := 20000
			if c.name == "colliding" {
				n = 3000
			}
			ops := make([]op, n)
			for i := range ops {
				ops[i] = op{Kind: uint8(r.IntN(7)), Key: uint16(r.IntN(1 << 16)), Val: r.Uint32()}
			}
			require.True(t, checkAgainstModel(t, c.opts, 1500, ops))
		})
	}
}

func FuzzMap(f *testing.F) {
	f.Add([]byte{1, 0, 1, 0, 0, 1, 3, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		ops := make([]op, 0, len(data)/3)
		for i := 0; i+2 < len(data); i += 3 {
			ops = append(ops, op{Kind: data[i], Key: uint16(data[i+1]), Val: uint32(data[i+2])})
		}
		for _, c := range configs {
			if !checkAgainstModel(t, c.opts, 97, ops) {
				t.Fatalf("config %s diverged from the model", c.name)
			}
		}
	})
}

// --- key and value kinds ---------------------------------------------------

func TestStringKeysBoxedValues(t *testing.T) {
	m := NewMap[string, string]()
	for i := range 1000 {
		m.Store(fmt.Sprint("k", i), fmt.Sprint("v", i))
	}
	m.Store("", "empty")
	for i := range 1000 {
		v, ok := m.Load(fmt.Sprint("k", i))
		require.True(t, ok)
		require.Equal(t, fmt.Sprint("v", i), v)
	}
	v, ok := m.Load("")
	require.True(t, ok)
	require.Equal(t, "empty", v)
	require.True(t, CompareAndSwap(m, "k1", "v1", "w1"))
	require.False(t, CompareAndSwap(m, "k1", "v1", "x1"))
	v, _ = m.Load("k1")
	require.Equal(t, "w1", v)
	require.Equal(t, 1001, m.Len())
}

func TestPointerValues(t *testing.T) {
	type rec struct{ n int }
	m := NewMap[int, *rec]()
	require.Equal(t, pointerMode, m.vmode)
	a, b := &rec{1}, &rec{2}
	m.Store(1, a)
	require.True(t, CompareAndSwap(m, 1, a, b))
	got, _ := m.Load(1)
	require.Same(t, b, got)
	m.Store(2, nil)
	got, ok := m.Load(2)
	require.True(t, ok)
	require.Nil(t, got)
}

func TestValueModes(t *testing.T) {
	assert.Equal(t, scalarMode, NewMap[int, uint64]().vmode)
	assert.Equal(t, scalarMode, NewMap[int, float32]().vmode)
	assert.Equal(t, scalarMode, NewMap[int, struct{ a, b int32 }]().vmode)
	assert.Equal(t, scalarMode, NewMap[int, struct{}]().vmode)
	assert.Equal(t, pointerMode, NewMap[int, *int]().vmode)
	assert.Equal(t, pointerMode, NewMap[int, map[int]int]().vmode)
	assert.Equal(t, pointerMode, NewMap[int, func()]().vmode)
	assert.Equal(t, boxedMode, NewMap[int, string]().vmode)
	assert.Equal(t, boxedMode, NewMap[int, [2]uint64]().vmode)
	assert.Equal(t, boxedMode, NewMap[int, any]().vmode)
}

func TestSmallScalarValuesRoundTrip(t *testing.T) {
	type pair struct {
		a uint8
		b int16
	}
	m := NewMap[int8, pair]()
	for i := range 128 {
		m.Store(int8(i), pair{uint8(i), int16(-i)})
	}
	for i := range 128 {
		v, ok := m.Load(int8(i))
		require.True(t, ok)
		require.Equal(t, pair{uint8(i), int16(-i)}, v)
	}
	b := NewMap[bool, bool]()
	b.Store(true, true)
	b.Store(false, false)
	v, ok := b.Load(false)
	require.True(t, ok)
	require.False(t, v)
}

func TestFloatKeys(t *testing.T) {
	m := NewMap[float64, int]()
	m.Store(0.0, 1)
	v, ok := m.Load(math.Copysign(0, -1))
	require.True(t, ok, "-0 and +0 are the same key")
	require.Equal(t, 1, v)

	nan := math.NaN()
	m.Store(nan, 2)
	m.Store(nan, 3)
	_, ok = m.Load(nan)
	require.False(t, ok, "NaN never equals itself")
	require.Equal(t, 3, m.Len(), "each NaN Store adds an entry, as in Go maps")
	m.Delete(nan) // no panic, no effect
	require.Equal(t, 3, m.Len())
	m.Clear()
	require.Equal(t, 0, m.Len())

	f := NewMap[float32, int]()
	f.Store(float32(math.Copysign(0, -1)), 7)
	v, ok = f.Load(0)
	require.True(t, ok)
	require.Equal(t, 7, v)
}

func TestGenericKeys(t *testing.T) {
	type key struct {
		a string
		b int
	}
	m := NewMap[key, int]()
	m.Store(key{"x", 1}, 1)
	m.Store(key{"x", 2}, 2)
	v, ok := m.Load(key{"x", 2})
	require.True(t, ok)
	require.Equal(t, 2, v)
	var zero key
	_, ok = m.Load(zero)
	require.False(t, ok)

	im := NewMap[any, int]()
	im.Store(1, 1)
	im.Store("1", 2)
	v, _ = im.Load(1)
	require.Equal(t, 1, v)
	v, _ = im.Load("1")
	require.Equal(t, 2, v)
}

func TestZeroKeysAndValues(t *testing.T) {
	m := NewMap[uint64, uint64]()
	_, ok := m.Load(0)
	require.False(t, ok)
	m.Store(0, 0)
	v, ok := m.Load(0)
	require.True(t, ok)
	require.Zero(t, v)
	require.True(t, CompareAndSwap(m, 0, 0, 1))
	m.Delete(0)
	m.Delete(0)
	_, ok = m.LoadAndDelete(0)
	require.False(t, ok)
	require.False(t, CompareAndSwap(m, 0, 1, 2))
	require.Equal(t, 0, m.Len())
}

// --- options ---------------------------------------------------------------

func TestOptions(t *testing.T) {
	_, err := TryNewMap[string, int](WithHasher(func(uint64, uint64) uint64 { return 0 }))
	require.True(t, errors.Is(err, ErrHasherType), "got %v", err)
	require.Panics(t, func() { NewMap[string, int](WithHasher(func(uint64, uint64) uint64 { return 0 })) })

	m, err := TryNewMap[uint64, int](WithPresize(-5), nil, WithHasher[uint64](nil))
	require.NoError(t, err)
	require.Equal(t, 1, len(m.table.Load().groups), "negative presize clamps to the minimum")

	m = NewMap[uint64, int](WithPresize(1000))
	groups := len(m.table.Load().groups)
	for i := range uint64(1000) {
		m.Store(i, 1)
	}
	require.Equal(t, groups, len(m.table.Load().groups), "a presized map takes its size without a rebuild")
	m.Clear()
	require.Equal(t, groups, len(m.table.Load().groups), "Clear keeps the presized minimum")

	huge := WithPresize(math.MaxInt)
	var c config
	huge(&c)
	require.Equal(t, maxPresize, c.presize)
}

// --- rebuilds --------------------------------------------------------------

func TestDeleteHeavyRebuildsDoNotGrow(t *testing.T) {
	m := NewMap[uint64, uint64]()
	for round := range uint64(200) {
		for i := range uint64(100) {
			m.Store(round*1000+i, i)
		}
		for i := range uint64(100) {
			m.Delete(round*1000 + i)
		}
	}
	require.Equal(t, 0, m.Len())
	require.LessOrEqual(t, len(m.table.Load().groups), 64, "deleted slots are reclaimed, not grown around")
}

// --- concurrency (run with -race) ------------------------------------------

func TestLoadOrStoreOneWinner(t *testing.T) {
	for _, c := range configs[:3] {
		t.Run("config="+c.name, func(t *testing.T) {
			m := NewMap[uint64, uint64](c.opts...)
			const workers, keys = 8, 300
			var wins [keys]atomic.Int32
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range uint64(keys) {
						actual, loaded := m.LoadOrStore(k, uint64(w))
						if !loaded {
							wins[k].Add(1)
							if actual != uint64(w) {
								t.Errorf("winner got %d, stored %d", actual, w)
							}
						}
					}
				}()
			}
			wg.Wait()
			for k := range keys {
				require.EqualValues(t, 1, wins[k].Load(), "key %d", k)
			}
			require.Equal(t, keys, m.Len())
		})
	}
}

// TestNothingLostDuringResize has writers insert disjoint keys from a
// minimal table (so it rebuilds many times) while others update a fixed set
// and readers check that the fixed set never disappears.
func TestNothingLostDuringResize(t *testing.T) {
	m := NewMap[uint64, uint64](WithPresize(0))
	const fixed = 64
	for k := range uint64(fixed) {
		m.Store(1<<40+k, 0)
	}
	const writers, per = 4, 5000
	var wg sync.WaitGroup
	var stop atomic.Bool
	for w := range uint64(writers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range uint64(per) {
				m.Store(w<<32|i, i)
				k := 1<<40 + i%fixed
				for {
					old, _ := m.Load(k)
					if CompareAndSwap(m, k, old, old+1) {
						break
					}
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for !stop.Load() {
				for k := range uint64(fixed) {
					if _, ok := m.Load(1<<40 + k); !ok {
						t.Errorf("key %d vanished during a resize", k)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	require.Equal(t, writers*per+fixed, m.Len())
	var total uint64
	for w := range uint64(writers) {
		for i := range uint64(per) {
			v, ok := m.Load(w<<32 | i)
			require.True(t, ok)
			require.Equal(t, i, v)
		}
	}
	for k := range uint64(fixed) {
		v, _ := m.Load(1<<40 + k)
		total += v
	}
	require.EqualValues(t, writers*per, total, "no CAS increment lost across rebuilds")
}

// TestRangeSeesStableKeys: keys present for the whole Range are each seen
// exactly once, while other keys churn and force rebuilds.
func TestRangeSeesStableKeys(t *testing.T) {
	m := NewMap[uint64, uint64](WithPresize(0))
	const stable = 500
	for k := range uint64(stable) {
		m.Store(k, k)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(0); !stop.Load(); i++ {
			m.Store(1<<32+i, i)
			if i >= 64 {
				m.Delete(1<<32 + i - 64)
			}
		}
	}()
	for range 30 {
		seen := map[uint64]int{}
		m.Range(func(k, v uint64) bool {
			if k < stable {
				seen[k]++
				if v != k {
					t.Errorf("key %d has value %d", k, v)
				}
			}
			return true
		})
		require.Len(t, seen, stable)
		for k, n := range seen {
			require.Equal(t, 1, n, "key %d seen %d times", k, n)
		}
	}
	stop.Store(true)
	wg.Wait()
}

func TestConcurrentMixedAgainstFinalState(t *testing.T) {
	m := NewMap[string, int](WithPresize(0))
	const workers = 6
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := range 3000 {
				k := fmt.Sprintf("w%d-%d", w, r.IntN(200))
				switch r.IntN(4) {
				case 0:
					m.Delete(k)
				default:
					m.Store(k, i)
				}
			}
			for i := range 200 { // end state per worker: even keys present
				k := fmt.Sprintf("w%d-%d", w, i)
				if i%2 == 0 {
					m.Store(k, i)
				} else {
					m.Delete(k)
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, workers*100, m.Len())
	var keys []string
	m.Range(func(k string, _ int) bool { keys = append(keys, k); return true })
	sort.Strings(keys)
	require.Len(t, keys, workers*100)
}

func TestRangeStopsEarlyAndMayMutate(t *testing.T) {
	m := NewMap[int, int]()
	for i := range 100 {
		m.Store(i, i)
	}
	n := 0
	m.Range(func(k, _ int) bool {
		m.Delete(k)
		m.Store(k+1000, k) // may or may not be visited
		n++
		return n < 10
	})
	require.Equal(t, 10, n)
	require.NotPanics(t, func() { m.Range(nil) }, "a nil f visits nothing")
}

// --- allocations -------------------------------------------------------------

func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := NewMap[uint64, uint64](WithPresize(1024))
	for k := range uint64(1024) {
		m.Store(k, k)
	}
	var k uint64
	assert.Zero(t, testing.AllocsPerRun(1000, func() { m.Load(k & 1023); k++ }), "Load")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { m.Store(k&1023, k); k++ }), "Store existing")
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		v, _ := m.Load(k & 1023)
		CompareAndSwap(m, k&1023, v, v+1)
		k++
	}), "CompareAndSwap")

	type rec struct{ x int }
	p := NewMap[string, *rec]()
	r1, r2 := &rec{1}, &rec{2}
	p.Store("a", r1)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { p.Load("a") }), "Load string key")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { p.Store("a", r2); p.Store("a", r1) }), "Store pointer value")
}

// --- layout ------------------------------------------------------------------

func TestLayout(t *testing.T) {
	require.EqualValues(t, 64, unsafe.Sizeof(group[uint64]{}), "an 8-byte-key group is one cache line")
	require.EqualValues(t, 0, unsafe.Offsetof(group[uint64]{}.meta))
	var tb table[uint64]
	require.GreaterOrEqual(t, unsafe.Offsetof(tb.deleted)-unsafe.Offsetof(tb.used), uintptr(128),
		"used and deleted counters sit on separate 128-byte prefetch pairs")
	require.GreaterOrEqual(t, unsafe.Offsetof(tb.used)-unsafe.Offsetof(tb.maxUsed), uintptr(128),
		"the read-mostly header is apart from the counters")
	// Pointer-free groups of >= 512 bytes come from size classes that are
	// multiples of 64 and carry no malloc header, so every group starts a line.
	for _, n := range []int{8, 16, 64, 1024} {
		nt := newTable[uint64](n, scalarMode)
		require.Zero(t, uintptr(unsafe.Pointer(&nt.groups[0]))%64, "groups=%d not line-aligned", n)
	}
}

func TestSWAR(t *testing.T) {
	meta := uint64(0)
	meta = withTag(meta, 0, 0x85)
	meta = withTag(meta, 3, 0x85)
	meta = withTag(meta, 4, tagDeleted)
	meta |= ctrlLock | ctrlFrozen
	var slots []int
	for l := matchTag(meta, 0x85); l != 0; l &= l - 1 {
		slots = append(slots, laneSlot(l))
	}
	require.Equal(t, []int{0, 3}, slots)
	require.Zero(t, matchTag(meta, 0x86))
	var empties []int
	for l := emptyLanes(meta); l != 0; l &= l - 1 {
		empties = append(empties, laneSlot(l))
	}
	require.Equal(t, []int{1, 2, 5, 6}, empties, "the control byte is never a slot")
	require.Equal(t, 2, popLanes(fullLanes(meta)))
	// exhaustive over one lane next to every other value: no false positives
	for a := range 256 {
		for b := 0; b < 256; b += 17 {
			m := uint64(a) | uint64(b)<<8
			got := zeroLanes(m)
			want := uint64(0)
			for s := range groupSlots {
				if tagAt(m, s) == 0 {
					want |= 0x80 << (8 * s)
				}
			}
			require.Equal(t, want, got, "a=%x b=%x", a, b)
		}
	}
}

func popLanes(l uint64) int {
	n := 0
	for ; l != 0; l &= l - 1 {
		n++
	}
	return n
}

// TestStoreExistingNotLostAcrossRebuilds: each writer owns one existing key
// and stores 1..n into it with the lock-free update path, while churners
// force rebuilds. A Store that raced a rebuild's copy must be redone on the
// new table, so every key must end at n.
func TestStoreExistingNotLostAcrossRebuilds(t *testing.T) {
	for round := range 5 {
		m := NewMap[uint64, uint64](WithPresize(0))
		const writers, n = 4, 4000
		for w := range uint64(writers) {
			m.Store(w, 0)
		}
		var stop atomic.Bool
		var churn sync.WaitGroup
		churn.Add(1)
		go func() {
			defer churn.Done()
			for i := uint64(0); !stop.Load(); i++ {
				m.Store(1<<32+i, i) // grows the table, forcing rebuilds
				if i%3 == 0 {
					m.Delete(1<<32 + i/2) // fills it with deleted slots, forcing same-size rebuilds
				}
			}
		}()
		var wg sync.WaitGroup
		for w := range uint64(writers) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for v := uint64(1); v <= n; v++ {
					m.Store(w, v)
				}
			}()
		}
		wg.Wait()
		stop.Store(true)
		churn.Wait()
		for w := range uint64(writers) {
			v, ok := m.Load(w)
			require.True(t, ok)
			require.Equal(t, uint64(n), v, "round %d writer %d: a Store was lost in a rebuild", round, w)
		}
	}
}

// BenchmarkMapGrow inserts n distinct keys into a new, unsized map, so the
// table is rebuilt log2(n/8) times on the way: the cost of growth (rebuild
// copies, fresh tables) per insert, for the event logs of package prims,
// which insert one key per event and never stop growing. Baseline: the same
// inserts into a map presized for n (no rebuild).
func BenchmarkMapGrow(b *testing.B) {
	for _, n := range []int{1 << 16, 1 << 20} {
		v := new(int)
		for _, presized := range []bool{false, true} {
			b.Run(fmt.Sprintf("n=%d/presized=%v", n, presized), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var m *Map[uint64, *int]
					if presized {
						m = NewMap[uint64, *int](WithPresize(n))
					} else {
						m = NewMap[uint64, *int]()
					}
					for i := range uint64(n) {
						m.Store(i, v)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/insert")
			})
		}
	}
}
