package prims

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/substrate-lab/substrate/lockfree"
	"github.com/substrate-lab/substrate/mvcc"
	"github.com/substrate-lab/substrate/txn"
)

// This file holds the building blocks that the primitives share: composite
// keys with their hashers, the store constructor that wires them in, and two
// transactional indexes (setIndex, a per-key sorted set; listIndex, a
// per-key append-only list). Both indexes are made of ordinary mvcc records
// read and written inside the caller's transaction, so they commit or vanish
// with it, and they are phantom-safe: a reader reads the record that an
// insert would change (the set, the list's count), so the commit of a
// concurrent insert makes the reader's validation fail.

// ---------------------------------------------------------------------------
// Composite keys and their hashers.

// runKey is a key scoped to a run: a KV key, a state cell name, a tag. A
// comparable struct, hashed by hashRunKey (never by the generic maphash
// path).
//
// The run is held as its two little-endian words, not as the RunID array:
// Go passes a struct of words and strings in registers, but an array of
// more than one element on the stack, so a key with a RunID in it was
// copied through memory at every call between the primitive and the map's
// hasher (five of them on a KV read).
type runKey struct {
	lo, hi uint64 // the RunID's bytes 0-7 and 8-15, little-endian
	s      string
}

// keyOf returns the runKey of run and s.
func keyOf(run RunID, s string) runKey {
	lo, hi := runWords(run)
	return runKey{lo, hi, s}
}

// runWords returns run's bytes 0-7 and 8-15 as little-endian words, the
// form in which run-scoped keys hold it.
func runWords(run RunID) (lo, hi uint64) {
	return binary.LittleEndian.Uint64(run[:8]), binary.LittleEndian.Uint64(run[8:])
}

// runSeq is a position scoped to a run: an event's sequence number, a
// trace ID, a list position. The run is held as two words, as in runKey
// (register-passed).
type runSeq struct {
	lo, hi uint64 // the RunID's bytes 0-7 and 8-15, little-endian
	n      uint64
}

// seqOf returns the runSeq of run and n.
func seqOf(run RunID, n uint64) runSeq {
	lo, hi := runWords(run)
	return runSeq{lo, hi, n}
}

// runID returns the RunID of k's run (the inverse of runWords).
func (k runSeq) runID() RunID {
	var r RunID
	binary.LittleEndian.PutUint64(r[:8], k.lo)
	binary.LittleEndian.PutUint64(r[8:], k.hi)
	return r
}

// Hashing: wyhash's multiply-fold mum(a, b) (the 128-bit product's halves
// XORed) with its mixing constants, and the splitmix64 finalizer Mix64
// where inputs may be dense. A RunID is two words, one mum and a Mix64; a
// run and a string fold the run's hash with the string's hash (one mum for
// strings of up to 16 bytes, xxhash64 for longer ones) in one more mum; a
// run and a dense number go through Mix64 (see hashRunSeq).
// mum has two weaknesses, both handled: a zero operand maps every value of
// the other to 0 (the per-map random seed enters both operands, so such
// inputs depend on the seed and cannot be crafted), and an operand that
// varies in a few bits against a fixed other operand spreads poorly to the
// low bits (dense inputs go through Mix64). The string's hash and the
// run's hash are independent, so they overlap in the pipeline: a lookup's
// hash costs a few nanoseconds.
const (
	wyp0 = 0xa0761d6478bd642f
	wyp1 = 0xe7037ed1a0b428db
	wyp2 = 0x8ebc6af09c88c6e3
	wyp3 = 0x589965cc75374cc3
)

// mum is wyhash's multiply-fold: the 128-bit product's halves XORed.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// The package's other mixer is lockfree.Mix64, the splitmix64 finalizer: a
// bijection on 64 bits with full avalanche. Chaining h = Mix64(h ^ part)
// over the parts of a key keeps each step injective in that part. Two
// dependent multiplies, so slower than mum, but no weak inputs at all.

