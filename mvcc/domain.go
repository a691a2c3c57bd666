package mvcc

import (
	"math/bits"
	"math/rand/v2"
	"sync/atomic"

	"github.com/substrate-lab/substrate/arena"
	"github.com/substrate-lab/substrate/internal/cacheline"
)

// NumSlots is the number of fixed epoch slots in a [Domain]. Participants
// beyond it get overflow slots (see [Domain.NewSlot]); they work the same
// way and cost the watermark scan one pointer hop each.
const NumSlots = 256

// WatermarkEvery bounds the versions a hot record accumulates between
// watermark recomputations: a commit that gives one record its
// WatermarkEvery-th version in a clock tick recomputes it (see
// [Slot.NoteCommit]), so a hot key keeps up to about WatermarkEvery+2
// versions while no snapshot pins the watermark.
//
// Why 128 (32 before): each recomputation advances the clock, stores the
// watermark and scans the slots, a few cache-line transfers for every
// other core that commits, and committers of one hot record each trigger
// one every WatermarkEvery of their commits. Two workers each updating
// their own StateCell (Tier D contention/disjoint/2, 2-core VM, 1 s
// protocol, 5 alternating rounds, with the prune skip below in both
// arms) reached 1.63-1.91x one worker at 128 against 1.55-1.81x at 32
// (each worker 2.24-2.65M against 2.14-2.47M ops/s), 1.63-1.83x at 64.
// At 32 the chain walk of [Store.Install]'s prune stood in the
// way: it ran on every install and crossed up to WatermarkEvery versions,
// so 128 made a lone hot-key writer 11% slower; it now runs only when the
// watermark has moved since the record's last prune (docs/BENCHMARKS.md,
// "Hot records: prune only when the watermark moved"). The price is
// memory: a hot key may hold 130 versions instead of 34.
const WatermarkEvery = 128

// refreshEvery is how often, in its own commits, a participant considers
// recomputing the watermark (and advancing the clock) for the sake of node
// reuse, when no record is hot. Each recomputation costs every other core a
// few cache misses (the clock advance, the next commit's dirty mark, the
// watermark store, the slot scan), so it is kept rare: measured on the
// 2-core VM (bench engine_rmw_disjoint_parallel, 9 paired 150ms runs in
// windows where a no-shared-state probe showed two full cores, medians),
// -cpu 2 went from 100.6 ns/op at 32 commits to 96.8 at 128 (faster in 7
// of 9 pairs; -cpu 1 about 170 for both). Node reuse lags a period or two,
// which the pool's free lists absorb.
const refreshEvery = 128

// maxWatermarkEvery bounds the back-off of [Slot.NoteCommit] while the
// watermark is pinned by an old snapshot (recomputing cannot move it then).
const maxWatermarkEvery = 8 * refreshEvery

// SeqBits is the number of low bits of a version that order the versions of
// one record within one clock tick. A version is tick<<SeqBits | seq; a
// snapshot is the bound tick<<SeqBits | (1<<SeqBits - 1) and sees every
// version of that tick or an earlier one. 8 bits leave 55 bits of ticks:
// the clock ticks at most once per CAS on its line (tens of millions per
// second at the very most), which lasts decades.
const SeqBits = 8

const seqMask = 1<<SeqBits - 1

// bound is the snapshot that sees every version of tick t or earlier.
func bound(t uint64) uint64 { return t<<SeqBits | seqMask }

// Tick returns the clock tick of a version or snapshot (its bits above
// SeqBits).
func Tick(v uint64) uint64 { return v >> SeqBits }

