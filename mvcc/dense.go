package mvcc

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"

	"github.com/substrate-lab/substrate/lockfree"
)

// denseIndex maps dense keys to records for a Store created with
// [WithDenseKeys]: keys that split into a 16-byte group (a run) and a
// sequence number that counts up from 0 within the group (an event log's
// sequence). It replaces the Store's hash map for such keys: a small
// lockfree.Map from group to a denseRun, and in each run a lock-free
// growable array of record pointers indexed by the sequence number.
//
// Why: an event log inserts one new key per event. In a hash map each
// insert touches a random group and value line of a table larger than the
// caches, and the table is rebuilt at every doubling (a stop-the-writers
// copy that took 160 ms at a million events on the lent 16-core box); that
// was 44% of eventlog_append's CPU at -cpu 1. Here consecutive sequence
// numbers sit in consecutive words, a run never rehashes, and growth
// allocates a new bucket without copying anything.
//
// The array follows the lock-free vector of Dechev, Pirkelbauer and
// Stroustrup ("Lock-free Dynamically Resizable Arrays", OPODIS 2006):
// buckets of doubling size that are allocated on demand and never moved,
// so an index maps to (bucket, offset) by its bit length and no element is
// ever copied. Only the growth part is used: records are never removed
// (like the hash map's, see Store), so slots only go from nil to a record.
//
// Memory-model argument, per atomic:
//
//   - denseRun.first[i], bucket slots: CompareAndSwap(nil, r) by a creator
//     publishes the new record (its partition field is written before);
//     Load by a reader acquires it. A slot is written once.
//   - denseRun.more: CompareAndSwap(nil, dir) publishes an all-nil
//     directory; Load acquires it.
//   - directory entries: CompareAndSwap(nil, b) publishes a bucket whose
//     slots are all nil; Load acquires it. An entry is written once.
//
// Lookup and loadOrCreate of an existing key are wait-free: two to four
// dependent atomic loads after the group lookup. Creation allocates the
// record, and at most once per bucket the bucket (losers of a CAS drop
// theirs).
type denseIndex[V any] struct {
	runs *lockfree.Map[[16]byte, *denseRun[V]]
}

// denseFirst is the number of records a run holds inline before it needs
// a directory: small runs (a few events) then cost one 80-byte object.
const denseFirst = 8

// denseBuckets is the directory size: bucket b holds sequence numbers
// [denseFirst<<b, denseFirst<<(b+1)), so 61 buckets cover every uint64.
const denseBuckets = 61

// denseRun is one group's records. Invariants: first[i] holds the record
// of sequence i < denseFirst, and bucket b of the directory that of
// sequence denseFirst<<b + j at slot j; every non-nil pointer is final.
type denseRun[V any] struct {
	first [denseFirst]atomic.Pointer[Record[V]]
	more  atomic.Pointer[[denseBuckets]atomic.Pointer[denseBucket[V]]]
}

// denseBucket is one bucket of a run's directory: denseFirst<<b slots.
type denseBucket[V any] struct {
	slots []atomic.Pointer[Record[V]]
}

func newDenseIndex[V any]() *denseIndex[V] {
	return &denseIndex[V]{runs: lockfree.NewMap[[16]byte, *denseRun[V]](lockfree.WithHasher(hashGroup))}
}

// hashGroup hashes a 16-byte group key: its two words folded with the
// seed through the splitmix64 finalizer (groups are random UUIDs in
// practice, but the seed keeps adversarial ones from colliding).
func hashGroup(g [16]byte, seed uint64) uint64 {
	a := binary.LittleEndian.Uint64(g[:8])
	b := binary.LittleEndian.Uint64(g[8:])
	return lockfree.Mix64(lockfree.Mix64(a^seed) ^ b)
}

// denseSlot returns the bucket and offset of sequence n >= denseFirst.
func denseSlot(n uint64) (b int, off uint64) {
	b = bits.Len64(n/denseFirst) - 1 // n in [denseFirst<<b, denseFirst<<(b+1))
	return b, n - denseFirst<<b
}

// slot returns the slot of sequence n in run, or nil when its bucket does
// not exist yet.
func (run *denseRun[V]) slot(n uint64) *atomic.Pointer[Record[V]] {
	if n < denseFirst {
		return &run.first[n]
	}
	dir := run.more.Load()
	if dir == nil {
		return nil
	}
	b, off := denseSlot(n)
	bk := dir[b].Load()
	if bk == nil {
		return nil
	}
	return &bk.slots[off]
}

// lookup returns the record of (g, n), or nil.
func (x *denseIndex[V]) lookup(g [16]byte, n uint64) *Record[V] {
	run, ok := x.runs.Load(g)
	if !ok {
		return nil
	}
	if s := run.slot(n); s != nil {
		return s.Load()
	}
	return nil
}

// loadOrCreate returns the record of (g, n), creating it with mk if absent;
// of concurrent creators exactly one record wins.
//
// Steps:
//  1. Find or create the group's run (lockfree.Map.LoadOrStore).
//  2. For n >= denseFirst: find or create the directory and n's bucket,
//     each with a CAS from nil (a loser uses the winner's).
//  3. CAS the slot from nil to a new record; a loser returns the winner's.
func (x *denseIndex[V]) loadOrCreate(g [16]byte, n uint64, mk func() *Record[V]) *Record[V] {
	run, ok := x.runs.Load(g) // (1)
	if !ok {
		run, _ = x.runs.LoadOrStore(g, new(denseRun[V]))
	}
	var s *atomic.Pointer[Record[V]]
	if n < denseFirst {
		s = &run.first[n]
	} else { // (2)
		dir := run.more.Load()
		if dir == nil {
			fresh := new([denseBuckets]atomic.Pointer[denseBucket[V]])
			if run.more.CompareAndSwap(nil, fresh) { // publishes an empty directory
				dir = fresh
			} else {
				dir = run.more.Load()
			}
		}
		b, off := denseSlot(n)
		bk := dir[b].Load()
		if bk == nil {
			fresh := &denseBucket[V]{slots: make([]atomic.Pointer[Record[V]], denseFirst<<b)}
			if dir[b].CompareAndSwap(nil, fresh) { // publishes an empty bucket
				bk = fresh
			} else {
				bk = dir[b].Load()
			}
		}
		s = &bk.slots[off]
	}
	if r := s.Load(); r != nil { // (3)
		return r
	}
	r := mk()
	if s.CompareAndSwap(nil, r) { // publishes r (fields written by mk)
		return r
	}
	return s.Load()
}

// rangeAll calls fn for every record until fn returns false. Like
// lockfree.Map.Range it is not a snapshot: records created before the call
// are visited once, later ones may or may not be.
func (x *denseIndex[V]) rangeAll(fn func(g [16]byte, n uint64, r *Record[V]) bool) {
	x.runs.Range(func(g [16]byte, run *denseRun[V]) bool {
		for i := range run.first {
			if r := run.first[i].Load(); r != nil && !fn(g, uint64(i), r) {
				return false
			}
		}
		dir := run.more.Load()
		if dir == nil {
			return true
		}
		for b := range dir {
			bk := dir[b].Load()
			if bk == nil {
				continue
			}
			base := uint64(denseFirst) << b
			for j := range bk.slots {
				if r := bk.slots[j].Load(); r != nil && !fn(g, base+uint64(j), r) {
					return false
				}
			}
		}
		return true
	})
}

// count returns the number of records (O(records): for Stats and Len).
func (x *denseIndex[V]) count() int {
	n := 0
	x.rangeAll(func([16]byte, uint64, *Record[V]) bool { n++; return true })
	return n
}
