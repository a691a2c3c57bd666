package lockfree_test

import (
	"fmt"
	"sort"

	"github.com/substrate-lab/substrate/lockfree"
)

func ExampleMap() {
	m := lockfree.NewMap[string, int](lockfree.WithPresize(16))
	m.Store("alpha", 1)
	m.Store("beta", 2)

	v, ok := m.Load("alpha")
	fmt.Println(v, ok)

	actual, loaded := m.LoadOrStore("beta", 20)
	fmt.Println(actual, loaded)

	old, deleted := m.LoadAndDelete("alpha")
	fmt.Println(old, deleted, m.Len())
	// Output:
	// 1 true
	// 2 true
	// 1 true 1
}

func ExampleCompareAndSwap() {
	counters := lockfree.NewMap[uint64, uint64]()
	counters.Store(7, 0)
	// A lock-free increment: retry until no other writer got in between.
	for {
		cur, _ := counters.Load(7)
		if lockfree.CompareAndSwap(counters, 7, cur, cur+1) {
			break
		}
	}
	v, _ := counters.Load(7)
	fmt.Println(v)
	fmt.Println(lockfree.CompareAndSwap(counters, 7, 0, 5)) // stale expectation
	// Output:
	// 1
	// false
}

func ExampleMap_Range() {
	m := lockfree.NewMap[int, string]()
	for i, s := range []string{"a", "b", "c"} {
		m.Store(i, s)
	}
	var keys []int
	m.Range(func(k int, _ string) bool {
		keys = append(keys, k)
		return true
	})
	sort.Ints(keys) // Range order is unspecified
	fmt.Println(keys)
	// Output: [0 1 2]
}

func ExampleWithHasher() {
	type point struct{ x, y int32 }
	h := func(p point, seed uint64) uint64 {
		return (uint64(uint32(p.x))<<32|uint64(uint32(p.y)))*0x9e3779b97f4a7c15 ^ seed
	}
	m := lockfree.NewMap[point, string](lockfree.WithHasher(h))
	m.Store(point{1, 2}, "here")
	v, _ := m.Load(point{1, 2})
	fmt.Println(v)

	_, err := lockfree.TryNewMap[string, int](lockfree.WithHasher(h))
	fmt.Println(err != nil)
	// Output:
	// here
	// true
}
