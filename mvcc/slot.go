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
// concurrently. Acquire and Release are wait-free and allocate nothing. A
// Slot is a small value; copies name the same slot word, but only the
// owner's copy may be used (Acquire keeps state in it). The zero Slot is not
// usable.
type Slot struct {
	w   *cacheline.PaddedUint64 // the slot word: 0 idle, S+1 active
	d   *Domain
	idx int           // index in d.slots, or -1 for an overflow slot
	ov  *overflowSlot // the overflow node, when idx == -1
	// last is the snapshot the previous Acquire returned (0 before the
	// first): a value <= the clock, announced by the next Acquire.
	last uint64
}

// Domain returns the Domain the slot belongs to.
func (s *Slot) Domain() *Domain { return s.d }

// Overflow reports whether the slot is an overflow slot (all NumSlots fixed
// slots were owned when it was created).
func (s *Slot) Overflow() bool { return s.ov != nil }

// Acquire begins a snapshot and returns its version S: the snapshot sees
// exactly the versions committed at or below S. The snapshot stays protected
// from version GC until [Slot.Release]. No lock, no allocation, no loop, and
// one load of the shared clock.
//
// Steps:
//  1. s1 := max(the snapshot this slot's previous Acquire returned, the
//     cached watermark). Both are <= the clock, so s1 <= S below.
//  2. slot.Store(s1+1): announces "my snapshot is >= s1" to watermark scans.
//  3. S := clock.Load(); the snapshot is S.
//  4. If S > s1, slot.Store(S+1): raises the announcement to the exact
//     snapshot (for precise GC and for the oldest-snapshot metric).
//
// Why S is protected. A watermark scan reads the clock (value c) before it
// reads the slots. If the scan read this slot after step 2, it saw s1+1 or
// S+1 and its result is <= S. If it read the slot before step 2, then its
// clock read came before step 2 and so before step 3; the clock only grows,
// so c <= S and again the result is <= S. Either way no scan can produce a
// watermark above S, so GC never unlinks a version S needs.
//
// This is the brief's protocol ("S = clock; publish S+1; re-read the clock
// and retry if it moved") with the first clock read replaced: any announced
// value <= S closes the window, as long as it is announced before S is
// read, so it need not come from the clock. That saves a read of the
// clock's cache line, which every read-write commit writes; on a 16-core
// Xeon VM each such read is a cross-core transfer that queues behind the
// other cores' commits, and it was a third of the traffic on the line.
// Step 4 costs a store to this participant's own line instead. And there
// is no retry loop, so Acquire is wait-free even while commits stream by.
func (s *Slot) Acquire() uint64 {
	s1 := max(s.last, s.d.wm.Load()) // (1)
	s.w.Store(s1 + 1)                // (2) publishes the lower bound s1 to watermark scans
	chaos.Yield("mvcc.slot.announced")
	snap := s.d.clock.Load() // (3)
	if snap != s1 {
		s.w.Store(snap + 1) // (4) publishes the exact snapshot
	}
	s.last = snap
	return snap
}

// Release ends the snapshot begun by Acquire. The store publishes "no
// snapshot" and, to the watermark scan that observes it, every read this
// participant made of version nodes (that edge orders the reads before any
// reuse of those nodes by the pool).
func (s *Slot) Release() { s.w.Store(0) }

// Active reports whether the slot holds a snapshot.
func (s *Slot) Active() bool { return s.w.Load() != 0 }

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
