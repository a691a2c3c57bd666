package prims

import (
	"encoding/binary"
	"math/bits"
	"slices"

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
type runKey struct {
	run RunID
	s   string
}

// runSeq is a position scoped to a run: an event's sequence number, a
// trace ID, a list position.
type runSeq struct {
	run RunID
	n   uint64
}

// Hashing: wyhash's multiply-fold mum(a, b) (the 128-bit product's halves
// XORed) with its mixing constants, and the splitmix64 finalizer Mix64
// where inputs may be dense. A RunID is two words, one mum and a Mix64; a
// run and a string fold the run's hash with the string's xxhash64 in one
// more mum; a run and a dense number go through Mix64 (see hashRunSeq).
// mum has two weaknesses, both handled: a zero operand maps every value of
// the other to 0 (the per-map random seed enters both operands, so such
// inputs depend on the seed and cannot be crafted), and an operand that
// varies in a few bits against a fixed other operand spreads poorly to the
// low bits (dense inputs go through Mix64). The string's xxhash and the
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
	return lockfree.Mix64(mum(binary.LittleEndian.Uint64(r[:8])^seed^wyp0,
		binary.LittleEndian.Uint64(r[8:])^bits.RotateLeft64(seed, 32)^wyp1))
}

// hashRunKey hashes a run and a string: the run's hash folded with xxhash64
// of the string's bytes.
func hashRunKey(k runKey, seed uint64) uint64 {
	return mum(hashRun(k.run, seed)^wyp2, xxhash.Sum64String(k.s)^seed^wyp3)
}

// hashRunSeq hashes a run and a number with Mix64, not mum: numbers are
// dense (0, 1, 2, ...), and a product with a fixed factor spreads dense low
// bits poorly (a factor with k trailing zeros keeps only 2^(12-k) distinct
// values in the low 12 bits), while Mix64 avalanches every bit.
func hashRunSeq(k runSeq, seed uint64) uint64 {
	return lockfree.Mix64(hashRun(k.run, seed) ^ k.n)
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
		func(k runSeq) ([16]byte, uint64) { return k.run, k.n },
		func(g [16]byte, n uint64) runSeq { return runSeq{RunID(g), n} })
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
// setIndex: a small sorted set per key.

// sortedSet is one version of a set: items sorted by the index's compare,
// without duplicates.
//
// A committed sortedSet is immutable: readers, including read-only
// snapshots on other goroutines, use its slice without copying. A set that
// a transaction has written and not committed yet is private to that
// transaction, and the index updates it in place to spare a copy per
// insert: owner is the writing transaction's token (Tx.token: a pointer to
// a tiny object unique to that transaction incarnation, kept alive by the
// set, so no later incarnation's token equals it; a published set is
// therefore never mutated). The token holds no reference to the
// transaction itself, so published sets pin nothing but one byte.
type sortedSet[T any] struct {
	items []T
	owner *byte
}

// setIndex maps a key K (a run, a run and a tag, a status) to a sorted set
// of T, stored as one mvcc record per key holding an immutable *sortedSet
// replaced copy-on-write.
//
// Costs: Items, Contains and Len read one record (O(1), O(log n)). Add and
// Remove cost O(log n) to search and O(n) to copy the set the first time a
// transaction changes it; further changes by the same transaction are done
// in place (O(n) memmove at worst, no allocation unless the slice grows).
// A committed set stays in memory as long as a snapshot can see it. This
// is fine for sets up to a few thousand items per key (a run's KV keys or
// cell names); for larger ones the future fix is a persistent B-tree
// (copy-on-write of the O(log n) nodes on the path) or chunked records.
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

// Items returns k's items in order, as tx sees them, or nil. The slice is
// shared: callers must not modify it, nor keep it across a later Add or
// Remove by the same transaction (which may change it in place). Copy it
// before handing it to users.
func (x setIndex[K, T]) Items(tx *Tx, k K) []T {
	if set, ok := txn.Get(tx.tx, x.s, k); ok && set != nil {
		return set.items
	}
	return nil
}

// Len returns the number of k's items.
func (x setIndex[K, T]) Len(tx *Tx, k K) int { return len(x.Items(tx, k)) }

// Contains reports whether item is in k's set.
func (x setIndex[K, T]) Contains(tx *Tx, k K, item T) bool {
	_, found := slices.BinarySearchFunc(x.Items(tx, k), item, x.cmp)
	return found
}

// Add inserts item into k's set; it reports whether the item was new.
// tx must be a live read-write transaction (callers check first).
func (x setIndex[K, T]) Add(tx *Tx, k K, item T) (added bool, err error) {
	set, _ := txn.Get(tx.tx, x.s, k)
	var items []T
	if set != nil {
		items = set.items
	}
	i, found := slices.BinarySearchFunc(items, item, x.cmp)
	if found {
		return false, nil
	}
	if set != nil && set.owner != nil && set.owner == tx.tok {
		set.items = slices.Insert(set.items, i, item)
		return true, nil
	}
	n := make([]T, len(items)+1, len(items)+1+len(items)/4)
	copy(n, items[:i])
	n[i] = item
	copy(n[i+1:], items[i:])
	return true, txn.Put(tx.tx, x.s, k, &sortedSet[T]{items: n, owner: tx.token()})
}

// Remove deletes item from k's set; it reports whether it was there. The
// record of a set that becomes empty is deleted.
func (x setIndex[K, T]) Remove(tx *Tx, k K, item T) (removed bool, err error) {
	set, _ := txn.Get(tx.tx, x.s, k)
	if set == nil {
		return false, nil
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