// Domain is a versioning domain: the lazy commit clock, the epoch slots of
// its participants and the cached GC watermark. Every [Store] belongs to one
// Domain, and a transaction may span any stores of the same Domain.
//
// All methods are safe for concurrent use. Reading the clock, acquiring and
// releasing a snapshot, and Epoch/Safe allocate nothing; a read-write
// snapshot and Epoch/Safe are wait-free, a fresh snapshot is lock-free (a
// CAS loop that fails only while other acquirers advance the clock for it);
// the watermark recomputation is O(slots in use) and lock-free. A Domain is
// large (about 33 KB: every slot has its own 128-byte block) and must not be
// copied; create it with [NewDomain].
//
// Domain implements [arena.Epochs]: Epoch and Safe are both the cached
// watermark (see [Domain.Epoch] for why that is sound).
//
// # The clock
//
// The clock word is C = t<<1 | dirty, t the tick. Versions are
// tick<<SeqBits | seq, snapshots are bounds tick<<SeqBits | seqMask (see
// [SeqBits]). Commit versions are not unique: disjoint commits of one tick
// share versions, and only the versions along one record's chain strictly
// increase. Invariants (I1-I4 hold at every moment, in the total order Go's
// sync/atomic operations take):
//
//	I1. t+dirty never decreases.
//	I2. A commit that has returned, at version V, left C with dirty set and
//	    t >= Tick(V)-1, or clean and t >= Tick(V). Every later value of C
//	    keeps that: transitions only set dirty, raise t, or clear dirty
//	    while adding 1 to t.
//	I3. A commit takes its version after locking its write set, from the C
//	    value of its last access to C (a load, or its successful CAS):
//	    Tick(V) >= t(c)+1.
//	I4. Every version on a record's chain, and every version any committer
//	    is about to install, has Tick <= t+dirty (+1 for a committer that has
//	    loaded c but not yet raised it).
//
// Protocols, as numbered steps:
//
// Commit ([Domain.CommitVersion], called with the write set locked):
//
//  1. c := C.Load(); V := max((t(c)+1)<<SeqBits, floor), where floor is 1 +
//     the newest installed version of every record written (chains strictly
//     increase).
//  2. If c is clean, CAS it to dirty; if Tick(V)-1 > t(c) (a record's seqs
//     ran past the tick: more than 1<<SeqBits commits of one key in one
//     tick), CAS t up to Tick(V)-1, dirty. On CAS failure reload and redo
//     from 1. So while C is dirty and no record runs out of seqs, a commit
//     only reads C: the line stays shared in every core's cache and commits
//     of disjoint keys do not write any common line.
//
// Fresh snapshot ([Slot.Acquire]: read-only transactions, View):
//
//  1. c := C.Load(); while c is dirty, CAS it to (t(c)+1)<<1 (advance and
//     clean); on failure reload (another acquirer may have advanced it).
//  2. S := bound(t(c)) of the clean value established (by the successful
//     CAS, or by the load that found C clean).
//
// Why a fresh snapshot is consistent and fresh (strict serializability):
//
//  1. Let E be the event that established S (the CAS, or the load). A
//     commit whose last access to C came after E saw t >= t(S) (I1 and
//     clean at E), so by I3 Tick(V) >= t(S)+1 and V > S: it is invisible.
//  2. A commit with V <= S therefore accessed C before E, and locked its
//     write set before that (I3): before the reader read any record. The
//     reader meets each of its records either still locked, with the
//     pending version unknown, the committer's floor (a lower bound of V,
//     see [Domain.PendingFloor]) or V itself, so <= S, and waits for the
//     installation (see [Record.Read]), or installed. So it sees all of
//     the commit.
//  3. A commit that returned before the reader began left C as in I2; the
//     reader's step 1 either found C clean with t >= Tick(V) or advanced a
//     dirty t >= Tick(V)-1 by one: S >= bound(Tick(V)) >= V. It sees it.
//  4. Dependencies never run backwards in ticks: if T2 read, overwrote or
//     anti-depends on T1 (T1 read what T2 overwrote), T2 accessed C after
//     T1 did (after T1's install, lock release, or validation, each of
//     which follows T1's clock step), so Tick(V2) >= Tick(V1) by I2 and I3.
//     The commits a snapshot sees (all of tick <= t(S)) are therefore
//     closed under "serialized before", and two snapshots see nested sets.
//
// Read-write snapshot ([Slot.AcquireOptimistic]): S := bound(t(c)+dirty(c))
// with one load and no write. It includes the tick that commits are being
// made in now, so it sees every commit that returned before it (I2), but it
// may also see part of a commit that locked after it (a commit of tick
// t+1 that the reader meets installed on one record and not yet locked on
// another). That is the non-opacity Silo accepts: the read-write
// transaction validates every read at commit, so such a view never
// commits, and package txn re-runs a closure that failed on it. When C was
// clean the snapshot is as consistent as a fresh one (the reported
// consistent flag).
//
// Why not one atomic Add per commit (TL2 GV1, what this replaced): every
// read-write commit then wrote the clock's line and every Begin read it, two
// cross-core transfers per transaction that queued behind the other cores'
// commits. Measured on the project's 2-core VM (AMD EPYC, Go 1.26.8,
// bench engine_rmw_disjoint_parallel, -benchtime 300ms -count 3, rounds
// interleaving old and new code, ns per transaction):
//
//	                         -cpu 1    -cpu 2    speed-up
//	GV1 clock.Add            161-176   220-397   about 0.55x (slower)
//	lazy clock (this)        168-181   106-117   about 1.6x (1.79x in the
//	                                             VM's best windows)
//
// with clock.Add, clock loads in Slot.Acquire and the pool's Epoch taking
// about 50% of a -cpu 2 CPU profile before, and the clock under 1% after
// (more figures, and the other shared lines found on the way, in
// docs/ARCHITECTURE.md, Tier A1). GV4 (CAS, reuse the winner's value) is
// no better (BenchmarkClockGV1Add/GV4CAS in domain_test.go: 13.2 vs 15.8 ns
// per version at 2 cores). Plain GV5 (commit at clock+2, never written) loses
// freshness: a snapshot begun after a commit returned could miss it. The
// dirty bit is what restores it: fresh snapshots pay the shared write
// (one CAS, only when a commit happened since the last advance), commits
// do not.
//
// # Version GC
//
// See [Domain.RefreshWatermark] and [Store.Install]; the reclamation
// argument is on [Domain.Epoch].
//
// Pedigree: TL2's versioned write locks and GV5 clock (Dice, Shalev, Shavit,
// DISC'06); Silo's commit protocol and TIDs (epoch, sequence; Tu et al.,
// SOSP'13); snapshot extension from LSA and TinySTM (Riegel, Felber, Fetzer;
// Felber, Fetzer, Riegel, PPoPP'08); Fraser's epoch-based reclamation, with
// per-participant slots that hold a snapshot version rather than an epoch
// counter, as in Hekaton's oldest-active-transaction GC.
type Domain struct {
	_ cacheline.Pad128

	// clock is the clock word C = t<<1 | dirty (see the type comment).
	// Read by every snapshot and commit; written by a commit only when C
	// is clean or a record ran out of seqs, by a fresh snapshot only when
	// C is dirty, and by a watermark refresh (an advance, like a fresh
	// snapshot's).
	clock cacheline.PaddedUint64

	// wm is the cached watermark: a lower bound on every active and future
	// snapshot, always a bound (or 0 before the first refresh). It only
	// grows (CAS-max in RefreshWatermark). Loads of it acquire the slot
	// releases observed by the scan that produced it, which is what orders
	// a reader's last read of a version node before the node's reuse by
	// the pool. Read by every snapshot and install; written once per
	// refresh that moves it.
	wm cacheline.PaddedUint64

	// slots are the fixed epoch slots (see slotWords for their protocol).
	// Only a slot's owner stores to it.
	slots [NumSlots]slotWords

	// owned is the ownership bitmap of slots: bit i set while slots[i] is
	// owned by a participant. Written only when a participant is created or
	// closed (rare), read by the watermark scan.
	owned [NumSlots / 64]atomic.Uint64

	// overflow is a lock-free list (push-only, never unlinked) of extra
	// slots for participants beyond NumSlots. A node's next is written
	// before the CAS that publishes it and never again.
	overflow  atomic.Pointer[overflowSlot]
	overflowN atomic.Int64 // nodes in the overflow list
	// sweepers is a push-only list of weak references to the stores of
	// the domain (hashed and dense), swept for removable records after watermark
	// refreshes. graves is true while some store may hold graves: set by
	// Entomb when it pushes onto an empty list, and by a sweep that leaves
	// work; cleared by Domain.sweep before it walks the stores. Without it
	// every refresh walked every store's lines (tens in a prims DB).
	sweepers  atomic.Pointer[sweeper]
	graves    atomic.Bool
	nextStore atomic.Uint64 // store ids
	refreshes atomic.Uint64 // watermark recomputations, for Stats
}

