package txn

import (
	"math/bits"

	"github.com/substrate-lab/substrate/internal/cacheline"
	"github.com/substrate-lab/substrate/internal/chaos"
	"github.com/substrate-lab/substrate/mvcc"
)

// linearMax is the write-set size up to which read-your-own-writes lookups
// scan the write slice; beyond it a map index is kept (and reused).
const linearMax = 16

// maxRetainedCap bounds the capacity of the slices a participant keeps
// across transactions; a transaction that grew one past it leaves it to the
// GC instead of pinning it in the pool.
const maxRetainedCap = 4096

// storeTx is one store's typed part of a transaction: writes stay typed (no
// boxing of V into any), and the commit protocol reaches it through the
// participant interface. It is cached in the pooled txState, so steady-state
// transactions allocate nothing.
//
// Layout: the owner writes the slice headers, nlocked and the first
// entries of its write and read sets every transaction, while other
// goroutines do the same to their own storeTx objects, which the allocator
// may have placed right next to this one. So the hot fields sit together
// between two 128-byte pads (cacheline.PadSize: the adjacent-line
// prefetcher pairs lines), and the first entries live inline (wbuf, rbuf),
// not in small heap arrays that could share a line with another
// goroutine's. The same change on txState halved -cpu 2 times (see there);
// on storeTx it made no measurable difference in bench
// engine_rmw_disjoint_parallel (8 interleaved rounds, -cpu 2 median about
// 112 ns/op either way: there the participants were not neighbours), and it
// is kept so that they never are.
type storeTx[K comparable, V any] struct {
	_ cacheline.Pad128
	s *mvcc.Store[K, V]

	// writes is the buffered write set, one entry per key (find dedups),
	// so commit never locks a record twice. It starts in wbuf.
	writes []writeEntry[K, V]
	// reads are the records read from the store with the version seen. It
	// starts in rbuf.
	reads []readEntry[V]
	// absent are the partition counters watched by reads of keys that had
	// no record at all.
	absent []absentEntry
	// nlocked is the number of writes (a prefix) whose records lock holds.
	nlocked int
	// scanMask has bit i set once a scan of this transaction covered
	// partition i; scan[i] is that partition's counter, read before the
	// first such scan looked at the map.
	scanMask uint64
	// lastK and lastR are the key and record of the newest read that found
	// a record (lastR nil: none since reset). Put of that key, the common
	// read-modify-write shape, takes the record from here instead of a
	// second hash and map lookup (LoadOrCreate). A record removed from its
	// store meanwhile (mvcc.Store.Entomb) is locked for ever, so a write
	// through a stale pair fails to lock at commit and the transaction
	// retries: the pair stays safe for the transaction.
	lastK K
	lastR *mvcc.Record[V]
	wbuf  [inlineWrites]writeEntry[K, V]
	rbuf  [inlineReads]readEntry[V]
	// writesOnHeap and readsOnHeap report that writes and reads had left
	// wbuf and rbuf by the previous reset (which zeroed the copies they
	// left there); see resetSlice.
	writesOnHeap, readsOnHeap bool

	// Cold: used only by large write sets and scans.
	// widx indexes writes by key once len(writes) > linearMax.
	widx map[K]int32
	// held indexes the records of writes by pointer, built by holds only
	// when validation meets a locked record read and the write set is
	// past linearMax; reused across transactions.
	held map[*mvcc.Record[V]]struct{}
	scan [mvcc.Partitions]uint64
	_    cacheline.Pad128
}

// inlineWrites and inlineReads are the write and read entries a storeTx
// holds inline before its sets move to the heap.
const (
	inlineWrites = 2
	inlineReads  = 4
)

// newStoreTx returns an empty participant for store s.
func newStoreTx[K comparable, V any](s *mvcc.Store[K, V]) *storeTx[K, V] {
	p := &storeTx[K, V]{s: s}
	p.writes = p.wbuf[:0]
	p.reads = p.rbuf[:0]
	return p
}

type writeEntry[K comparable, V any] struct {
	k      K
	r      *mvcc.Record[V]
	v      V
	tomb   bool // a delete
	bumped bool // this commit bumped r's partition counter (at lock time)
}