// hashRun hashes a RunID's 16 bytes: one mum of its two words, then Mix64.
// Random (version 4) IDs would need no more than the mum, but any UUID is a
// valid RunID, and sequential ones (a counter in the low or the high bytes)
// vary only a few bits of one operand, which a product with a fixed factor
// does not spread to the low bits; Mix64 avalanches them.
func hashRun(r RunID, seed uint64) uint64 {
	lo, hi := runWords(r)
	return hashRunWords(lo, hi, seed)
}

// hashRunWords is hashRun of the RunID whose little-endian words are lo
// and hi.
func hashRunWords(lo, hi, seed uint64) uint64 {
	return lockfree.Mix64(mum(lo^seed^wyp0, hi^bits.RotateLeft64(seed, 32)^wyp1))
}

// hashRunKey hashes a run and a string: the run's hash folded with the
// string's (hashString) in one mum.
func hashRunKey(k runKey, seed uint64) uint64 {
	return mum(hashRunWords(k.lo, k.hi, seed)^wyp2, hashString(k.s, seed)^wyp3)
}

// shortString is the longest string hashString folds itself; longer ones
// go to xxhash64.
const shortString = 16

// hashString hashes a string with seed. Strings of up to shortString bytes
// (most KV keys and cell names) take wyhash's short-input read: the first
// and the last (up to) 8 bytes as two words, overlapping when the string
// is shorter than 16 bytes (three bytes for strings of 1 to 3), so the two
// words and the length determine the string; one mum folds them with the
// seed, which enters both operands (see the mum weaknesses above). A
// lookup's hash is on its critical path (the probe's first load waits for
// it): xxhash64's short path is an assembly call (not inlined) of about 30
// cycles of dependent multiplies and shifts, this one a multiply; in a
// dependent chain over 8-byte keys, 10.4 ns against 5.4 ns per hash (2-core
// VM; docs/BENCHMARKS.md "Short keys hash in one multiply").
func hashString(s string, seed uint64) uint64 {
	n := len(s)
	if n > shortString {
		return xxhash.Sum64String(s) ^ seed
	}
	b := unsafe.Slice(unsafe.StringData(s), n) // read-only view, no copy
	var x, y uint64
	switch {
	case n >= 8:
		x = binary.LittleEndian.Uint64(b)
		y = binary.LittleEndian.Uint64(b[n-8:])
	case n >= 4:
		x = uint64(binary.LittleEndian.Uint32(b))
		y = uint64(binary.LittleEndian.Uint32(b[n-4:]))
	case n > 0:
		x = uint64(b[0])<<16 | uint64(b[n>>1])<<8 | uint64(b[n-1])
	}
	return mum(x^seed^wyp0, y^uint64(n)^bits.RotateLeft64(seed, 32)^wyp1)
}

// hashRunSeq hashes a run and a number with Mix64, not mum: numbers are
// dense (0, 1, 2, ...), and a product with a fixed factor spreads dense low
// bits poorly (a factor with k trailing zeros keeps only 2^(12-k) distinct
// values in the low 12 bits), while Mix64 avalanches every bit.
func hashRunSeq(k runSeq, seed uint64) uint64 {
	return lockfree.Mix64(hashRunWords(k.lo, k.hi, seed) ^ k.n)
}

// partitionSeed separates the partition hash from the map hashes (which
// use per-map random seeds).
const partitionSeed = 0x5ab5_7a7e_9a27_0001

// denseRunSeq indexes a runSeq store by run and number (mvcc.WithDenseKeys)
// instead of hashing both: for stores whose numbers are handed out 0, 1,
// 2, ... (or 1, 2, ...) per run and never skipped, such as event sequence
// numbers and trace IDs. Consecutive records then share cache lines and the
// index never rebuilds; eventlog_append spent 44% of its CPU inserting into
// the hashed store at -cpu 1 (docs/BENCHMARKS.md).
func denseRunSeq() mvcc.StoreOption {
	return mvcc.WithDenseKeys(
		func(k runSeq) ([16]byte, uint64) { return k.runID(), k.n },
		func(g [16]byte, n uint64) runSeq { return seqOf(RunID(g), n) })
}

