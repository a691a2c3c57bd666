package lockfree

import (
	"math/bits"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/substrate-lab/substrate/internal/cacheline"
)

// groupSlots is the number of slots in a group: 7 tag bytes plus one control
// byte make the 8-byte metadata word, and with 8-byte keys a group is
// exactly one 64-byte cache line (8 + 7*8), the CLHT bucket size.
const groupSlots = 7

// Metadata word layout (little-endian bytes):
//
//	byte 0..6  slot tags: tagEmpty, tagDeleted, or 0x80|h7 for a full slot
//	byte 7     control: ctrlLock (a writer holds the group), ctrlFrozen
//	           (the table is being replaced; the group is read-only forever)
const (
	tagEmpty   = 0x00
	tagDeleted = 0x01
	tagFull    = 0x80 // full tags have the high bit set; the low 7 bits are hash bits

	ctrlLock   uint64 = 1 << 56
	ctrlFrozen uint64 = 1 << 57

	laneLo  uint64 = 0x0001010101010101 // one in the low bit of each tag byte
	laneHi  uint64 = 0x0080808080808080 // the high bit of each tag byte
	lane7f  uint64 = 0x7f7f7f7f7f7f7f7f
	tagBits uint64 = 0x00ffffffffffffff
)

// zeroLanes returns the high bit of every tag byte of x that is zero (SWAR,
// exact: no false positives from borrows, unlike the (x-lo)&^x&hi variant).
func zeroLanes(x uint64) uint64 {
	y := (x & lane7f) + lane7f
	return ^(y | x | lane7f) & laneHi
}

// matchTag returns the high bit of every slot whose tag equals tag.
func matchTag(meta uint64, tag uint8) uint64 {
	return zeroLanes(meta ^ (laneLo * uint64(tag)))
}

// emptyLanes returns the high bit of every empty slot.
func emptyLanes(meta uint64) uint64 { return zeroLanes(meta) }

// fullLanes returns the high bit of every full slot.
func fullLanes(meta uint64) uint64 { return meta & laneHi }

// laneSlot converts a lane bit (from the functions above) to a slot index.
func laneSlot(lanes uint64) int { return bits.TrailingZeros64(lanes) >> 3 }

// tagAt returns slot s's tag.
func tagAt(meta uint64, s int) uint8 { return uint8(meta >> (8 * s)) }

// withTag returns meta with slot s's tag set to tag.
func withTag(meta uint64, s int, tag uint8) uint64 {
	return meta&^(0xff<<(8*s)) | uint64(tag)<<(8*s)
}

// group is one probe unit: a metadata word and seven write-once key slots.
// Values live in the table's value array at index group*groupSlots+slot.
//
// Invariants:
//   - keys[s] is written once, before slot s's tag becomes full, by the
//     writer holding the group lock; it is never written again while the
//     table lives (deleted slots are not reused: a table rebuild reclaims
//     them). So a reader that saw a full tag through meta.Load may read
//     keys[s] with a plain load: the atomic store that published the tag
//     happens before it.
//   - Only the holder of ctrlLock changes the tags; ctrlFrozen, once set by
//     the resizer (together with ctrlLock), is never cleared.
type group[K comparable] struct {
	meta atomic.Uint64
	keys [groupSlots]K
}

// lockResult is the outcome of tryLock.
type lockResult uint8

const (
	locked lockResult = iota
	busy              // another writer holds the group
	frozen            // the table is being replaced: wait for the new one
)

// tryLock makes one attempt at the group's writer lock. On success it
// returns the metadata word as it is now (ctrlLock included); while the lock
// is held nobody else changes it.
func (g *group[K]) tryLock() (uint64, lockResult) {
	m := g.meta.Load()
	if m&ctrlFrozen != 0 {
		return 0, frozen
	}
	// CAS publishes nothing; it only claims the group (acquire).
	if m&ctrlLock == 0 && g.meta.CompareAndSwap(m, m|ctrlLock) {
		return m | ctrlLock, locked
	}
	return 0, busy
}

