package bench

import (
	"runtime"
	"testing"

	"github.com/substrate-lab/substrate/lockfree"
)

// memEntries is the number of uint64 -> uint64 entries the memory cases
// insert.
const memEntries = 100_000

// memCases is Category 7 (memory overhead) for Tier A0: bytes of live heap
// per entry of the core map. Observability only (the plan sets no gate).
func memCases() []Case {
	return []Case{{
		Name: "mem_bytes_per_kv_entry", Tier: "A0", Group: "mem", Gate: "none",
		Metric: "B/entry", Run: benchMemSubstrate,
	}}
}

// benchMemSubstrate reports the live heap per entry of a substrate map that
// received memEntries inserts (B/entry), and the map's own accounting from
// MemStats (table-B/entry), which also covers memory outside the Go heap, if
// the table ever holds any.
func benchMemSubstrate(b *testing.B) {
	var m *lockfree.Map[uint64, uint64]
	perEntry := measureHeapPerEntry(b, func(keys []uint64) any {
		m = lockfree.NewMap[uint64, uint64]()
		for i, k := range keys {
			m.Store(k, uint64(i))
		}
		return m
	})
	tableBytes, entries := m.MemStats()
	if entries != memEntries {
		b.Fatalf("map holds %d entries after %d distinct inserts", entries, memEntries)
	}
	reportMemFigure(b, perEntry)
	// 0 means the map's MemStats does not account for its table yet.
	b.ReportMetric(float64(tableBytes)/memEntries, "table-B/entry")
}

// measureHeapPerEntry builds a map with build (memEntries fixed-seed random
// keys, inserted into a map constructed without presizing: what a user who
// just inserts pays, growth included) and returns the growth of live heap
// per entry. The heap is read after a full GC before and after the build,
// with the keys allocated and kept alive across both readings so that only
// the map is counted; garbage from resizing is collected and not counted.
//
// This is a size, not a timing, so it is measured once per benchmark
// invocation, before b.Loop, whatever b.N is; see reportMemFigure.
func measureHeapPerEntry(b *testing.B, build func(keys []uint64) any) float64 {
	b.ReportAllocs()
	keys := randomKeys(memEntries)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := build(keys)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	runtime.KeepAlive(keys)
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / memEntries
}

// reportMemFigure finishes a memory case. b.Loop runs the benchmark function
// once per invocation and ramps its own iteration count, so the measurement
// above happened exactly once; the loop body is empty and only satisfies the
// framework (with -benchtime 1x it runs once; with a duration it idles for
// that long, so run mem_ cases with -benchtime 1x). The per-op timing is
// meaningless and is suppressed (ns/op reported as 0); the figure is the
// B/entry metric, reported after the loop because b.Loop's first call resets
// user metrics.
func reportMemFigure(b *testing.B, perEntry float64) {
	for b.Loop() {
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(perEntry, "B/entry")
}
