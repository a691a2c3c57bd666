package mvcc

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/substrate-lab/substrate/internal/chaos"
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

// initNext sets n.next to p with a plain store. n must be private: a node
// no other goroutine can reach (a new one, a pool node handed out again, a
// record's unused inline node), which [Store.Install] then publishes with
// the atomic head.Store. That store synchronizes with every reader's head
// Load that observes n, so this write happens before their next.Load
// (Go memory model), and the race detector sees the same order. An atomic
// Store here was a second full fence per install (XCHG on amd64, about
// 5% of engine_put_direct's profile) for an order the publication already
// gives. atomic.Pointer[T] is one pointer word at offset 0
// (TestVersionNextLayout holds it to that); the store through a typed
// pointer keeps the GC's write barrier.
func (n *version[V]) initNext(p *version[V]) {
	*(**version[V])(unsafe.Pointer(&n.next)) = p
}

// cutNext sets n.next to nil with a plain store: the prune's cut below n,
// where n is the newest version with ver <= W, W the watermark the pruning
// lock holder loaded. No other goroutine loads n.next concurrently:
//
//  1. Every snapshot active now or taken later is >= W (the watermark
//     argument on [Domain.Epoch]), and a walk stops at the first version
//     <= its snapshot; versions strictly decrease along the chain, so
//     every reader's walk stops at n or above and never loads n.next.
//  2. A reader that loaded n.next earlier did so with a snapshot below
//     n.ver <= W, which it had released before any scan could compute W:
//     its load happens before its release, the scan that observed the
//     release, the CAS that stored W and the pruner's load of W.
//  3. Other lock holders (later prunes and installs) are ordered by the
//     record's lock; ChainLen is for tests and diagnostics, called only
//     while no committer writes the record.
//
// So the store needs no atomicity, and an atomic Store (XCHG on amd64, a
// full fence that waits for the misses before it) cost about 9% of
// engine_put_direct, whose every rewrite cuts (docs/BENCHMARKS.md, "The
// prune's cut as a plain store"). The race detector sees these accesses as
// they are, so a reader that did follow a cut pointer would be reported by
// the -race suite (TestPruneCutUnderReaders). atomic.Pointer[T] is one
// pointer word at offset 0, as for initNext.
func (n *version[V]) cutNext() {
	*(**version[V])(unsafe.Pointer(&n.next)) = nil
}

// Record is the versioned state of one key: a newest-first chain of
// immutable versions and a lock word. Records are created by
// [Store.LoadOrCreate]; a record whose key was deleted is removed from its
// store once no snapshot can see anything but the tombstone (see
// [Store.Entomb]), and is then locked for ever.
//
// Lock word (TL2's versioned write lock, Silo's TID word):
//
//	0          unlocked
//	1          locked, the committer's version not known yet
//	V<<1 | 1   locked by a committer of version V (see [LockWord])
//	all ones   removed from its store (lockDead): readers see the tombstone
//	           without waiting; no committer can lock it
//
// Only a committer of package txn locks records, and it never holds a lock
// across user code: lock, take a version, validate, install, unlock.
// Snapshot reads are lock-free except that a reader waits (spinning briefly,
// then yielding) while a committer whose version it must see is between
// locking and installing; see [Record.Read].
//
// The lock word does not say which committer holds it: commit versions are
// not unique (see [Domain]), so V<<1|1 may be the word of several
// committers at once, each on its own records. A committer that needs to
// know whether it holds a lock asks its own write set (package txn does,
// in validation). Putting an owner id in the word instead would take bits
// from the version (or a second word per record) for a question only the
// committer asks, about records it has just locked itself.
//
// Inline version (after Cicada's best-effort inlining, Lim et al., SIGMOD
// 2017): a record embeds one version node, inl, which [Store.Install] uses
// for the record's first version. A key written once (every event of a
// log, every trace) then costs one heap object instead of two, and a read
// of it touches the record's line only. inl is an ordinary chain node while linked; when a prune unlinks
// it, it is tagged with the epoch a pool would tag it with, and once
// [Domain.Safe] passes the tag a later install clears it (dropping its
// value's references) for good. It is never reused: letting rewritten keys
// alternate between the inline node and pool nodes made engine_put_noalloc
// allocate version nodes in 3 of 10 runs (a transaction object new to a
// pool shard used inline nodes while its shard was unfed, and each such
// node later left the pool's circulation one node short), 0 of 10 with
// first versions only.
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
	part uint16
	// inlState says where inl is: inlFree (never used), inlLinked (on the
	// chain, or being filled by the lock holder), inlRetired (unlinked by a
	// prune that tagged it with epoch e, inlTag holding e's low 32 bits)
	// or inlDead (cleared). A retired node may be cleared once
	// Domain.Safe() > e. The watermark behind Safe only grows and a prune's
	// tag is the watermark it read, so Safe() >= e always and Safe() > e
	// exactly when Safe() != e, which a difference in the low 32 bits
	// proves (equal low bits after 2^32 epochs only delay the clearing).
	// While inlState is not inlRetired, inlTag holds instead the low 32
	// bits of the watermark of the record's last prune walk (see
	// Store.prune), which spares hot keys a walk per install; a retiring
	// prune overwrites it with the epoch tag, and after the inline node is
	// cleared the tag is simply an old watermark's bits again.
	// inlState and inlTag are read and written only by the lock holder
	// (the lock's CAS and release order them between holders); readers
	// never look at them.
	inlState uint16
	inlTag   uint32
	// inl is the inline version node: immutable while linked, like every
	// node (see version).
	inl version[V]
	// No pad. The 24 bytes above plus a version node (32 bytes or more
	// for every V of 8 bytes or more) make a Record of at least 56 bytes,
	// which the allocator rounds to a size class of 64 bytes or more, so
	// the lock and head words of two records are always at least one cache
	// line apart and never share a line; for V of 8 to 16 bytes (integers,
	// pointers, strings, interfaces) a Record fits one line exactly and is
	// line-aligned (size class 64, no malloc header). Records of V smaller
	// than 8 bytes (bool, int32, struct{}) are 48 bytes and may share lines.
	// (Before the inline node a 20-byte record was padded to one line.
	// Unpadded, 24-byte records of keys created one after another shared
	// lines, and their lock and head words, written by every commit,
	// bounced between the cores committing them. Measured on the 2-core
	// VM, txn BenchmarkRMWDisjointParallel, one key per goroutine,
	// -benchtime 200ms, 5 interleaved rounds, ns per transaction at -cpu
	// 2, -cpu 1 about 162-201: adjacent keys 247-268 with 24-byte records,
	// 100-107 with 64-byte ones; keys 997 apart 95-106 either way.)
}

