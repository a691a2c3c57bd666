package bench

import "testing"

// branchCases is Category 5 (branch predictor): the same Load loop over
// dense keys visited in three orders.
//
// The map hashes its keys, so "sequential keys" are not sequential memory:
// keys 0, 1, 2, ... land in unrelated buckets, and neither the hardware
// prefetcher nor the cache sees a pattern. What this group measures is how
// predictable the probe loop and the key comparisons are (and the key slice
// walk of the harness, which is sequential in every case). A small gap
// between sequential and random is therefore the expected result for a
// hashed table; the plan's ">= 20%" comes from ordered structures, and the
// report states the figure rather than assuming it.
//
//   - branch_sequential: keys 0, 1, 2, ..., 9999 in order, map of 10,000 dense keys.
//   - branch_strided: keys 0, 8, 16, ..., 79992, wrapping, over a map of 80,000
//     dense keys so each of the 10,000 accesses in a cycle is a distinct key.
//     Its table is eight times larger than the other two, so compare it with
//     them for shape, not to the nanosecond.
//   - branch_random: a fixed-seed random permutation of the sequential case's
//     10,000 keys, same map contents; this is the case sequential is judged
//     against.
func branchCases() []Case {
	return []Case{
		{Name: "branch_sequential", Tier: "A0", Group: "branch", Gate: "none", Run: benchBranchSequential},
		{Name: "branch_strided", Tier: "A0", Group: "branch", Gate: "none", Run: benchBranchStrided},
		{Name: "branch_random", Tier: "A0", Group: "branch", Gate: "none", Run: benchBranchRandom},
	}
}

// branchKeys is the number of distinct keys visited per cycle in every
// branch_* case.
const branchKeys = 10_000

// branchStride is the stride of branch_strided.
const branchStride = 8

// benchBranchSequential measures Load of 0, 1, 2, ... over 10,000 dense keys.
func benchBranchSequential(b *testing.B) {
	keys := denseKeys(branchKeys)
	runSubstrateLoads(b, newFilledMap(keys), keys)
}

// benchBranchStrided measures Load of 0, 8, 16, ... over 80,000 dense keys.
func benchBranchStrided(b *testing.B) {
	keys := denseKeys(branchKeys * branchStride)
	order := make([]uint64, branchKeys)
	for i := range order {
		order[i] = uint64(i * branchStride)
	}
	runSubstrateLoads(b, newFilledMap(keys), order)
}

// benchBranchRandom measures Load of a random permutation of 0..9999 over the
// same 10,000 dense keys as branch_sequential.
func benchBranchRandom(b *testing.B) {
	keys := denseKeys(branchKeys)
	runSubstrateLoads(b, newFilledMap(keys), shuffled(keys))
}