// lock spins (then yields) until it holds the group's writer lock, or
// reports false if the group is frozen.
func (g *group[K]) lock() (uint64, bool) {
	for spins := 0; ; spins++ {
		m, r := g.tryLock()
		switch r {
		case locked:
			return m, true
		case frozen:
			return 0, false
		}
		backoff(spins)
	}
}

// unlock stores meta (the holder's current word) with the lock bit clear.
// The store publishes every key and value the holder wrote (release).
func (g *group[K]) unlock(meta uint64) { g.meta.Store(meta &^ ctrlLock) }

// freeze waits for the current writer, if any, then sets ctrlFrozen and
// ctrlLock for good: no writer will ever change this group again.
func (g *group[K]) freeze() {
	for spins := 0; ; spins++ {
		m := g.meta.Load()
		if m&ctrlLock == 0 && g.meta.CompareAndSwap(m, m|ctrlLock|ctrlFrozen) {
			return
		}
		backoff(spins)
	}
}

// backoff is the writers' wait: a short busy spin while the holder is
// probably running (group critical sections are a few stores long), then
// runtime.Gosched so that an oversubscribed holder (GOMAXPROCS above the
// core count) gets the processor instead of being spun against.
func backoff(spins int) {
	if spins < 8 {
		return
	}
	runtime.Gosched()
}

// table is one generation of the map's storage. A Map replaces its table
// wholesale on resize; a table is never resized in place.
//
// Exactly one of uvals and pvals is non-nil, chosen by the map's value mode.
// Every access to them is atomic (sync/atomic on the element address).
type table[K comparable] struct {
	groups []group[K]
	mask   uint64           // len(groups)-1; len(groups) is a power of two
	uvals  []uint64         // scalar mode: the bits of V
	pvals  []unsafe.Pointer // pointer mode: V itself; boxed mode: *V
	// maxUsed is the number of used slots (full or deleted) at which an
	// insert rebuilds the table first: 7/8 of the slots, the load factor of
	// Swiss tables and Go's runtime maps, whose 8-slot groups probe the same
	// way. 3/4 cost 39.3 B/entry at 100k uint64 entries (more than xsync's
	// 38.9) with no measurable gain in Load; 7/8 gives ~20-39 B/entry
	// depending on where the count falls between doublings. At least an
	// eighth of the slots stay empty, which keeps probes short.
	maxUsed int64

	_ cacheline.Pad128
	// used counts slots that were ever filled (full or deleted). Inserts
	// add to it; it never decreases within a table.
	used atomic.Int64
	_    cacheline.Pad128
	// deleted counts slots whose tag went from full to deleted.
	deleted atomic.Int64
	_       cacheline.Pad128
}

// newTable returns an empty table with n groups (n a power of two, >= 1).
func newTable[K comparable](n int, mode valueMode) *table[K] {
	t := &table[K]{
		groups:  make([]group[K], n),
		mask:    uint64(n - 1),
		maxUsed: int64(n * groupSlots * 7 / 8),
	}
	if t.maxUsed < 1 {
		t.maxUsed = 1
	}
	if mode == scalarMode {
		t.uvals = make([]uint64, n*groupSlots)
	} else {
		t.pvals = make([]unsafe.Pointer, n*groupSlots)
	}
	return t
}

// groupsFor returns the power-of-two group count that holds n entries at
// a load of at most one half, so a presized map takes n inserts (and as
// many again) before its first rebuild.
func groupsFor(n int) int {
	need := (2*n + groupSlots - 1) / groupSlots
	g := 1
	for g < need {
		g <<= 1
	}
	return g
}

// group returns group gi without a bounds check: gi is always masked with
// t.mask, so it is < len(t.groups) (the same argument as xsync's
// bucket indexing).
func (t *table[K]) group(gi uint64) *group[K] {
	return (*group[K])(unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.groups)), uintptr(gi)*unsafe.Sizeof(group[K]{})))
}

// home returns the index of h's home group. It uses the hash bits above the
// 7 tag bits, so tag and group are independent.
func (t *table[K]) home(h uint64) uint64 { return (h >> 7) & t.mask }

// tagOf returns h's full-slot tag.
func tagOf(h uint64) uint8 { return uint8(h&0x7f) | tagFull }