// newStore returns a store of the DB's engine whose map hashes K with hash
// and whose phantom partition is hash(k, partitionSeed) (so partitions are
// spread by key, as the map's default would, without the generic
// maphash.Comparable path). Use it for every store of the package.
func newStore[K comparable, V any](db *DB, hash func(K, uint64) uint64, opts ...mvcc.StoreOption) *mvcc.Store[K, V] {
	return txn.NewStore[K, V](db.e, append([]mvcc.StoreOption{
		mvcc.WithMapOptions(lockfree.WithHasher(hash)),
		mvcc.WithPartitioner(func(k K) uint64 { return hash(k, partitionSeed) }),
	}, opts...)...)
}

// ---------------------------------------------------------------------------
// setIndex: a sorted set per key; past setChunkMax items, in chunks.

// setChunkMax is the most items a flat sortedSet or a chunk holds; a chunk
// that grows past it splits in two. A change to a chunked set copies its
// chunk list (n/setChunkMax to 2n/setChunkMax pointers) and one chunk (up to
// setChunkMax items), so the copy is smallest near setChunkMax =
// sqrt(n * item size / pointer size). Measured with string items on the
// first, always-chunked version of this set (BenchmarkKVStoreNewKey, an
// insert+delete pair, 2-core VM, 3 rounds; docs/BENCHMARKS.md "Chunked key
// sets"): at 100 / 1,000 / 10,000 / 100,000 keys, 32: 2.1 / 2.7 / 10.5 /
// 141 us; 64: 2.3 / 2.7 / 7.2 / 48 us; 128: 4.3 / 4.2 / 8.7 / 47 us; 256:
// 4.2 / 4.6 / 7.0 / 18 us. 64 keeps sets of up to a thousand items as cheap
// as 32 does and large ones within 3x of 256.
const setChunkMax = 64

// sortedSet is one version of a set: its items sorted by the index's
// compare, without duplicates. A set of up to setChunkMax items is flat
// (tree nil, the items in items); a larger one is chunked (items nil, the
// items in tree's chunks). Sets of a few items, the common case, keep a
// small flat object (40 bytes, allocated as 48): every byte of a set
// version costs (statecell_init, which adds a name to a run's set of four,
// was 21% slower with the old 32-byte set padded to 96 bytes, as slow as a
// first, always-chunked design of that size).
//
// A committed sortedSet, its tree and every chunk it points to are
// immutable: readers, including read-only snapshots on other goroutines,
// use them without copying. A set that a transaction has created and not
// committed yet is private to that transaction, and the index updates it
// (its items, or its tree) in place to spare copies: owner is the creating
// transaction's token (Tx.token: a pointer to a tiny object unique to that
// transaction incarnation, kept alive by the set, so no later
// incarnation's token equals it; a published set is therefore never
// mutated). A private set's tree is its own (copied with the set); its
// chunks may be shared with the version it was copied from, so each chunk
// has its own owner. The token holds no reference to the transaction
// itself, so published sets pin nothing but one byte.
type sortedSet[T any] struct {
	items []T
	owner *byte
	tree  *setTree[T]
}

// setTree holds a chunked set's items.
//
// Invariants: every chunk holds 1 to setChunkMax items; every item of
// chunks[i] is below every item of chunks[i+1]; there are at least two
// chunks (a set that shrinks to one chunk goes back to the flat form); no
// two neighbouring chunks both hold fewer than setChunkMax/4 items (see
// Remove); n is the total number of items.
type setTree[T any] struct {
	chunks []*setChunk[T]
	n      int
}

// setChunk is a run of consecutive items of a chunked set, owned like a
// sortedSet.
type setChunk[T any] struct {
	items []T
	owner *byte
}

// len returns the number of items in set (nil: 0).
func (set *sortedSet[T]) len() int {
	switch {
	case set == nil:
		return 0
	case set.tree != nil:
		return set.tree.n
	}
	return len(set.items)
}