// slotWords is one epoch slot's shared memory, alone in a 128-byte block.
//
// Invariants: act is odd exactly while the owner holds a snapshot, and
// then w holds a+1, a a lower bound of that snapshot (a bound at or below
// it). w is written before act first turns odd and after that only raised,
// so a+1 stays a lower bound of every later snapshot of the owner (its
// snapshots never decrease, I1). Only the owner writes either word; the
// watermark scan reads act, then w.
//
// Why two words and not one (0 idle, a+1 active, as before): with the
// announcement left in place between snapshots, taking a snapshot writes
// one shared word (act) instead of two (announce; release), and act, which
// goes up by one at every Acquire and every Release, also numbers the
// owner's snapshots, so package txn uses it as its transaction generation
// instead of bumping a third word. A read-only transaction went from three
// full fences (XCHG, XCHG, LOCK XADD: Go has no release-only store) to two
// (LOCK XADD at Acquire and Release), plus one store when the clock has
// moved since the owner's previous snapshot.
type slotWords struct {
	act atomic.Uint64
	w   atomic.Uint64
	_   [cacheline.PadSize - 16]byte
}

// announced returns the slot's announcement a+1 if its owner holds a
// snapshot now, else 0. It reads act before w: a scan that finds act odd
// and then reads a w raised by a later snapshot of the owner still gets a
// lower bound of that later snapshot, and that w store is ordered after the
// owner's Release of the snapshot it saw active.
func (sw *slotWords) announced() uint64 {
	if sw.act.Load()&1 == 0 {
		return 0
	}
	return sw.w.Load()
}