// Inline-node states (Record.inlState).
const (
	inlFree    = 0 // never used: the record's first version may take it
	inlLinked  = 1 // on the chain
	inlRetired = 2 // unlinked: to be cleared once the low 32 bits of Domain.Safe() differ from inlTag
	inlDead    = 3 // unlinked and cleared; never used again
)

// Every partition number must fit Record.part (a compile-time check).
const _ = uint16(Partitions - 1)

// LockWord returns the lock word that a committer publishes for pending
// version v: v<<1 | 1. Several committers of one version may publish the
// same word on different records (see [Record]); it does not identify the
// holder.
func LockWord(v uint64) uint64 { return v<<1 | 1 }

const lockedUnknown = 1

// TryLock tries once to lock the record for a committer that has not taken
// its version yet; it never waits. The CAS from 0 acquires the previous
// holder's installation.
func (r *Record[V]) TryLock() bool { return r.lock.CompareAndSwap(0, lockedUnknown) }

// TryLockAt tries once to lock the record for a committer whose commit
// version will be at least low ([Domain.PendingFloor], read before this
// call); it never waits. The lock word carries low as the pending version
// from the start: a reader with a snapshot below low knows the commit is
// not one it must see and does not wait, which is what SetPending would
// tell it, without a second store (a full fence per written record). A
// reader at or above low waits for the unlock, which is always safe, even
// when the version turns out higher. The CAS from 0 acquires the previous
// holder's installation.
func (r *Record[V]) TryLockAt(low uint64) bool { return r.lock.CompareAndSwap(0, LockWord(low)) }

// SetPending publishes the lock holder's commit version v into the lock
// word, so that readers with a snapshot below v stop waiting for it. The
// holder must have taken its clock step ([Domain.CommitVersion]) first.
func (r *Record[V]) SetPending(v uint64) { r.lock.Store(LockWord(v)) }

// Unlock releases the lock. The store publishes everything the holder
// installed to the next locker and to readers that see the record unlocked.
func (r *Record[V]) Unlock() { r.lock.Store(0) }

// Lock returns the current lock word (see [Record]).
func (r *Record[V]) Lock() uint64 { return r.lock.Load() }