// setIndex maps a key K (a run, a run and a tag, a status) to a sorted set
// of T, stored as one mvcc record per key holding an immutable *sortedSet
// replaced copy-on-write.
//
// Costs, for a set of n items: Len reads one record (O(1)); Contains and
// finding where From starts are O(log n). Add and Remove copy a flat set
// (at most setChunkMax items) the first time a transaction changes it, and
// change it in place after that. For a chunked set they copy the chunk list
// (about n/setChunkMax pointers) and the chunk they change (at most
// setChunkMax items), once per transaction and chunk. So a Put of a new KV
// key in a run of 100,000 keys copies about 25 KiB, not the 1.6 MB of one
// flat sorted slice. A committed set stays in memory as long as a snapshot
// can see it; versions share the chunks they did not change.
//
// Phantom safety and conflicts: every operation reads the key's record, so
// in a read-write transaction a concurrent commit that changed the set (an
// insert or removal of any item under the same key) makes the transaction
// fail validation, and two transactions changing the set of one key
// conflict (one retries). Sets of different keys are independent.
type setIndex[K comparable, T any] struct {
	s   *mvcc.Store[K, *sortedSet[T]]
	cmp func(a, b T) int
}

// newSetIndex returns an empty set index of db, hashing keys with hash and
// ordering items with cmp.
func newSetIndex[K comparable, T any](db *DB, hash func(K, uint64) uint64, cmp func(a, b T) int) setIndex[K, T] {
	return setIndex[K, T]{s: newStore[K, *sortedSet[T]](db, hash), cmp: cmp}
}

// set returns k's set as tx sees it, or nil.
func (x setIndex[K, T]) set(tx *Tx, k K) *sortedSet[T] {
	set, _ := txn.Get(tx.tx, x.s, k)
	return set
}

// searchTree returns the position of the first item >= item in tree: chunk
// ci and index i within it, and whether that item equals item. An item above
// every item is placed after the last item of the last chunk (so Add
// appends there).
func (x setIndex[K, T]) searchTree(t *setTree[T], item T) (ci, i int, found bool) {
	cs := t.chunks
	ci, _ = slices.BinarySearchFunc(cs, item, func(c *setChunk[T], item T) int {
		return x.cmp(c.items[len(c.items)-1], item)
	})
	if ci == len(cs) {
		return ci - 1, len(cs[ci-1].items), false
	}
	i, found = slices.BinarySearchFunc(cs[ci].items, item, x.cmp)
	return ci, i, found
}

// Len returns the number of k's items.
func (x setIndex[K, T]) Len(tx *Tx, k K) int { return x.set(tx, k).len() }

// Contains reports whether item is in k's set.
func (x setIndex[K, T]) Contains(tx *Tx, k K, item T) bool {
	set := x.set(tx, k)
	switch {
	case set == nil:
		return false
	case set.tree != nil:
		_, _, found := x.searchTree(set.tree, item)
		return found
	}
	_, found := slices.BinarySearchFunc(set.items, item, x.cmp)
	return found
}

// All yields k's items in order, as tx saw them when All was called. The
// items are shared with the set: callers copy them before handing them to
// users. The transaction must not change k's set while the loop runs.
func (x setIndex[K, T]) All(tx *Tx, k K) iter.Seq[T] {
	return x.from(x.set(tx, k), 0, 0)
}

// From yields k's items from the first one >= from, in order, as tx saw
// them when From was called; the rules of All apply.
func (x setIndex[K, T]) From(tx *Tx, k K, from T) iter.Seq[T] {
	set := x.set(tx, k)
	switch {
	case set == nil:
		return x.from(nil, 0, 0)
	case set.tree != nil:
		ci, i, _ := x.searchTree(set.tree, from)
		return x.from(set, ci, i)
	}
	i, _ := slices.BinarySearchFunc(set.items, from, x.cmp)
	return x.from(set, 0, i)
}

// from yields set's items from item i of chunk ci (of the flat set: ci 0).
func (x setIndex[K, T]) from(set *sortedSet[T], ci, i int) iter.Seq[T] {
	return func(yield func(T) bool) {
		switch {
		case set == nil:
			return
		case set.tree == nil:
			for _, it := range set.items[i:] {
				if !yield(it) {
					return
				}
			}
			return
		}
		for cs := set.tree.chunks; ci < len(cs); ci, i = ci+1, 0 {
			for _, it := range cs[ci].items[i:] {
				if !yield(it) {
					return
				}
			}
		}
	}
}