// overflowSlot is one extra epoch slot in a Domain's overflow list.
type overflowSlot struct {
	w     slotWords     // same protocol as Domain.slots
	owned atomic.Bool   // claimed by a participant
	next  *overflowSlot // immutable once published
}

// NewDomain returns a Domain whose clock is at tick 0, clean, and whose
// slots are all free.
func NewDomain() *Domain {
	return new(Domain)
}

// Now returns bound(t+dirty) of the clock: every commit that has returned
// has a version <= Now() (I2), and so does every version installed so far
// (I4, once the installing committer has taken its clock step). It is a
// valid snapshot only when published through a [Slot].
func (d *Domain) Now() uint64 {
	c := d.clock.Load()
	return bound(c>>1 + c&1)
}

// CommitVersion is the commit clock step (steps 1-2 of "Commit" in the
// Domain comment): it returns the version V of a commit whose caller holds
// the locks of its whole write set, with floor = 1 + the newest installed
// version among those records (0 for none). V >= floor, V is above every
// snapshot acquired before the caller's last access to the clock (the
// snapshot comparison of the fresh-snapshot argument), and C is left dirty
// with t >= Tick(V)-1 (I2). In the common case (C already dirty, no record
// out of seqs) it is one load of the clock's line and no write.
func (d *Domain) CommitVersion(floor uint64) uint64 {
	c := d.clock.Load() // (1)
	for {
		t := c >> 1
		v := max((t+1)<<SeqBits, floor)
		want := c | 1
		if vt := v >> SeqBits; vt-1 > t {
			want = (vt-1)<<1 | 1 // a record ran out of seqs: raise t
		}
		// (2) publishes nothing but the clock value; the commit's own
		// writes are published by its installs and unlocks.
		if want == c || d.clock.CompareAndSwap(c, want) {
			return v
		}
		c = d.clock.Load()
	}
}

// PendingFloor returns a lower bound of the version that a later
// [Domain.CommitVersion] call returns: (t+1)<<SeqBits for the clock's tick
// t now. Ticks never decrease, and CommitVersion returns at least
// (t'+1)<<SeqBits for the tick t' >= t it reads. A committer reads it
// before locking and locks with it ([Record.TryLockAt]).
func (d *Domain) PendingFloor() uint64 { return (d.clock.Load()>>1 + 1) << SeqBits }