type readEntry[V any] struct {
	r   *mvcc.Record[V]
	ver uint64 // version returned to the reader (0: no version <= snapshot)
}

type absentEntry struct {
	part int
	cnt  uint64
}

// partOf returns the participant of store s in st, attaching one (from the
// cache, or new) on first use in this transaction. It returns nil and
// poisons st if s belongs to another engine or is nil.
//
// Store ids are unique only within a Domain, so the domain check comes
// first; after it, an id names exactly one store, whose participant has
// exactly this K and V.
func partOf[K comparable, V any](st *txState, s *mvcc.Store[K, V]) *storeTx[K, V] {
	if s.Domain() != st.e.d {
		st.err = ErrForeignStore
		return nil
	}
	id := s.ID()
	for _, a := range st.active {
		if a.id == id {
			return a.p.(*storeTx[K, V])
		}
	}
	var p *storeTx[K, V]
	for _, a := range st.cache {
		if a.id == id {
			p = a.p.(*storeTx[K, V])
			break
		}
	}
	if p == nil {
		if len(st.cache) >= maxCachedParts {
			clear(st.cache)
			st.cache = st.cache[:0]
		}
		p = newStoreTx(s)
		st.cache = append(st.cache, activePart{id: id, p: p})
	}
	st.active = append(st.active, activePart{id: id, p: p})
	return p
}

// find returns the index of k's write entry, or -1.
func (p *storeTx[K, V]) find(k K) int {
	if len(p.writes) > linearMax {
		if i, ok := p.widx[k]; ok {
			return int(i)
		}
		return -1
	}
	for i := range p.writes {
		if p.writes[i].k == k {
			return i
		}
	}
	return -1
}

// addWrite appends a write entry for a key not yet in the write set.
func (p *storeTx[K, V]) addWrite(w writeEntry[K, V]) {
	p.writes = append(p.writes, w)
	n := len(p.writes)
	switch {
	case n == linearMax+1:
		if p.widx == nil {
			p.widx = make(map[K]int32, 2*linearMax)
		}
		for i := range p.writes {
			p.widx[p.writes[i].k] = int32(i)
		}
	case n > linearMax+1:
		p.widx[w.k] = int32(n - 1)
	}
}

// read reads k at the transaction's snapshot and records what it saw for
// validation. r is k's record (nil if k has none).
//
// Absent keys: when k has no record, the partition counter is read first and
// the map looked up again; if there is still no record, the counter is
// watched. Any record for k created after that second lookup belongs to an
// inserter that bumps the counter later (at its lock time), so validation
// sees the bump if that inserter committed first.
func (p *storeTx[K, V]) read(st *txState, k K) (v V, ok bool, r *mvcc.Record[V]) {
	r = p.s.Lookup(k)
	if r == nil {
		part := p.s.PartitionOf(k)
		cnt := p.s.Counter(part)
		if r = p.s.Lookup(k); r == nil {
			p.absent = append(p.absent, absentEntry{part: part, cnt: cnt})
			return v, false, nil
		}
	}
	p.lastK, p.lastR = k, r
	v, ok = p.readRecord(st, r)
	return v, ok, r
}

// record returns k's record for a write: the one the last read found, when
// it read k, else the store's (created if absent).
func (p *storeTx[K, V]) record(k K) *mvcc.Record[V] {
	if p.lastR != nil && p.lastK == k {
		return p.lastR
	}
	return p.s.LoadOrCreate(k)
}

// readRecord reads r at the transaction's snapshot, extending the snapshot
// when r has a version installed above it (a read that could never
// validate), and joins r to the read set with the version returned.
func (p *storeTx[K, V]) readRecord(st *txState, r *mvcc.Record[V]) (V, bool) {
	v, ver, ok, stale := r.ReadAt(st.snapshot())
	for stale && st.extend() {
		v, ver, ok, stale = r.ReadAt(st.snap)
	}
	p.reads = append(p.reads, readEntry[V]{r: r, ver: ver})
	return v, ok
}

func (p *storeTx[K, V]) precheck() error {
	for i := range p.reads {
		if rd := &p.reads[i]; rd.r.HeadVersion() != rd.ver {
			return errReadStale
		}
	}
	return p.checkCounters()
}