// Add inserts item into k's set; it reports whether the item was new.
// tx must be a live read-write transaction (callers check first).
func (x setIndex[K, T]) Add(tx *Tx, k K, item T) (added bool, err error) {
	set := x.set(tx, k)
	if set != nil && set.tree != nil {
		return x.addTree(tx, k, set, item)
	}
	var items []T
	if set != nil {
		items = set.items
	}
	i, found := slices.BinarySearchFunc(items, item, x.cmp)
	if found {
		return false, nil
	}
	tok := tx.token()
	if set != nil && set.owner == tok {
		set.items = slices.Insert(set.items, i, item)
	} else {
		n := make([]T, len(items)+1, len(items)+1+len(items)/4)
		copy(n, items[:i])
		n[i] = item
		copy(n[i+1:], items[i:])
		set = &sortedSet[T]{items: n, owner: tok}
		if err := txn.Put(tx.tx, x.s, k, set); err != nil {
			return false, err
		}
	}
	if len(set.items) > setChunkMax {
		// Too big to stay flat: the set becomes two chunks, split as
		// addTree's step 4 would.
		h := len(set.items) / 2
		if i == len(set.items)-1 {
			h = len(set.items) - 1
		}
		set.tree = &setTree[T]{n: len(set.items), chunks: []*setChunk[T]{
			{items: slices.Clone(set.items[:h]), owner: tok},
			{items: slices.Clone(set.items[h:]), owner: tok},
		}}
		set.items = nil
	}
	return true, nil
}

// own returns a chunked set that tx may change in place: set itself when tx
// created it, else a private copy of it and its chunk list (the chunks stay
// shared), written as k's new version. spare is extra capacity for the
// chunk list.
func (x setIndex[K, T]) own(tx *Tx, k K, set *sortedSet[T], spare int) (*sortedSet[T], error) {
	tok := tx.token()
	if set.owner == tok {
		return set, nil
	}
	t := set.tree
	cs := make([]*setChunk[T], len(t.chunks), len(t.chunks)+spare)
	copy(cs, t.chunks)
	o := &ownedTree[T]{tree: setTree[T]{chunks: cs, n: t.n}}
	o.set = sortedSet[T]{owner: tok, tree: &o.tree}
	return &o.set, txn.Put(tx.tx, x.s, k, &o.set)
}

// ownedTree is a chunked set's new version and its tree in one
// allocation (own makes both for every first change of a chunked set by a
// transaction; each pointer into it keeps the whole object alive, and the
// bytes are the same: 80, in one object of size class 80 instead of 48 +
// 32). BenchmarkKVStoreNewKey (an insert and a delete in a run of 100 to
// 100,000 keys) went from 14-15 to 12-13 allocations per pair and
// kvstore_delete from 5.91 to 5.28 (m3bench's fractional count), times
// within noise (docs/results/owned-tree.txt).
type ownedTree[T any] struct {
	set  sortedSet[T]
	tree setTree[T]
}

