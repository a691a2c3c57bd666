package mvcc

import (
	"github.com/substrate-lab/substrate/internal/cacheline"
	"github.com/substrate-lab/substrate/internal/chaos"
)

// Slot is one participant's epoch slot in a [Domain]: the word through which
// the participant announces its active snapshot to the watermark scan.
//
// A Slot is owned by one participant (package txn: one pooled transaction
// object) from [Domain.NewSlot] to [Close]; its methods must not be called
// concurrently. Acquire, AcquireOptimistic, Extend and Release allocate
// nothing. A Slot is a small value; copies name the same slot word, but only
// the owner's copy may be used (it keeps state: the previous snapshot and
// the refresh counters). The zero Slot is not usable.
type Slot struct {
	w   *cacheline.PaddedUint64 // the slot word: 0 idle, a+1 active
	d   *Domain
	idx int           // index in d.slots, or -1 for an overflow slot
	ov  *overflowSlot // the overflow node, when idx == -1
	// last is the newest snapshot this slot has handed out (0 before the
	// first): <= every later snapshot (I1), announced first by the next
	// Acquire.
	last uint64
	// commits counts commits since the last refresh decision; every is
	// the current refresh period (refreshEvery, doubled while the
	// watermark is pinned); seenWM is the watermark this participant saw
	// at its last decision. See NoteCommit.
	commits, every int
	seenWM         uint64
}

// Domain returns the Domain the slot belongs to.
func (s *Slot) Domain() *Domain { return s.d }

// Overflow reports whether the slot is an overflow slot (all NumSlots fixed
// slots were owned when it was created).
func (s *Slot) Overflow() bool { return s.ov != nil }

// Acquire begins a fresh snapshot and returns it: the snapshot sees exactly
// the versions committed at or below it, which include every commit that
// returned before Acquire was called and all or nothing of every other
// commit (see "Fresh snapshot" on [Domain]). The snapshot stays protected
// from version GC until [Slot.Release]. No lock, no allocation; one load of
// the clock, plus one CAS when a commit has marked the clock dirty since the
// last advance (retried only while other acquirers advance it).
//
// Steps:
//  1. s1 := max(the newest snapshot this slot handed out, the cached
//     watermark). Both are <= every later snapshot (I1 for the first, the
//     watermark's definition for the second), so s1 <= S below.
//  2. slot.Store(s1+1): announces "my snapshot is >= s1" to watermark scans.
//  3. S := the fresh snapshot (Domain steps "Fresh snapshot" 1-2).
//  4. If S > s1, slot.Store(S+1): raises the announcement to the exact
//     snapshot (for precise GC and for the oldest-snapshot metric).
//
// Why S is protected. A watermark scan reads the clock (value c) before it
// reads the slots. If the scan read this slot after step 2, it saw s1+1 or
// S+1 and its result is <= S. If it read the slot before step 2, then its
// clock read came before step 3; t+dirty never decreases (I1) and
// S >= bound(t+dirty) of any earlier clock value, so the scan's bound, and
// its result, is <= S. Either way no scan can produce a watermark above S,
// so GC never unlinks a version S needs.
//
// Announcing a lower bound before reading the clock (rather than "read the
// clock, publish, re-read and retry") saves a read of the clock's line and
// has no retry loop of its own.
func (s *Slot) Acquire() uint64 {
	s1 := max(s.last, s.d.wm.Load()) // (1)
	s.w.Store(s1 + 1)                // (2) publishes the lower bound s1 to watermark scans
	chaos.Yield("mvcc.slot.announced")
	snap := s.d.fresh() // (3)
	if snap != s1 {
		s.w.Store(snap + 1) // (4) publishes the exact snapshot
	}
	s.last = snap
	return snap
}

// AcquireOptimistic begins the snapshot of a read-write transaction that
// validates its reads at commit: bound(t+dirty) of one clock load, no write
// to any shared line (see "Read-write snapshot" on [Domain]). It sees every
// commit that returned before the call, but may see part of a commit that
// locked after it; consistent reports that the clock was clean, in which
// case it is exactly the snapshot Acquire would have returned. The
// announcement protocol and its argument are Acquire's.
func (s *Slot) AcquireOptimistic() (snap uint64, consistent bool) {
	s1 := max(s.last, s.d.wm.Load())
	s.w.Store(s1 + 1) // publishes the lower bound s1 to watermark scans
	chaos.Yield("mvcc.slot.announced")
	snap, consistent = s.d.optimistic()
	if snap != s1 {
		s.w.Store(snap + 1) // publishes the exact snapshot
	}
	s.last = snap
	return snap, consistent
}

