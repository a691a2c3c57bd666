package mvcc

import (
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
//
// An owner may instead share its Slot (one copy, by pointer) among
// goroutines that take turns holding it for one snapshot each, with
// [Slot.TryAcquire] and [Slot.Release] (package txn: its read-only
// transactions). The snapshot of each holder is protected exactly as an
// owner's is.
type Slot struct {
	sw  *slotWords // the slot's shared words (see slotWords)
	d   *Domain
	idx int           // index in d.slots, or -1 for an overflow slot
	ov  *overflowSlot // the overflow node, when idx == -1
	// last is the newest snapshot this slot has handed out (0 before the
	// first): <= every later snapshot (I1).
	last uint64
	// ann is the announcement last stored in sw.w (a+1), 0 before the
	// first Acquire. Only the owner reads it (a copy of sw.w that spares a
	// load of the shared line).
	ann uint64
	// held reports that the owner holds a snapshot (sw.act is odd). It
	// makes a second Acquire or Release harmless (act must flip exactly
	// once per snapshot).
	held bool
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
// from version GC until [Slot.Release]. No lock, no allocation; one atomic
// add on the slot's line and one load of the clock, plus one store when
// the clock has moved since the slot's previous snapshot, plus one CAS when
// a commit has marked the clock dirty since the last advance (retried only
// while other acquirers advance it).
//
// Steps:
//  1. On the slot's first snapshot only: w.Store(s1+1), s1 = max(the
//     newest snapshot this slot handed out, the cached watermark), a lower
//     bound of every later snapshot. Later snapshots find w already
//     holding a lower bound: the previous snapshot's (I1).
//  2. act.Add(1), making it odd: publishes "active, at or above w-1" to
//     watermark scans. A locked add is a full fence, so the clock load of
//     step 3 cannot pass it.
//  3. S := the fresh snapshot (Domain steps "Fresh snapshot" 1-2).
//  4. If S+1 > w, w.Store(S+1): raises the announcement to the exact
//     snapshot (for precise GC and for the oldest-snapshot metric).
//
// Why S is protected. A watermark scan reads the clock (value c) before it
// reads the slots. If the scan read act after step 2, it saw the slot
// active and w, a lower bound of S (or of a later snapshot of this slot,
// which is after S's Release), so its result is <= S. If it read act before
// step 2, then its clock read came before step 3; t+dirty never decreases
// (I1) and S >= bound(t+dirty) of any earlier clock value, so the scan's
// bound, and its result, is <= S. Either way no scan can produce a
// watermark above S while S is active, so GC never unlinks a version S
// needs.
func (s *Slot) Acquire() uint64 {
	s.announceFirst() // (1)
	s.activate()      // (2)
	chaos.Yield("mvcc.slot.announced")
	snap := s.d.fresh() // (3)
	s.raise(snap)       // (4)
	return snap
}

// AcquireOptimistic begins the snapshot of a read-write transaction that
// validates its reads at commit: bound(t+dirty) of one clock load, no write
// to any shared line but the slot's (see "Read-write snapshot" on
// [Domain]). It sees every commit that returned before the call, but may
// see part of a commit that locked after it; consistent reports that the
// clock was clean, in which case it is exactly the snapshot Acquire would
// have returned. The announcement protocol and its argument are Acquire's.
func (s *Slot) AcquireOptimistic() (snap uint64, consistent bool) {
	s.announceFirst()
	s.activate()
	chaos.Yield("mvcc.slot.announced")
	snap, consistent = s.d.optimistic()
	s.raise(snap)
	return snap, consistent
}

// announceFirst is step 1 of Acquire.
func (s *Slot) announceFirst() {
	if s.ann == 0 {
		s.ann = max(s.last, s.d.wm.Load()) + 1
		s.sw.w.Store(s.ann) // publishes a lower bound; act is still even
	}
}

// activate is step 2 of Acquire. On a slot that already holds a snapshot
// (Acquire called twice) it does nothing: the slot stays active with an
// announcement that bounds the new snapshot too.
func (s *Slot) activate() {
	if !s.held {
		s.sw.act.Add(1) // publishes "active" to watermark scans
		s.held = true
	}
}

// raise is step 4 of Acquire: it records snap as handed out and raises the
// announcement to it if it is higher.
func (s *Slot) raise(snap uint64) {
	if snap >= s.ann {
		s.ann = snap + 1
		s.sw.w.Store(s.ann) // publishes the exact snapshot
	}
	s.last = snap
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

// Release ends the snapshot begun by Acquire; without one it does nothing.
// The add makes act even: it publishes "no snapshot" and, to the watermark
// scan that observes it, every read this participant made of version nodes
// (that edge orders the reads before any reuse of those nodes by the pool). The announcement
// stays in w as the lower bound for the next snapshot; an idle slot's w is
// ignored by scans.
//
// On a shared slot (see [Slot.TryAcquire]) the Release hands the slot to
// the next holder: the holder's last write to the Slot comes before it.
func (s *Slot) Release() {
	if s.held {
		s.held = false
		s.sw.act.Add(1) // publishes "no snapshot", and the Slot to its next holder
	}
}

// Skip raises the generation of an idle slot by two, as an Acquire and a
// Release would, without taking a snapshot: for an owner that numbers its
// uses of the slot by [Slot.Generation] (package txn: its transaction
// handles) and ends a use that needed no snapshot (a transaction that only
// wrote). The slot stays idle for watermark scans (act stays even). On a
// slot that holds a snapshot it does nothing. One atomic add.
func (s *Slot) Skip() {
	if !s.held {
		s.sw.act.Add(2) // publishes the new generation; still "no snapshot"
	}
}

// TryAcquire is Acquire for a slot shared by several goroutines: it takes
// the slot and begins a fresh snapshot with one CAS, or reports false at
// once if another goroutine holds it. gen is the slot's Generation while
// the caller holds it. The goroutine whose TryAcquire
// succeeded holds the slot and may call its other methods until its
// [Slot.Release], which hands it on; nobody else may call any method but
// TryAcquire, Generation and Active meanwhile. The slot must have
// announced a snapshot before it was shared (one Acquire and Release by
// its creator), since a TryAcquire that finds no announcement reports
// false; so the lower bound of step 1 of Acquire is already in w.
//
// Steps:
//  1. g := act.Load(); if g is odd (held) or w is 0 (never announced),
//     report false.
//  2. act.CompareAndSwap(g, g+1): publishes "active, at or above w-1" to
//     watermark scans, exactly as Acquire's add does (and, like it, a
//     full fence before the clock load), and takes the slot. It reads the
//     value written by the previous holder's Release, so every write that
//     holder made to the Slot happens before this holder's reads of it.
//  3. and 4. As Acquire.
//
// Why w is a lower bound of S. w was raised by some earlier holder to one
// of its snapshots plus one, before that holder's Release; every later
// holder loads the clock after the CAS that follows that Release, and
// snapshots never decrease (I1), so S >= w-1. The argument of Acquire
// then holds word for word, the holder in place of the owner.
func (s *Slot) TryAcquire() (snap, gen uint64, ok bool) {
	g := s.sw.act.Load() // (1)
	if g&1 != 0 || s.sw.w.Load() == 0 {
		return 0, 0, false
	}
	// (2) Publishes "active" to watermark scans, and takes the slot.
	if !s.sw.act.CompareAndSwap(g, g+1) {
		return 0, 0, false
	}
	s.held = true
	chaos.Yield("mvcc.slot.announced")
	snap = s.d.fresh() // (3)
	s.raise(snap)      // (4)
	return snap, g + 1, true
}

// Active reports whether the slot holds a snapshot.
func (s *Slot) Active() bool { return s.sw.act.Load()&1 != 0 }

// Generation returns the slot's activity count: odd while the slot holds
// a snapshot, raised by one at every Acquire, AcquireOptimistic and
// Release, so each snapshot the slot hands out has its own value (in the
// slot's lifetime) and a value read during a snapshot differs from every
// later one. Package txn uses it as the generation of its pooled
// transaction objects. Safe to call from any goroutine.
func (s *Slot) Generation() uint64 { return s.sw.act.Load() }

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
//     dirty, scan the slots, raise the watermark), then remove the records
//     of deleted keys that the watermark has passed (see Store.Entomb).
//     If the watermark is pinned, that is at least two ticks behind the clock bound the
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
	s.d.sweep(w)
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
	if s.sw == nil {
		return
	}
	if s.Active() {
		s.sw.act.Add(1) // publishes "no snapshot"
	}
	s.sw.w.Store(0) // the next owner announces afresh
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