// NextVersion takes a version above every version installed or being
// installed on a record the caller has locked, and above every snapshot
// acquired so far, and marks the clock dirty so that later fresh snapshots
// see it (it raises t by one when C was already dirty). It is the slow,
// always-writing form of [Domain.CommitVersion] for single-record tools and
// tests (lock, NextVersion, SetPending, Install, Unlock); package txn uses
// CommitVersion.
func (d *Domain) NextVersion() uint64 {
	c := d.clock.Load()
	for {
		t := c>>1 + c&1
		// Publishes nothing but the clock value.
		if want := t<<1 | 1; want == c || d.clock.CompareAndSwap(c, want) {
			return (t + 1) << SeqBits
		}
		c = d.clock.Load()
	}
}

// fresh is steps 1-2 of "Fresh snapshot" in the Domain comment.
func (d *Domain) fresh() uint64 {
	c := d.clock.Load()
	for c&1 != 0 {
		n := (c>>1 + 1) << 1
		// Publishes nothing but the clock value (the advance).
		if d.clock.CompareAndSwap(c, n) {
			c = n
			break
		}
		c = d.clock.Load()
	}
	return bound(c >> 1)
}

// optimistic is the read-write snapshot: bound(t+dirty), and whether C was
// clean (then the snapshot is as consistent as a fresh one).
func (d *Domain) optimistic() (uint64, bool) {
	c := d.clock.Load()
	return bound(c>>1 + c&1), c&1 == 0
}

// Epoch implements [arena.Epochs]: the cached watermark. A version node
// retired now is tagged with it; the store's pool reuses the node once
// Safe() (the watermark, later) exceeds the tag.
//
// Why the watermark is a sound epoch (the clock is not: a commit-only
// workload never moves it). Let x be unlinked by a prune that used
// watermark W (so some version y above x on the chain has y.ver <= W) and
// tagged e >= W, and let R be a reader holding x, with snapshot S and
// announced value a <= S. R found x by a walk that started at the head
// after R checked the record's lock. Either y was on the chain when R walked
// (R went past it, so y.ver > S), or y was locked after R's lock check (a
// lock held at the check with a pending version <= S would have made R
// wait; one above S means y.ver > S), so y's committer accessed the clock
// after R's snapshot load and Tick(y.ver) >= t0+1, t0 the tick R loaded,
// while S <= bound(t0+1). Both ways S <= bound(Tick(y.ver)) <= W <= e
// (W is a bound). Now any scan that produced a watermark > e read R's
// activity word after R released it, or found it active and then read an
// announcement raised by a later snapshot of R's owner (after R's release
// in the owner's program order): while R was active the announcement was
// a+1 <= e+1, and a scan that read the activity word before R's Acquire
// had loaded the clock before R's snapshot load, so its result is <= S <=
// e too (I1). The release (or the later raise), that scan's load of it,
// its CAS on wm and the pool's load of wm order R's last read of x before
// the reuse. The same holds for validation's loads of heads installed after
// R's read.
func (d *Domain) Epoch() uint64 { return d.wm.Load() }

// Safe implements [arena.Epochs]: the cached watermark (see Epoch).
func (d *Domain) Safe() uint64 { return d.wm.Load() }

// Advance implements [arena.Advancer]: it recomputes the watermark
// ([Domain.RefreshWatermark], which also advances a dirty clock). A version
// pool calls it when its free list is empty while retired nodes wait, so
// that node reuse never waits for the periodic refresh of [Slot.NoteCommit]:
// without it, a committer whose refresh came late (its period doubled, or
// skipped because another participant had just refreshed) drained its
// pool's free list and allocated until the next refresh (measured: 145-194
// allocations in about 400,000 puts of engine_put_noalloc, in 3 runs of 20
// on the 2-core VM). Safe to call from Store.Install: it takes no lock and
// touches no record.
func (d *Domain) Advance() { d.refresh() }

var (
	_ arena.Epochs   = (*Domain)(nil)
	_ arena.Advancer = (*Domain)(nil)
)

// Watermark returns the cached watermark without recomputing it: a lower
// bound on every active and future snapshot, possibly stale (lower than
// necessary).
func (d *Domain) Watermark() uint64 { return d.wm.Load() }