// Extend returns a newer read-write snapshot for the holder of an active
// one, without a shared write: bound(t+dirty) now. It is the snapshot
// extension of LSA/TinySTM: a transaction that meets a version above its
// snapshot extends, re-validates what it read so far, and continues at the
// new snapshot (package txn). The slot keeps announcing the old, lower
// snapshot, which stays a valid lower bound, so Extend writes nothing.
// Every version installed before the call is <= the result (I4: its
// committer took its clock step before installing).
func (s *Slot) Extend() uint64 {
	snap, _ := s.d.optimistic()
	s.last = max(s.last, snap)
	return snap
}

// Release ends the snapshot begun by Acquire. The store publishes "no
// snapshot" and, to the watermark scan that observes it, every read this
// participant made of version nodes (that edge orders the reads before any
// reuse of those nodes by the pool).
func (s *Slot) Release() { s.w.Store(0) }

// Active reports whether the slot holds a snapshot.
func (s *Slot) Active() bool { return s.w.Load() != 0 }

// NoteCommit is called by the slot's owner after each of its read-write
// commits (after Release), with the commit version v. It drives version GC
// without a shared counter:
//
//  1. If v's seq is WatermarkEvery-1 modulo WatermarkEvery, one record has
//     taken WatermarkEvery versions in this tick since the clock last
//     advanced: refresh now (step 4). This trigger needs no memory in the
//     participant, so it bounds hot chains even when transaction objects
//     are short-lived (sync.Pool drops them at every GC, and at random
//     under the race detector).
//  2. Count the commit; act only every s.every commits (refreshEvery to
//     start with).
//  3. If the cached watermark moved since this participant last looked,
//     another participant refreshed it recently: note the value and do
//     nothing. So with P committers one of them (whoever finds the value
//     unmoved) refreshes every refreshEvery of its commits, instead of
//     every participant scanning every slot.
//  4. Otherwise refresh (Domain.RefreshWatermark: advance the clock if
//     dirty, scan the slots, raise the watermark). If the watermark is
//     pinned, that is at least two ticks behind the clock bound the
//     refresh computed (an old snapshot: refreshing again soon cannot
//     help), double s.every up to maxWatermarkEvery; otherwise reset it
//     to refreshEvery. One tick behind is no pin: it is a transaction
//     that began in the short window after the previous advance, before
//     any commit marked the clock dirty again (measured: about one
//     refresh in eight with two disjoint committers; backing off on those
//     starved node reuse).
//
// Cost: one load of the watermark's read-mostly line every refreshEvery
// commits, plus, for the refreshing participant, one clock CAS and one scan
// of the slots in use.
func (s *Slot) NoteCommit(v uint64) {
	hot := (v&seqMask)%WatermarkEvery == WatermarkEvery-1 // (1)
	s.commits++                                           // (2)
	if s.commits < s.every && !hot {
		return
	}
	s.commits = 0
	if w := s.d.wm.Load(); w != s.seenWM && !hot { // (3)
		s.seenWM = w
		s.every = refreshEvery
		return
	}
	w, b := s.d.refresh() // (4)
	if Tick(b)-Tick(w) >= 2 {
		s.every = min(2*s.every, maxWatermarkEvery)
	} else {
		s.every = refreshEvery
	}
	s.seenWM = w
}

// Close releases any snapshot and gives the slot back to the Domain. The
// Slot must not be used afterwards.
func (s *Slot) Close() {
	if s.w == nil {
		return
	}
	s.w.Store(0)
	if s.ov != nil {
		s.ov.owned.Store(false) // frees the overflow slot for another participant
	} else {
		s.d.owned[s.idx/64].And(^(uint64(1) << (s.idx % 64))) // frees the fixed slot
	}
	*s = Slot{}
}

// Index returns the slot's index among the fixed slots, or -1 for an
// overflow slot. Committers pass it to [Store.Install] as the pool hint.
func (s *Slot) Index() int { return s.idx }
