// Package lockfree holds Substrate's Tier A0 structure: Map, a concurrent
// hash map whose Load is lock-free and writes no shared memory, and whose
// writes to existing keys allocate nothing.
//
// The algorithm, its pedigree and the memory-model argument for every atomic
// are written at the top of map.go. The design notes and measured figures
// live in docs/ARCHITECTURE.md and docs/BENCHMARKS.md.
package lockfree
