package mvcc

import (
	"encoding/binary"
	"math"
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
// ever copied. Only the growth part is used. A slot goes from nil to a
// record (creation) and, once that record is removed (a deleted key whose
// tombstone the watermark passed, see graves.go), from it back to nil; a
// run whose records were all removed leaves the index, buckets and all.
//
// Removing a run must not strand a creator: one that found the run in the
// index just before it left would put its record in an array no lookup
// reaches any more. So creators reserve before they publish:
//
//   - denseRun.live counts the records in the run's slots plus the
//     reservations of creators between steps 4 and 5 of loadOrCreate. A
//     creator adds 1 before its slot CAS and keeps it if the CAS wins
//     (gives it back if it loses); unlinking a record gives its 1 back.
//   - The release that brings live to 0 CASes it from 0 to denseClosed and,
//     if that wins, deletes the run from the index (CompareAndDelete: only
//     this run). A closed run takes no reservation again (an Add on
//     denseClosed stays far below 0), so no record ever enters it; a
//     creator that meets one deletes it from the index itself and starts
//     over with a new run.
//
// Invariant: a group's run stays in the index from its insertion until it
// is closed, and the index holds at most one open run per group (LoadOrStore
// never replaces, and only closed runs are deleted). So a record in a slot
// is in the run the index holds for its group, which is how the burier
// finds it.
//
// Why a run left behind is still correct for readers that hold it: every
// record it held was removed, and a record is removed only once its
// tombstone is at or below the watermark, so every active or later
// snapshot reads the key as absent, which is what an empty slot says. A
// record created afterwards lives in a new run that entered the index
// before the record was created, hence before its committer read the
// clock; a snapshot that can see that commit read the clock later and
// looks the group up later still, so it finds the new run (the same
// argument as for a key re-created in the hash map after a removal).
//
// Memory-model argument, per atomic:
//
//   - denseRun.first[i], bucket slots: CompareAndSwap(nil, r) by a creator
//     publishes the new record (its partition field is written before);
//     Load by a reader acquires it. CompareAndSwap(r, nil) unlinks a
//     removed record; the lockDead store that removed it came before.
//   - denseRun.more: CompareAndSwap(nil, dir) publishes an all-nil
//     directory; Load acquires it.
//   - directory entries: CompareAndSwap(nil, b) publishes a bucket whose
//     slots are all nil; Load acquires it. An entry is written once.
//   - denseRun.live: Add and CompareAndSwap publish nothing but the count;
//     their order against the slot CASes is the protocol above.
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

// denseClosed is denseRun.live of a run that lost its last record: so far
// below 0 that the Adds of creators that still try to reserve never bring
// it near 0 again.
const denseClosed = math.MinInt64 / 2

// denseRun is one group's records. Invariants: first[i] holds the record
// of sequence i < denseFirst, and bucket b of the directory that of
// sequence denseFirst<<b + j at slot j; a directory or bucket pointer is
// final; a slot holds nil, or a record until that record is removed. live
// is as in the protocol above: records in slots plus reservations, or
// below 0 once closed.
type denseRun[V any] struct {
	first [denseFirst]atomic.Pointer[Record[V]]
	more  atomic.Pointer[[denseBuckets]atomic.Pointer[denseBucket[V]]]
	live  atomic.Int64
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

// record returns the record in run's slot for sequence n, or nil.
func (run *denseRun[V]) record(n uint64) *Record[V] {
	if s := run.slot(n); s != nil {
		return s.Load()
	}
	return nil
}

// lookup returns the record of (g, n), or nil.
func (x *denseIndex[V]) lookup(g [16]byte, n uint64) *Record[V] {
	run, ok := x.runs.Load(g)
	if !ok {
		return nil
	}
	return run.record(n)
}

// seq calls fn(i, r) with the record of (g, first+i) (nil if none) for
// i in [0, n), looking the group's run up once; see Store.LookupSeq. A
// sequence number past the largest uint64 ends it.
func (x *denseIndex[V]) seq(g [16]byte, first uint64, n int, fn func(i int, r *Record[V]) bool) {
	run, _ := x.runs.Load(g)
	for i := 0; i < n; i++ {
		num := first + uint64(i)
		if num < first {
			return
		}
		var r *Record[V]
		if run != nil {
			r = run.record(num)
		}
		if !fn(i, r) {
			return
		}
	}
}

// loadOrCreate returns the record of (g, n), creating it with mk if absent;
// of concurrent creators exactly one record wins. A removed record found in
// its slot is unlinked first (see unlink), so a creator never waits for the
// burier that removed it.
//
// Steps:
//  1. Find or create the group's run (lockfree.Map.LoadOrStore).
//  2. For n >= denseFirst: find or create the directory and n's bucket,
//     each with a CAS from nil (a loser uses the winner's).
//  3. A record in the slot: return it, unless it was removed (then unlink
//     it and start over).
//  4. Reserve a place in the run (live.Add(1)). A closed run refuses:
//     delete it from the index and start over.
//  5. CAS the slot from nil to a new record. A loser gives its reservation
//     back and starts over (step 3 finds the winner's record).
func (x *denseIndex[V]) loadOrCreate(g [16]byte, n uint64, mk func() *Record[V]) *Record[V] {
	var r *Record[V] // made at most once, kept across rounds
	for {
		run, ok := x.runs.Load(g) // (1)
		if !ok {
			run, _ = x.runs.LoadOrStore(g, new(denseRun[V]))
		}
		s := run.slotFor(n)              // (2)
		if cur := s.Load(); cur != nil { // (3)
			if !cur.Removed() {
				return cur
			}
			x.unlink(g, run, s, cur)
			continue
		}
		if run.live.Add(1) <= 0 { // (4) closed: no place, and no count to give back
			lockfree.CompareAndDelete(x.runs, g, run)
			continue
		}
		if r == nil {
			r = mk()
		}
		if s.CompareAndSwap(nil, r) { // (5) publishes r (fields written by mk)
			return r
		}
		x.release(g, run)
	}
}

// slotFor returns the slot of sequence n in run, creating the directory
// and the bucket as needed (step 2 of loadOrCreate).
func (run *denseRun[V]) slotFor(n uint64) *atomic.Pointer[Record[V]] {
	if n < denseFirst {
		return &run.first[n]
	}
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
	return &bk.slots[off]
}

// unlink empties slot s of run (group g) if it still holds r, a removed
// record, and gives r's place in the run back. Of the burier and creators
// that race to unlink r, the one whose CAS wins gives it back, once.
func (x *denseIndex[V]) unlink(g [16]byte, run *denseRun[V], s *atomic.Pointer[Record[V]], r *Record[V]) {
	if s.CompareAndSwap(r, nil) {
		x.release(g, run)
	}
}

// release gives one place in run back (a lost slot CAS, or an unlinked
// record). The release that leaves none closes the run and deletes it from
// the index, unless a creator reserved in between (then that creator's
// record keeps it open).
func (x *denseIndex[V]) release(g [16]byte, run *denseRun[V]) {
	if run.live.Add(-1) == 0 && run.live.CompareAndSwap(0, denseClosed) {
		lockfree.CompareAndDelete(x.runs, g, run)
	}
}

// remove unlinks r, the removed record of (g, n) (Store.bury, after the
// lockDead store). r is in its slot unless a creator unlinked it already,
// and while it is there its run is the open one the index holds for g.
func (x *denseIndex[V]) remove(g [16]byte, n uint64, r *Record[V]) {
	run, ok := x.runs.Load(g)
	if !ok {
		return // a creator unlinked r, and the run closed
	}
	if s := run.slot(n); s != nil {
		x.unlink(g, run, s, r)
	}
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

// groups returns the number of runs in the index (for tests).
func (x *denseIndex[V]) groups() int { return x.runs.Len() }

// count returns the number of records (O(records): for Stats and Len).
func (x *denseIndex[V]) count() int {
	n := 0
	x.rangeAll(func([16]byte, uint64, *Record[V]) bool { n++; return true })
	return n
}
