package bench

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/substrate-lab/substrate/lockfree"
	"github.com/substrate-lab/substrate/prims"
)

// Fixed seeds: every run, every case and every peer sees the same keys in
// the same order.
const (
	seedKeys    = 0x5ab5_7a7e_0000_0001
	seedKeysAlt = 0x9e37_79b9_7f4a_7c15
	seedShuffle = 0x5ab5_7a7e_0000_0002
)

// sink receives the sum of every loaded value after each timed loop, so the
// compiler must perform the loads. It is written once per benchmark run,
// never inside the loop.
var sink uint64

// randomKeys returns n distinct pseudo-random uint64 keys from a fixed-seed
// PCG stream. The first n keys are the same for every n (a prefix of one
// stream), so the working-set cases are nested subsets of one key space.
func randomKeys(n int) []uint64 {
	r := rand.New(rand.NewPCG(seedKeys, seedKeysAlt))
	seen := make(map[uint64]struct{}, n)
	keys := make([]uint64, 0, n)
	for len(keys) < n {
		k := r.Uint64()
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		keys = append(keys, k)
	}
	return keys
}

// denseKeys returns the keys 0, 1, ..., n-1 in order.
func denseKeys(n int) []uint64 {
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = uint64(i)
	}
	return keys
}

// shuffled returns a copy of keys in a fixed-seed random order.
func shuffled(keys []uint64) []uint64 {
	out := append([]uint64(nil), keys...)
	r := rand.New(rand.NewPCG(seedShuffle, seedKeysAlt))
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// newFilledMap returns a substrate map presized for len(keys) and holding
// keys[i] -> i. Presizing gives the table its steady-state size, so no
// resize happens during the fill or the measurement.
func newFilledMap(keys []uint64) *lockfree.Map[uint64, uint64] {
	m := lockfree.NewMap[uint64, uint64](lockfree.WithPresize(len(keys)))
	for _, i := range fillOrder(len(keys)) {
		k := keys[i]
		m.Store(k, uint64(i))
	}
	return m
}

// fillOrder returns the order in which fixtures insert keys[i] -> i: a
// fixed-seed permutation independent of the measured access order. Filling
// in access order would let a map that allocates one entry per insert (xsync,
// sync.Map) lay its entries out in the order the loop then reads them, so
// the hardware prefetcher streams them and the comparison flatters it (seen
// here: xsync v4 Load 6.7 ns in fill order vs 8.0 ns shuffled, 10k keys).
func fillOrder(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	r := rand.New(rand.NewPCG(seedShuffle^0xf111, seedKeysAlt))
	r.Shuffle(n, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// kvEntries returns the Tier B KV fixture's kvRuns x kvKeysPerRun entries
// in fill order: for each run of benchRuns(kvRuns), the keys "key:0000" to
// "key:0099", each formatted into its own string before any timer. The
// substrate KV fixture (newKVFixture) and the PeersB stores
// (newPeerKVFixture) both build from it, so they hold the same entries.
func kvEntries() []kvOp {
	var all []kvOp
	for _, run := range benchRuns(kvRuns) {
		for k := range kvKeysPerRun {
			all = append(all, kvOp{run, fmt.Sprintf("key:%04d", k)})
		}
	}
	return all
}

// newCellStore returns db's StateCell[uint64] store "cells", the store of
// the statecell_* and cross_* fixtures; an error fails b.
func newCellStore(b *testing.B, db *prims.DB) *prims.StateCell[uint64] {
	cells, err := prims.NewStateCell[uint64](db, "cells")
	if err != nil {
		b.Fatal(err)
	}
	return cells
}

// runUpdates is the timed loop of the Tier B update cases. It makes warm
// passes over ops (so that version-node pools reach their steady state, as
// in runEnginePuts), then runs one db.Update(body) per iteration with *op =
// ops[i], i cycling over ops in order, *idx = i and *iter = the iteration
// number (in the warm passes *iter = i). body reads them; idx or iter may be
// nil when it does not. Any failed Update fails the benchmark: these
// single-goroutine updates never conflict.
func runUpdates[O any](b *testing.B, db *prims.DB, ops []O, warm int, op *O, idx, iter *int, body func(tx *prims.Tx) error) {
	b.ReportAllocs()
	if idx == nil {
		idx = new(int)
	}
	if iter == nil {
		iter = new(int)
	}
	failures := 0
	for range warm {
		for i := range ops {
			*op, *idx, *iter = ops[i], i, i
			if db.Update(body) != nil {
				failures++
			}
		}
	}
	if failures != 0 {
		b.Fatalf("warm-up: %d updates failed", failures)
	}
	b.ResetTimer()
	i := 0
	for k := range b.N {
		*op, *idx, *iter = ops[i], i, k
		if db.Update(body) != nil {
			failures++
		}
		i++
		if i == len(ops) {
			i = 0
		}
	}
	b.StopTimer()
	if failures != 0 {
		b.Fatalf("%d of %d updates failed; single-goroutine updates never conflict", failures, b.N)
	}
}