// NoteCommit recomputes the watermark now (it is [Domain.RefreshWatermark]).
// It is the slow form for committers without a [Slot] (tools, tests); with
// a Slot use [Slot.NoteCommit], which counts commits per participant and
// recomputes only when needed. v is ignored (commit versions no longer
// count commits).
func (d *Domain) NoteCommit(v uint64) {
	_ = v
	d.RefreshWatermark()
}

// RefreshWatermark advances the clock if it is dirty, recomputes the
// watermark and returns it. It is lock-free and O(slots in use + overflow
// slots).
//
// Steps:
//  1. c := C.Load(); if c is dirty, CAS it to clean t+1 (one try; reload on
//     failure). This is the periodic advance that keeps version GC and node
//     reuse going when no fresh snapshot advances the clock (a
//     commit-only workload): it is Silo's epoch advance, done by whichever
//     participant refreshes, at most once per refresh period.
//  2. b := bound(t(c)+dirty(c)). Every future snapshot is >= b: read-write
//     snapshots are bound(t+dirty) and fresh ones bound(t) of a clean C,
//     and t+dirty only grows (I1).
//  3. w := min(b, a for every slot holding a+1): the fixed slots named by
//     the ownership bitmap, then the overflow list. A snapshot whose
//     announcement this scan missed loaded the clock after step 1, so it
//     is >= b (see Slot.Acquire).
//  4. Raise the cached value to w with a CAS-max loop. Concurrent
//     recomputations may finish out of order; each result is a valid lower
//     bound for ever after, so keeping the maximum is safe.
func (d *Domain) RefreshWatermark() uint64 {
	w, _ := d.refresh()
	return w
}

// refresh is RefreshWatermark; it also returns the clock bound b of step 2.
func (d *Domain) refresh() (wm, b uint64) {
	c := d.clock.Load() // (1)
	if c&1 != 0 {
		n := (c>>1 + 1) << 1
		// Publishes nothing but the clock value (the advance).
		if d.clock.CompareAndSwap(c, n) {
			c = n
		} else {
			c = d.clock.Load()
		}
	}
	d.refreshes.Add(1)
	b = bound(c>>1 + c&1) // (2)
	w := b
	for i := range d.owned { // (3)
		for m := d.owned[i].Load(); m != 0; m &= m - 1 {
			if v := d.slots[i*64+bits.TrailingZeros64(m)].announced(); v != 0 && v-1 < w {
				w = v - 1
			}
		}
	}
	for o := d.overflow.Load(); o != nil; o = o.next {
		if v := o.w.announced(); v != 0 && v-1 < w {
			w = v - 1
		}
	}
	for { // (4)
		cur := d.wm.Load()
		if w <= cur {
			return cur, b
		}
		// Publishes w: every slot scanned above held a value >= w+1 or 0.
		if d.wm.CompareAndSwap(cur, w) {
			return w, b
		}
	}
}

// NewSlot registers a participant and returns its epoch slot. It claims a
// free fixed slot, or, when all NumSlots are owned, a free overflow slot, or
// pushes a new overflow slot; it never blocks and never fails. The caller
// owns the slot until [Slot.Close]. Creating slots is meant to be rare
// (package txn creates one per pooled transaction object), so it may
// allocate when it overflows.
func (d *Domain) NewSlot() Slot {
	for i := range d.owned {
		if s, ok := d.claimFixed(i, false); ok {
			return s
		}
	}
	return d.newOverflowSlot()
}

// claimFixed claims the lowest (or, with highest, the highest) free fixed
// slot among the 64 of d.owned[i]; false if all of them are owned.
func (d *Domain) claimFixed(i int, highest bool) (Slot, bool) {
	for {
		m := d.owned[i].Load()
		if m == ^uint64(0) {
			return Slot{}, false
		}
		b := bits.TrailingZeros64(^m)
		if highest {
			b = 63 - bits.LeadingZeros64(^m)
		}
		// Claims slot i*64+b for the caller.
		if d.owned[i].CompareAndSwap(m, m|1<<b) {
			idx := i*64 + b
			return d.slot(Slot{sw: &d.slots[idx], idx: idx}), true
		}
	}
}