// addTree is Add for a chunked set.
//
// Steps: 1. find item's place (the chunk whose last item is >= item, else
// the end of the last chunk); 2. take a private copy of the set and of that
// chunk unless tx made them; 3. insert; 4. if the chunk now exceeds
// setChunkMax, move its upper half to a new chunk after it (only the new
// item, when it went to the very end of the set: keys that arrive in order,
// such as step-0001, step-0002, ..., then fill their chunks).
func (x setIndex[K, T]) addTree(tx *Tx, k K, set *sortedSet[T], item T) (added bool, err error) {
	ci, i, found := x.searchTree(set.tree, item) // (1)
	if found {
		return false, nil
	}
	if set, err = x.own(tx, k, set, 1); err != nil { // (2)
		return false, err
	}
	tok, t := set.owner, set.tree
	c := t.chunks[ci]
	if c.owner != tok {
		items := make([]T, len(c.items)+1, min(len(c.items)+1+len(c.items)/4, setChunkMax+1))
		copy(items, c.items[:i])
		items[i] = item
		copy(items[i+1:], c.items[i:])
		c = &setChunk[T]{items: items, owner: tok}
		t.chunks[ci] = c
	} else {
		c.items = slices.Insert(c.items, i, item) // (3)
	}
	t.n++
	if len(c.items) > setChunkMax { // (4)
		h := len(c.items) / 2
		if ci == len(t.chunks)-1 && i == len(c.items)-1 {
			h = len(c.items) - 1
		}
		upper := &setChunk[T]{items: slices.Clone(c.items[h:]), owner: tok}
		clear(c.items[h:]) // drop references held by the unused tail
		c.items = c.items[:h]
		t.chunks = slices.Insert(t.chunks, ci+1, upper)
	}
	return true, nil
}

// Remove deletes item from k's set; it reports whether it was there. The
// record of a set that becomes empty is deleted.
func (x setIndex[K, T]) Remove(tx *Tx, k K, item T) (removed bool, err error) {
	set := x.set(tx, k)
	switch {
	case set == nil:
		return false, nil
	case set.tree != nil:
		return x.removeTree(tx, k, set, item)
	}
	i, found := slices.BinarySearchFunc(set.items, item, x.cmp)
	if !found {
		return false, nil
	}
	if len(set.items) == 1 {
		_, err = txn.Delete(tx.tx, x.s, k)
		return true, err
	}
	if set.owner != nil && set.owner == tx.tok {
		set.items = slices.Delete(set.items, i, i+1)
		return true, nil
	}
	n := make([]T, 0, len(set.items)-1)
	n = append(n, set.items[:i]...)
	n = append(n, set.items[i+1:]...)
	return true, txn.Put(tx.tx, x.s, k, &sortedSet[T]{items: n, owner: tx.token()})
}

// removeTree is Remove for a chunked set.
//
// Steps: 1. find item; 2. take a private copy of the set unless tx made
// it, and of the chunk without the item unless tx made the chunk (then
// delete in place); 3. drop a chunk left empty, or merge one left under a
// quarter full (small) into its left, else right, neighbour when the two
// fit in one chunk; 4. if one chunk is left, go back to the flat form.
//
// Step 3 keeps the invariant that no two neighbouring chunks are both
// small (a chunk only becomes small in step 3, which then merges it with
// any small neighbour, or as the last chunk split off by an append, whose
// only neighbour is full), so a set of n items has at most
// 8n/setChunkMax+1 chunks however its items were removed.
func (x setIndex[K, T]) removeTree(tx *Tx, k K, set *sortedSet[T], item T) (removed bool, err error) {
	ci, i, found := x.searchTree(set.tree, item) // (1)
	if !found {
		return false, nil
	}
	if set, err = x.own(tx, k, set, 0); err != nil { // (2)
		return false, err
	}
	tok, t := set.owner, set.tree
	c := t.chunks[ci]
	if c.owner != tok {
		items := make([]T, 0, len(c.items)-1)
		items = append(items, c.items[:i]...)
		items = append(items, c.items[i+1:]...)
		c = &setChunk[T]{items: items, owner: tok}
		t.chunks[ci] = c
	} else {
		c.items = slices.Delete(c.items, i, i+1)
	}
	t.n--
	switch { // (3)
	case len(c.items) == 0:
		t.chunks = slices.Delete(t.chunks, ci, ci+1)
	case len(c.items) < setChunkMax/4:
		lo := -1 // merge chunks lo and lo+1
		if ci > 0 && len(t.chunks[ci-1].items)+len(c.items) <= setChunkMax {
			lo = ci - 1
		} else if ci+1 < len(t.chunks) && len(c.items)+len(t.chunks[ci+1].items) <= setChunkMax {
			lo = ci
		}
		if lo >= 0 {
			a, b := t.chunks[lo], t.chunks[lo+1]
			items := make([]T, 0, len(a.items)+len(b.items))
			items = append(items, a.items...)
			items = append(items, b.items...)
			t.chunks[lo] = &setChunk[T]{items: items, owner: tok}
			t.chunks = slices.Delete(t.chunks, lo+1, lo+2)
		}
	}
	if len(t.chunks) == 1 { // (4)
		set.items = slices.Clone(t.chunks[0].items)
		set.tree = nil
	}
	return true, nil
}

