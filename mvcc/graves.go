package mvcc

import "slices"

// Physical removal of deleted keys' records.
//
// A record whose newest version is a tombstone at or below the watermark is
// absent for every active and future snapshot (each is >= the watermark),
// and none of them can reach an older version through it; only a read-write
// transaction that read the record earlier, or a writer that looked it up,
// still cares about the object itself. Removal therefore:
//
//  1. The committer that installed a tombstone calls Store.Entomb, which
//     pushes (key, record) on the store's grave list (a Treiber stack: a
//     CAS on the list head).
//  2. A participant whose Slot.NoteCommit refreshes the watermark (about
//     once per refreshEvery commits, no locks held) then sweeps every
//     store of the domain that has graves ([Domain.sweep]): it takes the
//     whole list with one Swap into the store's backlog and, for up to
//     half the backlog, oldest first (see maxBury), buries the record
//     (Store.bury) or keeps the grave for a later sweep.
//  3. Bury: TryLock the record (a committer holds it: later); if the head
//     is no longer a tombstone, unlock and drop the grave (a later delete
//     pushes a new one); if the tombstone is above the watermark, unlock
//     and try later (and end this sweep). Otherwise store lockDead in the
//     lock word and delete the key from the map. The record stays locked
//     for ever.
//
// Why that is safe. A reader (Record.Read) never waits on lockDead: its
// pending version is above every snapshot; it reads the tombstone: absent,
// which is what every snapshot >= the watermark must see. A read-write
// transaction that read the record fails validation (the record is locked
// by someone else), and a writer that found it (Lookup or LoadOrCreate
// before step 3 deleted the key) fails its TryLock at commit: both get
// ErrConflict and txn.Engine.Update retries with a fresh lookup, which
// finds no record (absent, watched through the partition counter as for a
// key never written) or a new one. A new record for the key can only be
// created after the delete, since LoadOrStore never replaces a record and
// only a burier removes one; so no grave ever names a record other than the
// one its key held, and the delete removes exactly that record. Removal is
// not an existence change (the key was already absent), so no partition
// counter moves. The record's version nodes are never retired to a pool:
// the Go collector frees them with the record once no transaction holds
// it.
//
// Dense stores (WithDenseKeys) remove records the same way, with one more
// step after the lockDead store: the record's slot in its run's array is
// emptied, and a run whose records are all gone leaves the index with its
// arrays (see dense.go for the protocol that keeps creators out of a run
// that is leaving).

// lockDead is the lock word of a removed record: locked, with a pending
// version (2^63-1) above every snapshot, so readers never wait for it and no
// committer can lock it again.
const lockDead = ^uint64(0)

// grave is one entry of a store's grave list: a key whose record got a
// tombstone.
type grave[K comparable, V any] struct {
	k    K
	r    *Record[V]
	next *grave[K, V] // written before the CAS that publishes the node
}

// sweeper is a store's entry in its domain's list of stores to sweep. The
// domain holds stores weakly: once a store is collected its sweep does
// nothing, and its entry stays in the list (two words and a closure per
// store ever created).
type sweeper struct {
	sweep func(wm uint64)
	next  *sweeper // immutable once published
}

// bury results.
const (
	buryDone  = iota // removed, or no longer a candidate: drop the grave
	buryLater        // a committer holds the record: keep the grave for a later sweep
	buryAbove        // the tombstone is above the watermark: keep it, and stop the sweep
)

// Entomb tells the store that r, k's record, now has a tombstone at its
// head, so that version GC removes the record from the store once the
// watermark passes the tombstone (see "Physical removal" in graves.go; the
// record stays usable until then, and afterwards transactions that still
// hold it get ErrConflict and retry). The caller is the committer that
// installed the tombstone, before it unlocks r. It allocates one small
// node.
func (s *Store[K, V]) Entomb(k K, r *Record[V]) {
	g := &grave[K, V]{k: k, r: r}
	for {
		h := s.graves.Load()
		g.next = h
		// Publishes g and its fields to the sweeper that takes the list.
		if s.graves.CompareAndSwap(h, g) {
			// A push onto an empty list tells the domain there is work.
			// Any other push finds a list that a sweep has not taken yet,
			// and the flag set for its first node (or by a sweep that
			// left work) is still set, or was cleared by a sweep that
			// takes the list after this push.
			if h == nil && !s.d.graves.Load() {
				s.d.graves.Store(true)
			}
			return
		}
	}
}