// NewSharedSlot is NewSlot for a slot that its owner will share among
// goroutines through [Slot.TryAcquire] (package txn: its read-only
// transactions). It claims the highest free fixed slot rather than the
// lowest, leaving the low ones, whose owners get private node stocks in
// [Store.InstallOwned], to committers; and it announces one snapshot and
// releases it, which TryAcquire needs. Share the returned value by
// pointer, never by copy.
func (d *Domain) NewSharedSlot() Slot {
	s, ok := Slot{}, false
	for i := len(d.owned) - 1; i >= 0 && !ok; i-- {
		s, ok = d.claimFixed(i, true)
	}
	if !ok {
		s = d.newOverflowSlot()
	}
	s.Acquire() // the announcement TryAcquire needs
	s.Release()
	return s
}

// newOverflowSlot is NewSlot when every fixed slot is owned.
func (d *Domain) newOverflowSlot() Slot {
	for o := d.overflow.Load(); o != nil; o = o.next {
		// Claims a free overflow slot.
		if !o.owned.Load() && o.owned.CompareAndSwap(false, true) {
			return d.slot(Slot{sw: &o.w, idx: -1, ov: o})
		}
	}
	o := &overflowSlot{}
	o.owned.Store(true)
	for {
		head := d.overflow.Load()
		o.next = head
		// Publishes o, with its next and its owned flag, to scanners.
		if d.overflow.CompareAndSwap(head, o) {
			break
		}
	}
	d.overflowN.Add(1)
	return d.slot(Slot{sw: &o.w, idx: -1, ov: o})
}

// slot finishes a Slot for NewSlot. The refresh state starts at a random
// phase of the period and at the current watermark, so that participants
// that live for only a few commits each (transaction objects dropped by
// sync.Pool at a GC, or at random under the race detector) still refresh
// about once per refreshEvery commits between them (see Slot.NoteCommit).
func (d *Domain) slot(s Slot) Slot {
	s.d = d
	s.every = refreshEvery
	s.commits = rand.IntN(refreshEvery)
	s.seenWM = d.wm.Load()
	return s
}

// DomainStats is a momentary picture of a Domain, for metrics and tests.
type DomainStats struct {
	Clock     uint64 // Now(): a bound on every version committed so far
	Watermark uint64 // freshly recomputed watermark

	// ActiveSnapshots is the number of slots holding a snapshot now.
	ActiveSnapshots int
	// OldestSnapshot is the lowest active snapshot (announced value; valid
	// when ActiveSnapshots > 0) and OldestSnapshotAge is the number of
	// clock ticks since it: Tick(Clock) - Tick(OldestSnapshot). The clock
	// ticks at least once per watermark refresh period while commits
	// happen (every refreshEvery commits of a participant, backing off
	// to maxWatermarkEvery while the watermark is pinned) and whenever a
	// fresh snapshot follows a commit, so a figure that only grows points
	// at a forgotten snapshot. Commits no longer advance the clock one by
	// one, so it is not a count of commits.
	OldestSnapshot    uint64
	OldestSnapshotAge uint64

	SlotsInUse    int    // fixed slots owned by participants
	OverflowSlots int    // overflow slots ever created (all of them are scanned)
	Refreshes     uint64 // watermark recomputations so far
}

// Stats recomputes the watermark and returns the Domain's figures. It is
// O(slots) and meant for metrics, not for hot paths.
func (d *Domain) Stats() DomainStats {
	wm := d.RefreshWatermark()
	s := DomainStats{Clock: d.Now(), Watermark: wm, Refreshes: d.refreshes.Load()}
	oldest := ^uint64(0)
	note := func(v uint64) {
		if v != 0 {
			s.ActiveSnapshots++
			oldest = min(oldest, v-1)
		}
	}
	for i := range d.owned {
		m := d.owned[i].Load()
		s.SlotsInUse += bits.OnesCount64(m)
		for ; m != 0; m &= m - 1 {
			note(d.slots[i*64+bits.TrailingZeros64(m)].announced())
		}
	}
	for o := d.overflow.Load(); o != nil; o = o.next {
		note(o.w.announced())
	}
	s.OverflowSlots = int(d.overflowN.Load())
	if s.ActiveSnapshots > 0 {
		s.OldestSnapshot = oldest
		if s.Clock > oldest {
			s.OldestSnapshotAge = Tick(s.Clock) - Tick(oldest)
		}
	}
	return s
}