// Removed reports whether the record has been removed from its store (its
// key's deletion became final: see [Store.Entomb]). A removed record reads
// as its tombstone and can never be locked again.
func (r *Record[V]) Removed() bool { return r.lock.Load() == lockDead }

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
//     shows a pending version > snap. For a fresh snapshot ([Slot.Acquire])
//     any commit that locks the record after this check accessed the clock
//     after the snapshot was established, so its version is > snap and it
//     can be ignored (see [Domain], "Fresh snapshot", step 1). For a
//     read-write snapshot it may not be; validation catches that.
//  2. Walk from head to the first version with ver <= snap. Versions
//     > snap are skipped wherever they appear; version GC never cuts the
//     chain above the first version <= the watermark <= snap.
//
// See [Domain] for why this gives all-or-nothing visibility of every commit
// to a fresh snapshot.
func (r *Record[V]) Read(snap uint64) (val V, ver uint64, ok bool) {
	if w := r.lock.Load(); w&1 != 0 && w>>1 <= snap { // (1), fast path inline
		r.wait(snap)
	}
	// Between the lock check and the head load a committer may lock and
	// install: the window the visibility argument is about.
	chaos.Yield("mvcc.record.read.checked")
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

// ReadHead is the common case of [Record.Read], small enough to be inlined
// into its caller: when the record is not locked by a committer whose
// version may be <= snap (step 1 of Read would not wait) and its newest
// version is <= snap, it returns that version's value and ok as Read
// would, and hit true. Otherwise it returns hit false, and the caller must
// call Read. The same rules as Read's apply to snap. (Package txn's
// read-only Get uses it: a call fewer between the two fences of a
// read-only transaction.)
func (r *Record[V]) ReadHead(snap uint64) (val V, ok, hit bool) {
	if w := r.lock.Load(); w&1 == 0 || w>>1 > snap {
		chaos.Yield("mvcc.record.read.checked")
		if v := r.head.Load(); v != nil && v.ver <= snap {
			if v.tomb {
				return val, false, true
			}
			return v.val, true, true
		}
	}
	return val, false, false
}

// ReadAt is Read for read-write transactions: it also reports stale, true
// when the newest installed version is above snap. Such a read cannot pass
// commit validation (the head it would be validated against is not the
// version returned), so package txn extends its snapshot instead (see
// [Slot.Extend]) and reads again.
//
// Unlike Read it waits for any committer that holds the record (not only
// for one whose version it must see): what it would read past the lock is
// about to be replaced, and a read-write transaction that read it could
// only fail validation and run again; waiting for the install and
// extending reads the new version instead. It never waits for a removed
// record (lockDead), which no one unlocks. Measured on the 2-core VM, Tier
// D same-key cases, 3 rounds each (1 s protocol): with committers
// announcing their version floor from the lock CAS on (TryLockAt), readers
// that skipped the wait saw max attempts rise from 5-7 to 8-16; waiting
// for any lock brought them back to 5-7, with the same throughput and
// retry rate and eventlog/4's p99/mean at 8.7-9.0 (8.7-10.5 before).
func (r *Record[V]) ReadAt(snap uint64) (val V, ver uint64, ok, stale bool) {
	if w := r.lock.Load(); w&1 != 0 && w != lockDead {
		r.wait(waitAnyLock)
	}
	chaos.Yield("mvcc.record.read.checked")
	h := r.head.Load()
	if h != nil && h.ver > snap {
		stale = true
	}
	for v := h; v != nil; v = v.next.Load() {
		if v.ver <= snap {
			if v.tomb {
				return val, v.ver, false, stale
			}
			return v.val, v.ver, true, stale
		}
	}
	return val, 0, false, stale
}

// waitAnyLock is the snapshot that makes wait return only at an unlock (or
// a removal): every pending version is at most it, and lockDead's is above.
const waitAnyLock = lockDead>>1 - 1

// wait is step 1 of Read.
//
// The first pausedPolls re-reads are spaced by a growing pause (1, 2, 4,
// ... loop iterations, about 2 µs in all) that touches no shared memory;
// the rest follow each other at once. Each read pulls the record's line to
// the reader's core, and the committer, which writes that line more than
// once while it holds the lock (head, unlock, now and then the pending
// version), must take it back every time: leaving it alone for the first
// microseconds lets the commit finish sooner, and polling at full rate
// afterwards keeps the reader from missing the unlock (which made pausing
// throughout unfair).
func (r *Record[V]) wait(snap uint64) {
	for i := 0; ; i++ {
		w := r.lock.Load()
		if w&1 == 0 || w>>1 > snap {
			return
		}
		if i >= spinBeforeYield {
			runtime.Gosched()
		} else if i < pausedPolls {
			_ = pause(1 << i)
		}
		chaos.Yield("mvcc.record.wait")
	}
}

// pausedPolls is how many of a waiting reader's first polls are spaced by
// pause (see wait). Measured on the 2-core VM, Tier D contention/statecell/4
// (4 workers on one cell, 500 ms protocol, 5 alternating rounds each):
//
//	pausedPolls   x-1worker   retry-%   p99/mean
//	0 (before)    0.41-0.43   27-28     5.0-6.8
//	7             0.41-0.43   27-28     5.3-5.5
//	9             0.45-0.47   24-26     5.8-7.3
//	11            0.45-0.47   25-27     4.8-5.6
//	12-14         0.43-0.49   21-27     5.0-9.4
//
// A pause between every poll (capped at 16-64 iterations) reached
// 0.49-0.64 but let a committer chain commits while readers waited: p99
// rose to 8-17 times the mean (docs/BENCHMARKS.md).
const pausedPolls = 11

// pause burns about n loop iterations (a few cycles each) without touching
// shared memory. It returns the loop's value so that the loop is kept; not
// being inlined, it is computed even though callers drop the result.
//
//go:noinline
func pause(n int) uint32 {
	x := uint32(n)
	for range n {
		x = x*1664525 + 1013904223
	}
	return x
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