// maxBury and maxBuryBurst bound the graves one sweep of one store
// examines: half the backlog, but at least maxBury and at most
// maxBuryBurst. A burial costs about 250 ns on the 2-core VM (lock, dead
// store, unlink, mostly cache misses on long-untouched lines; 3.4% of a
// kvstore_delete profile).
//
// Why half the backlog: every participant sweeps about once per
// refreshEvery commits, so a fixed 256 kept up with only about two
// deletions per commit. A run deleted with its 20 events and 5 traces is 25
// graves in one store pair per commit, and the backlog grew without bound
// (5,000 such runs created and deleted left 2.3 MB behind, 20,000 left 19.6
// MB). Burying half of it keeps the backlog at about twice what arrives
// between two sweeps, whatever the rate, so the work is proportional to the
// deletions (amortized one burial per deleted key, as it must be).
//
// Why the bounds: the first sweep after a large deletion (a run with
// 100,000 keys) would otherwise stall its committer for milliseconds;
// maxBuryBurst caps one sweep at about 1 ms and still keeps up with about
// 32 deletions per commit on average, sustained. maxBury keeps a small
// backlog from waiting for many sweeps.
const (
	maxBury      = 256
	maxBuryBurst = 4096
)

// sweep is step 2 for one store: with the store's sweep flag held (one
// sweeper at a time; others skip), it moves the pushed graves to the
// backlog, oldest first, and examines graves from the front of the
// backlog (see maxBury for how many), keeping those not ready. It stops
// at the first grave whose tombstone is above the watermark: the graves
// behind it were pushed later and are almost all above it too, so a
// snapshot that holds the watermark back (a long View) costs a sweep one
// look, not a walk over a growing backlog.
func (s *Store[K, V]) sweep(wm uint64) {
	if s.graves.Load() == nil && s.backlogN.Load() == 0 {
		return
	}
	if !s.sweeping.CompareAndSwap(false, true) { // acquires the backlog
		s.d.graves.Store(true) // another sweeper is busy here: look again next time
		return
	}
	first := len(s.backlog)
	for g := s.graves.Swap(nil); g != nil; g = g.next {
		s.backlog = append(s.backlog, grave[K, V]{k: g.k, r: g.r})
	}
	slices.Reverse(s.backlog[first:]) // the stack gave them newest first
	n := min(len(s.backlog), max(maxBury, min(len(s.backlog)/2, maxBuryBurst)))
	kept := 0
	i := 0
	for ; i < n; i++ {
		g := s.backlog[i]
		res := s.bury(g.k, g.r, wm)
		if res == buryDone {
			continue
		}
		s.backlog[kept] = g
		kept++
		if res == buryAbove {
			i++
			break
		}
	}
	m := kept + copy(s.backlog[kept:], s.backlog[i:])
	clear(s.backlog[m:]) // drop the references of the graves dealt with
	s.backlog = s.backlog[:m]
	if c := cap(s.backlog); c > 1024 && m < c/4 {
		s.backlog = slices.Clone(s.backlog) // give back what a large deletion made it grow to
	}
	s.backlogN.Store(int64(m))
	if m > 0 {
		s.d.graves.Store(true) // work left for a later sweep
	}
	s.sweeping.Store(false) // releases the backlog to the next sweeper
}

// bury is step 3 for one grave. The head's fields are read only under the
// record's lock: the sweeper holds no snapshot, so without the lock a head
// replaced and pruned meanwhile could be reused by the pool under it; with
// it, the head is not replaced, and a head is never pruned.
func (s *Store[K, V]) bury(k K, r *Record[V], wm uint64) int {
	if !r.TryLock() {
		if r.lock.Load() == lockDead {
			return buryDone // an earlier grave of the same record buried it
		}
		return buryLater // a committer holds it
	}
	h := r.head.Load()
	if h == nil || !h.tomb {
		r.Unlock() // written again since: a later delete pushes a new grave
		return buryDone
	}
	if h.ver > wm {
		r.Unlock() // a snapshot below the tombstone may still read older versions
		return buryAbove
	}
	r.lock.Store(lockDead) // publishes "removed" to readers, validators and lockers
	if s.dense != nil {
		g, n := s.keys.split(k)
		s.dense.remove(g, n, r)
	} else {
		s.m.Delete(k)
	}
	s.buried.Add(1)
	return buryDone
}

// addSweeper registers fn to be called by sweep.
func (d *Domain) addSweeper(fn func(wm uint64)) {
	n := &sweeper{sweep: fn}
	for {
		h := d.sweepers.Load()
		n.next = h
		// Publishes n to sweeps.
		if d.sweepers.CompareAndSwap(h, n) {
			return
		}
	}
}

// sweep runs every registered store's sweep with watermark wm (step 2), if
// some store may hold graves. The caller must hold no record lock.
func (d *Domain) sweep(wm uint64) {
	if !d.graves.Load() {
		return
	}
	d.graves.Store(false) // before the walk: a push after it sets it again
	for n := d.sweepers.Load(); n != nil; n = n.next {
		n.sweep(wm)
	}
}

// graveCount is for tests: the number of graves waiting in s (no sweep
// may run concurrently).
func (s *Store[K, V]) graveCount() int {
	n := len(s.backlog)
	for g := s.graves.Load(); g != nil; g = g.next {
		n++
	}
	return n
}