// checkCounters reports errPhantom if a watched counter moved (for a
// transaction that has bumped none itself).
func (p *storeTx[K, V]) checkCounters() error {
	for _, a := range p.absent {
		if p.s.Counter(a.part) != a.cnt {
			return errPhantom
		}
	}
	for m := p.scanMask; m != 0; m &= m - 1 {
		if i := bits.TrailingZeros64(m); p.s.Counter(i) != p.scan[i] {
			return errPhantom
		}
	}
	return nil
}

// check is the participant's check (see participant): the transaction
// holds no locks, so any lock on a record read is another committer's.
// The lock is checked before the head, as in validate.
func (p *storeTx[K, V]) check() error {
	for i := range p.reads {
		rd := &p.reads[i]
		if rd.r.Lock() != 0 {
			return errReadLocked
		}
		if rd.r.HeadVersion() != rd.ver {
			return errReadStale
		}
	}
	return p.checkCounters()
}

// watch records the counters of the partitions in mask not yet watched. It
// runs before the scan looks at the map (see mvcc.Store).
func (p *storeTx[K, V]) watch(mask uint64) {
	for m := mask &^ p.scanMask; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		p.scan[i] = p.s.Counter(i)
	}
	p.scanMask |= mask
}

func (p *storeTx[K, V]) lock(low uint64) (floor uint64, ok bool) {
	for i := range p.writes {
		w := &p.writes[i]
		if !w.r.TryLockAt(low) {
			return 0, false
		}
		p.nlocked++
		// The head cannot change while we hold the lock.
		floor = max(floor, w.r.HeadVersion()+1)
		// Existence changes: an insert where the head is absent or a
		// tombstone, a delete where it is a value.
		if w.tomb == w.r.Live() {
			p.s.Bump(w.r.Partition())
			w.bumped = true
		}
	}
	return floor, true
}

// writesRemoved reports whether a record of the write set has been removed
// from the store (see scan).
func (p *storeTx[K, V]) writesRemoved() bool {
	for i := range p.writes {
		if p.writes[i].r.Removed() {
			return true
		}
	}
	return false
}

func (p *storeTx[K, V]) publish(v uint64) {
	for i := range p.writes {
		p.writes[i].r.SetPending(v)
	}
}

// holds reports whether r is in the write set, i.e. whether this committer
// holds r's lock during validation. Commit versions are shared, so the lock
// word cannot say; the write set can. Up to linearMax writes it compares
// pointers; beyond, it indexes the write set once per transaction.
func (p *storeTx[K, V]) holds(r *mvcc.Record[V]) bool {
	if len(p.writes) <= linearMax {
		for i := range p.writes {
			if p.writes[i].r == r {
				return true
			}
		}
		return false
	}
	if len(p.held) == 0 {
		if p.held == nil {
			p.held = make(map[*mvcc.Record[V]]struct{}, len(p.writes))
		}
		for i := range p.writes {
			p.held[p.writes[i].r] = struct{}{}
		}
	}
	_, ok := p.held[r]
	return ok
}

// ownBumps returns how many times this commit bumped partition part.
func (p *storeTx[K, V]) ownBumps(part int) uint64 {
	var n uint64
	for i := range p.writes {
		if p.writes[i].bumped && p.writes[i].r.Partition() == part {
			n++
		}
	}
	return n
}

// validate is commit step 3 for this store.
//
// Reading the head of a record this transaction does not hold is safe
// against node reuse: see mvcc.Domain.Epoch (a head installed after this
// transaction's read of the record is unlinked only by a version whose
// committer took its clock step after that read, and the pool does not
// reuse it while this transaction's slot announces its snapshot). precheck
// and check rely on the same argument.
func (p *storeTx[K, V]) validate() error {
	for i := range p.reads {
		rd := &p.reads[i]
		if rd.r.Lock() != 0 && !p.holds(rd.r) {
			return errReadLocked
		}
		if rd.r.HeadVersion() != rd.ver {
			return errReadStale
		}
	}
	for _, a := range p.absent {
		if p.s.Counter(a.part) != a.cnt+p.ownBumps(a.part) {
			return errPhantom
		}
	}
	if p.scanMask != 0 {
		var own [mvcc.Partitions]uint64
		for i := range p.writes {
			if p.writes[i].bumped {
				own[p.writes[i].r.Partition()]++
			}
		}
		for m := p.scanMask; m != 0; m &= m - 1 {
			if i := bits.TrailingZeros64(m); p.s.Counter(i) != p.scan[i]+own[i] {
				return errPhantom
			}
		}
	}
	return nil
}