// Clear deletes k's whole set (one record).
func (x setIndex[K, T]) Clear(tx *Tx, k K) error {
	_, err := txn.Delete(tx.tx, x.s, k)
	return err
}

// ---------------------------------------------------------------------------
// listIndex: an append-only list per key.

// listItemKey is the key of item n of list l.
type listItemKey[L comparable] struct {
	l L
	n uint64
}

// listIndex maps a key L (a run, a run and a trace type, a run and a tag) to
// an append-only list of T: a count record per list (heads: L -> length)
// plus one record per item (items: (L, n) -> T, n from 0).
//
// Costs: Append reads and writes the count and writes one item record:
// O(1), no copying whatever the list's length. Len reads the count; Get is
// one point read; Range(start, end) is end-start point reads (never a scan
// of the store). Clear is O(n).
//
// Phantom safety and conflicts: Len and Range read the count record, so in
// a read-write transaction a concurrent Append to the same list (which
// writes the count) makes the reader fail validation. Two concurrent
// Appends to one list conflict on the count and one retries: positions are
// unique and contiguous. Lists of different keys are independent.
type listIndex[L comparable, T any] struct {
	heads *mvcc.Store[L, uint64]
	items *mvcc.Store[listItemKey[L], T]
}

// newListIndex returns an empty list index of db, hashing list keys with
// hash.
func newListIndex[L comparable, T any](db *DB, hash func(L, uint64) uint64) listIndex[L, T] {
	itemHash := func(k listItemKey[L], seed uint64) uint64 {
		return lockfree.Mix64(hash(k.l, seed) ^ k.n) // dense positions: see hashRunSeq
	}
	return listIndex[L, T]{
		heads: newStore[L, uint64](db, hash),
		items: newStore[listItemKey[L], T](db, itemHash),
	}
}

// Len returns the length of list l as tx sees it (0 for a list never
// appended to).
func (x listIndex[L, T]) Len(tx *Tx, l L) uint64 {
	n, _ := txn.Get(tx.tx, x.heads, l)
	return n
}

// Append adds item at the end of list l and returns its position. tx must
// be a live read-write transaction (callers check first).
func (x listIndex[L, T]) Append(tx *Tx, l L, item T) (uint64, error) {
	n, _ := txn.Get(tx.tx, x.heads, l)
	if err := txn.Put(tx.tx, x.items, listItemKey[L]{l, n}, item); err != nil {
		return 0, err
	}
	return n, txn.Put(tx.tx, x.heads, l, n+1)
}

// Get returns item n of list l.
func (x listIndex[L, T]) Get(tx *Tx, l L, n uint64) (T, bool) {
	return txn.Get(tx.tx, x.items, listItemKey[L]{l, n})
}

// Range calls fn for the items at positions [start, min(end, Len)) of list
// l, in order, until fn returns false. It reads the count first, so the
// range is phantom-safe.
func (x listIndex[L, T]) Range(tx *Tx, l L, start, end uint64, fn func(n uint64, item T) bool) {
	end = min(end, x.Len(tx, l))
	for n := start; n < end; n++ {
		item, ok := txn.Get(tx.tx, x.items, listItemKey[L]{l, n})
		if ok && !fn(n, item) {
			return
		}
	}
}

// Clear deletes list l: every item and the count (O(n)).
func (x listIndex[L, T]) Clear(tx *Tx, l L) error {
	n, ok := txn.Get(tx.tx, x.heads, l)
	if !ok {
		return nil
	}
	for i := range n {
		if _, err := txn.Delete(tx.tx, x.items, listItemKey[L]{l, i}); err != nil {
			return err
		}
	}
	_, err := txn.Delete(tx.tx, x.heads, l)
	return err
}
