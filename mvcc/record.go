package mvcc

import (
	"runtime"
	"sync/atomic"
)

// version is one immutable version of a record: the value committed at
// commit version ver, or a tombstone (the key deleted at ver).
//
// ver, val and tomb are written by the committer before the node is
// published by an atomic pointer store (Record.head or a predecessor's next)
// and never written again while the node is reachable; readers read them with
// plain loads after the acquiring pointer load. next is atomic because
// version GC cuts the chain (stores nil) while readers walk it. Once GC has
// unlinked a node it goes to the store's arena.Pool, which zeroes and reuses
// it only after Domain.Safe has passed its retire epoch.
type version[V any] struct {
	ver  uint64
	next atomic.Pointer[version[V]]
	val  V
	tomb bool
}

// Record is the versioned state of one key: a newest-first chain of
// immutable versions and a lock word. Records are created by
// [Store.LoadOrCreate] and never removed (physical removal of dead records
// is future work).
//
// Lock word (TL2's versioned write lock, Silo's TID word):
//
//	0          unlocked
//	1          locked, the committer's version not known yet
//	V<<1 | 1   locked by the committer of version V (see [LockWord])
//
// Only a committer of package txn locks records, and it never holds a lock
// across user code: lock, take a version, validate, install, unlock.
// Snapshot reads are lock-free except that a reader waits (spinning briefly,
// then yielding) while a committer whose version it must see is between
// locking and installing; see [Record.Read].
//
// A Record must not be copied.
type Record[V any] struct {
	// lock is the lock word above. CAS 0 -> 1 acquires it (and the
	// installed chain published by the previous holder's unlock); the
	// Store of V<<1|1 publishes the pending version to readers; the Store
	// of 0 releases the holder's installed version.
	lock atomic.Uint64
	// head is the newest version, or nil if none was ever committed.
	// Invariant: versions along next have strictly decreasing ver. Written
	// only by the lock holder.
	head atomic.Pointer[version[V]]
	// part is the key's phantom partition in its Store; immutable.
	part uint32
}

// LockWord returns the lock word of a record locked by the committer of
// version v: v<<1 | 1. A committer that finds this exact word on a record
// knows it holds the lock itself (commit versions are unique, GV1).
func LockWord(v uint64) uint64 { return v<<1 | 1 }

const lockedUnknown = 1

// TryLock tries once to lock the record for a committer that has not taken
// its version yet; it never waits. The CAS from 0 acquires the previous
// holder's installation.
func (r *Record[V]) TryLock() bool { return r.lock.CompareAndSwap(0, lockedUnknown) }

// SetPending publishes the lock holder's commit version v into the lock
// word, so that readers with a snapshot below v stop waiting for it.
func (r *Record[V]) SetPending(v uint64) { r.lock.Store(LockWord(v)) }

// Unlock releases the lock. The store publishes everything the holder
// installed to the next locker and to readers that see the record unlocked.
func (r *Record[V]) Unlock() { r.lock.Store(0) }

// Lock returns the current lock word (see [Record]).
func (r *Record[V]) Lock() uint64 { return r.lock.Load() }

// Partition returns the key's phantom partition in its Store.
func (r *Record[V]) Partition() int { return int(r.part) }

// HeadVersion returns the commit version of the newest installed version,
// or 0 if none. Validation compares it with the version a read observed.
func (r *Record[V]) HeadVersion() uint64 {
	if h := r.head.Load(); h != nil {
		return h.ver
	}
	return 0
}

// Live reports whether the newest installed version is a value (not a
// tombstone, not absent). Meaningful to the lock holder, for which the head
// cannot change.
func (r *Record[V]) Live() bool {
	h := r.head.Load()
	return h != nil && !h.tomb
}

// spinBeforeYield is how many times a waiting reader re-reads a lock word
// before it starts yielding its processor with runtime.Gosched.
const spinBeforeYield = 64

// Read returns the record's value at snapshot snap: the newest version with
// commit version <= snap. ok is false when there is none or it is a
// tombstone. ver is the commit version of the version found (0 if none);
// read-write transactions record it for validation. snap must be protected
// by an acquired [Slot] of the record's Domain for the whole call.
//
// Steps:
//  1. Load the lock word. If the record is locked and the pending version is
//     unknown or <= snap, the commit may belong in this snapshot: wait
//     (re-read spinBeforeYield times, then runtime.Gosched between reads,
//     so oversubscribed goroutines never busy-spin) until it is unlocked or
//     shows a pending version > snap. Any commit that locks the record
//     after this check takes a version > snap (it takes its version after
//     this load, which is after snap was read), so it can be ignored.
//  2. Walk from head to the first version with ver <= snap. Versions
//     > snap are skipped wherever they appear; version GC never cuts the
//     chain above the first version <= the watermark <= snap.
//
// See the package documentation for why this gives all-or-nothing
// visibility of every commit.
func (r *Record[V]) Read(snap uint64) (val V, ver uint64, ok bool) {
	for i := 0; ; i++ { // (1)
		w := r.lock.Load()
		if w&1 == 0 || w>>1 > snap {
			break
		}
		if i >= spinBeforeYield {
			runtime.Gosched()
		}
	}
	for v := r.head.Load(); v != nil; v = v.next.Load() { // (2)
		if v.ver <= snap {
			if v.tomb {
				return val, v.ver, false
			}
			return v.val, v.ver, true
		}
	}
	return val, 0, false
}

// ChainLen returns the number of versions linked from head. It is for tests
// and diagnostics: call it only while no committer writes the record (it
// walks past the versions any snapshot protects).
func (r *Record[V]) ChainLen() int {
	n := 0
	for v := r.head.Load(); v != nil; v = v.next.Load() {
		n++
	}
	return n
}