func (p *storeTx[K, V]) install(v uint64, owner *mvcc.Slot) {
	for i := range p.writes {
		w := &p.writes[i]
		p.s.InstallOwned(w.r, v, w.v, w.tomb, owner)
		if w.tomb {
			p.s.Entomb(w.k, w.r) // the record goes once the watermark passes v
		}
		w.r.Unlock()
	}
	p.nlocked = 0
}

func (p *storeTx[K, V]) unlock() {
	for i := range p.nlocked {
		p.writes[i].r.Unlock()
	}
	p.nlocked = 0
}

func (p *storeTx[K, V]) reset() {
	if len(p.writes) > maxRetainedCap {
		p.widx = nil
		p.held = nil
	} else if len(p.writes) > linearMax {
		clear(p.widx)
		clear(p.held)
	}
	p.writes = resetSlice(p.writes, p.wbuf[:0], &p.writesOnHeap)
	p.reads = resetSlice(p.reads, p.rbuf[:0], &p.readsOnHeap)
	p.absent = p.absent[:0]
	var zero K
	p.lastK, p.lastR = zero, nil
	p.scanMask = 0
	p.nlocked = 0
}

// commitSolo is txState.commit's steps 1-6 for a transaction whose only
// participant is p (see participant.commitSolo); commit has done step 0.
// Keep it step for step with commit's loops over st.active.
func (p *storeTx[K, V]) commitSolo(st *txState) error {
	if err := p.precheck(); err != nil {
		st.finish(0)
		return err
	}
	chaos.Yield("txn.commit.prechecked")
	low := st.e.d.PendingFloor()
	floor, ok := p.lock(low) // (1)
	if !ok {
		p.unlock()
		st.finish(0)
		return errLockBusy
	}
	chaos.Yield("txn.commit.locked")
	v := st.e.d.CommitVersion(floor) // (2)
	chaos.Yield("txn.commit.versioned")
	if v != low {
		p.publish(v)
	}
	chaos.Yield("txn.commit.published")
	if err := p.validate(); err != nil { // (3)
		p.unlock()
		st.finish(0)
		return err
	}
	chaos.Yield("txn.commit.validated")
	st.slot.Release()
	p.install(v, &st.slot) // (4), (5)
	chaos.Yield("txn.commit.installed")
	st.finish(v) // (6)
	return nil
}

// resetSlice zeroes s's used elements (dropping references to values and
// records) and returns it empty, or the inline buffer inline, where s
// started, if s grew too large to keep. onHeap (one per set, kept by its
// participant) says whether s already lived on the heap at the previous
// reset.
//
// The append that moved s from inline to the heap left copies of its first
// entries in the buffer, with their references; they are zeroed at the
// first reset after the move, and only then: nothing writes the buffer
// while s lives on the heap. (Every reset used to clear it once s had
// moved, a call to the runtime's memclrHasPointers: 2.6% of
// engine_put_direct's profile, whose fixture fills the store 100 keys per
// transaction; any transaction object that ever wrote three keys paid it
// from then on.)
func resetSlice[T any](s, inline []T, onHeap *bool) []T {
	inline = inline[:cap(inline)]
	if cap(s) > len(inline) {
		if !*onHeap {
			clear(inline) // s moved in this transaction
		}
		if cap(s) > maxRetainedCap {
			*onHeap = false
			return inline[:0]
		}
		*onHeap = true
	}
	clearSmall(s)
	return s[:0]
}

// clearSmall zeroes s. For the few entries of a typical transaction an
// element-wise loop is cheaper than clear, whose call to the runtime's
// memclrHasPointers (and its bulk write barrier) was about 6% of
// engine_put_direct's profile for one entry (docs/BENCHMARKS.md, "Write
// sets cleared element by element").
func clearSmall[T any](s []T) {
	if len(s) > 8 {
		clear(s)
		return
	}
	var zero T
	for i := range s {
		s[i] = zero
	}
}
