package txn

import (
	"runtime"

	"github.com/substrate-lab/substrate/internal/cacheline"
	"github.com/substrate-lab/substrate/internal/chaos"
	"github.com/substrate-lab/substrate/mvcc"
)

// Tx is a handle to a transaction: a snapshot plus, for read-write
// transactions, a read set, a buffered write set and a scan set. Obtain one
// from [Engine.Begin], [Engine.BeginReadOnly], or as the argument of
// [Engine.Update] and [Engine.View]; access data with the generic functions
// [Get], [Put], [Delete], [Scan] and [CompareAndSwap], which accept stores of
// any key and value types.
//
// Tx is a small value (a pointer and a generation number) and may be copied
// freely: copies name the same transaction. It must be used by one goroutine
// at a time. After Commit or Rollback every copy is dead: operations return
// ErrTxDone (Get returns the zero value and false), never panic, and never
// touch the object that the engine recycles for later transactions. The zero
// Tx is dead.
//
// Why a value handle and not *Tx: transaction objects are pooled so that
// Begin+Commit allocates nothing, and a pooled object is reused by later
// transactions. A stale *Tx kept by the caller (the idiomatic deferred
// Rollback after Commit, for one) would then act on someone else's
// transaction; nothing inside a recycled object can tell its holders apart.
// The generation number in the handle can: the engine bumps the object's
// generation when the transaction ends, and every operation checks it.
type Tx struct {
	st  *txState
	gen uint64
}

// live returns tx's state if tx is still the transaction's current
// incarnation, else nil.
//
// An incarnation's handles carry the slot's generation at its begin, and
// the incarnation lasts while the generation is that value or that value
// with its low bit set: a read-write transaction's first read takes its
// snapshot (the generation goes from even to odd), and every end moves the
// generation on by at least two (Release after a snapshot, Skip without
// one; see finish).
func (tx Tx) live() *txState {
	if st := tx.st; st != nil && st.slot.Generation()^tx.gen <= 1 {
		return st
	}
	return nil
}

// Attached returns the slot of a value that a layer above txn keeps with
// the transaction's pooled object from one transaction to the next (package
// prims keeps its *prims.Tx handle there, instead of taking one from a
// pool of its own for every transaction: two sync.Pool operations fewer
// per View or Update). The value belongs to the object, not to one
// transaction: whoever runs a transaction on the object may read and
// replace it during the transaction, and it must not carry anything one
// transaction needs after it ends. nil if tx is dead.
func (tx Tx) Attached() *any {
	if st := tx.live(); st != nil {
		return &st.attached
	}
	return nil
}

// Snapshot returns the transaction's snapshot (a clock bound, see
// mvcc.Domain; 0 if tx is dead). A read-write transaction's snapshot moves
// forward when it is extended (see the package documentation).
//
// A read-write transaction takes its snapshot at its first read, or here
// if nothing has read yet.
func (tx Tx) Snapshot() uint64 {
	if st := tx.live(); st != nil {
		return st.snapshot()
	}
	return 0
}

// ReadOnly reports whether tx is a live read-only transaction.
func (tx Tx) ReadOnly() bool {
	st := tx.live()
	return st != nil && st.readOnly
}

// Validate reports whether the view tx has read so far is consistent: nil
// for a live read-only transaction (its snapshot is fresh and consistent)
// and for a read-write one whose every read is still the newest version,
// unlocked, and whose watched ranges are unchanged (all of them hold at
// this moment, so the view equals the committed state now); otherwise an
// error wrapping ErrConflict, and then tx cannot commit either. A closure of
// a read-write transaction may see part of a concurrent commit (see the
// package documentation): code that finds a state it considers impossible
// calls Validate to tell such a torn view, which it should report as a
// conflict, from a real anomaly. It returns ErrTxDone on an ended tx.
// Validate writes nothing; its cost is one pass over the read set.
func (tx Tx) Validate() error {
	st := tx.live()
	if st == nil {
		return ErrTxDone
	}
	if st.readOnly {
		return nil
	}
	if ce, ok := st.err.(*conflictError); ok {
		return ce
	}
	for _, a := range st.active {
		if err := a.p.check(); err != nil {
			return err
		}
	}
	return nil
}

// Done reports whether tx has ended (committed, rolled back, or zero).
func (tx Tx) Done() bool { return tx.live() == nil }

// Rollback abandons the transaction: nothing it wrote becomes visible and its
// snapshot is released. It returns ErrTxDone if tx had already ended, so a
// deferred Rollback after a successful Commit is harmless.
func (tx Tx) Rollback() error {
	st := tx.live()
	if st == nil {
		return ErrTxDone
	}
	st.finish(0)
	return nil
}

// Commit ends the transaction. A read-only transaction, or one that neither
// read nor wrote, commits at its snapshot without validation. A read-write
// transaction that only read validates its reads (it commits at that
// moment, or fails with ErrConflict if one changed). One that wrote
// commits at a fresh commit version if nothing it read, and no range it
// scanned, changed since it read it; otherwise it returns an error
// wrapping ErrConflict and nothing of it is visible. In every case the
// transaction is over: a second Commit or Rollback returns ErrTxDone.
func (tx Tx) Commit() error {
	st := tx.live()
	if st == nil {
		return ErrTxDone
	}
	// A reader object's commit is its release (finish's shared case),
	// done here without the two calls through commit and finish: 12% of
	// engine_get_direct (10 alternating rounds, 35.1-36.0 ns with this
	// path against 38.6-39.8 without, docs/results/reader-commit-path.txt).
	if st.shared && st.err == nil {
		st.slot.Release() // hands st to the next reader: st's last use here
		return nil
	}
	return st.commit()
}

// participant is one store's part of a transaction (a *storeTx[K, V]); the
// commit protocol drives every store through it without knowing K and V.
type participant interface {
	// precheck fails early if a read or a watched counter has already
	// changed (validate would fail too); it locks and writes nothing.
	precheck() error
	// check validates the read set and watched counters of a transaction
	// that holds no locks: every record read still has the head observed
	// and is unlocked, every counter unchanged. Snapshot extension, the
	// commit of a transaction that wrote nothing, and Update's handling of
	// a failed closure use it.
	check() error
	// lock try-locks every record of the write set with pending version
	// low (mvcc.Record.TryLockAt), bumping the phantom counter of each key
	// whose existence changes; false if one was busy. floor is 1 + the
	// newest installed version among the records locked.
	lock(low uint64) (floor uint64, ok bool)
	// publish stores the commit version v into every held lock word.
	publish(v uint64)
	// validate checks the read set, absent-key reads and scans while the
	// write set is locked.
	validate() error
	// install installs every write at version v and unlocks its record;
	// owner is the transaction object's slot (mvcc.Store.InstallOwned).
	install(v uint64, owner *mvcc.Slot)
	// unlock releases the locks lock took (after a failure).
	unlock()
	// reset empties the participant for the next transaction.
	reset()
	// commitSolo runs steps 1-6 of commit (precheck included) for st,
	// whose only participant this is, and returns commit's result: the
	// same steps, in the same order, with the same chaos points, called
	// directly rather than through this interface one by one.
	commitSolo(st *txState) error
}

// activePart is a participant touched by the current transaction, with its
// store id so that lookups need no interface call.
type activePart struct {
	id uint64
	p  participant
}

// maxCachedParts bounds how many participants a pooled transaction object
// keeps across transactions (one per store it has touched). Past it the
// cache is dropped and rebuilt, so stores that are no longer used can be
// collected.
const maxCachedParts = 64

// txState is a transaction object. It owns an epoch slot for its lifetime
// (released by a cleanup when the GC collects the object, e.g. after
// sync.Pool drops it) and caches one typed participant per store. A
// pooled object serves read-write transactions (and read-only ones when
// every probed reader object is held); a reader object (shared, in
// Engine.readers, never in the pool) serves read-only transactions, and
// whoever holds its slot (mvcc.Slot.TryAcquire to Release) holds it.
//
// Invariant: while in the pool, or while a reader object's slot is idle,
// the slot is idle, active is empty, err is nil, every cached participant
// is reset, and the slot's generation differs from every handle ever
// issued.
//
// Layout: the owner writes most fields every transaction (the slot's
// refresh counters, snap, the participant list), and two goroutines'
// objects can be heap neighbours, so the fields sit between two 128-byte
// pads (cacheline.PadSize). Measured on the 2-core VM (bench
// engine_rmw_disjoint_parallel, ns per transaction at -cpu 2, -cpu 1 about
// 166): 201-253 unpadded (two rounds just before), 100-106 padded (two
// rounds just after); a CPU profile had put the time on the atomic add of
// the generation word, which then lived in this object.
type txState struct {
	_ cacheline.Pad128
	e *Engine
	// slot is the object's epoch slot; its generation (mvcc.Slot.Generation,
	// odd while a snapshot is held, raised by Acquire and by Release) is
	// the incarnation number: Begin hands out Tx{st, generation}, and
	// finish's Release publishes "this incarnation is over" to stale
	// handles, which compare it with atomic loads. (A separate generation
	// word cost a third full fence per transaction: docs/ARCHITECTURE.md.)
	slot     mvcc.Slot
	snap     uint64
	readOnly bool
	// snapped reports that this incarnation has taken its snapshot (snap
	// is valid): a read-only transaction at begin, a read-write one at its
	// first read (snapshot).
	snapped bool
	// shared marks a reader object (Engine.BeginReadOnly): read-only, held
	// by whoever holds its slot, never in the pool. readOnly and snapped
	// stay true for it.
	shared     bool
	extensions int   // snapshot extensions so far (bounded by maxExtensions)
	urgent     bool  // this attempt's Update holds the engine's right of way (Engine.urgent)
	nwrites    int   // buffered writes across participants; 0 = no commit version
	err        error // sticky failure (ErrForeignStore, or a conflict found early), returned by Commit

	active []activePart // participants of this transaction; starts in abuf
	abuf   [2]activePart
	cache  []activePart // every participant built by this object
	// attached is the value a layer above keeps with this object across
	// transactions (Tx.Attached); only the object's current owner touches it.
	attached any
	_        cacheline.Pad128
}

// maxExtensions bounds the snapshot extensions of one transaction: each
// re-validates everything read so far, so a long scan racing a stream of
// commits could otherwise go quadratic. Past the bound a stale read dooms
// the transaction (its Commit fails with ErrConflict; Update re-runs it at
// a new snapshot).
const maxExtensions = 16

func newTxState(e *Engine, slot mvcc.Slot) *txState {
	st := &txState{e: e, slot: slot}
	st.active = st.abuf[:0]
	// Gives the slot back when the GC collects st. The cleanup must not
	// reference st, so it gets a copy of the Slot value.
	runtime.AddCleanup(st, func(s mvcc.Slot) { s.Close() }, st.slot)
	return st
}

// finish ends the incarnation (commit done, failed, or rollback) and
// returns the object to the pool. v is the commit version after a commit
// that installed writes, else 0: the slot then counts the commit for
// version GC (mvcc.Slot.NoteCommit), after releasing the snapshot and
// before the object can be handed to another goroutine. The release ends
// the incarnation (the slot's generation moves on); a commit with writes
// has released the snapshot before installing (commit step 4), and a
// second Release does nothing.
func (st *txState) finish(v uint64) {
	if st.shared {
		// A reader object: a read-only transaction wrote nothing else
		// that must not outlive it (active stays empty).
		st.err = nil
		st.slot.Release() // hands st to the next reader: st's last use here
		return
	}
	if st.snapped {
		st.slot.Release() // (done already by a commit with writes)
		st.snapped = false
	} else {
		st.slot.Skip() // ends an incarnation that took no snapshot
	}
	if v != 0 {
		st.slot.NoteCommit(v)
	}
	for _, a := range st.active {
		a.p.reset()
	}
	clearSmall(st.active)
	st.active = st.active[:0]
	st.nwrites = 0
	st.err = nil
	st.urgent = false
	st.e.pool.Put(st)
}

// snapshot returns the transaction's snapshot, first taking it if this
// read-write incarnation has none yet (mvcc.Slot.AcquireOptimistic: the
// slot's add and a clock load). Every read of a version node by a
// read-write transaction comes after it (storeTx.readRecord, scan).
func (st *txState) snapshot() uint64 {
	if !st.snapped {
		st.snap, _ = st.slot.AcquireOptimistic()
		st.snapped = true
	}
	return st.snap
}

// extend is snapshot extension (LSA, TinySTM): called by a read-write read
// that met a version installed above the snapshot. It takes a newer
// snapshot (mvcc.Slot.Extend: one clock load, no shared write), then
// re-validates everything read so far with check; if that holds, every
// earlier read is still the newest version, so the transaction continues at
// the new snapshot as if it had begun there, and the caller reads again.
// Otherwise the transaction is doomed: st.err becomes a conflict (Commit
// returns it, writes return it at once), and the caller keeps the read at
// the old snapshot, which is what the closure's earlier reads saw too.
// It reports whether the snapshot moved.
func (st *txState) extend() bool {
	if st.err != nil {
		return false
	}
	if st.extensions >= maxExtensions {
		st.err = errStaleRead
		return false
	}
	st.extensions++
	snap := st.slot.Extend()
	if snap <= st.snap {
		st.err = errStaleRead // cannot happen (I4); never loop on it
		return false
	}
	for _, a := range st.active {
		if err := a.p.check(); err != nil {
			st.err = err
			return false
		}
	}
	st.snap = snap
	return true
}

// readsValid reports whether everything the transaction read is still
// current (check on every participant). Update calls it when a closure
// failed, to tell a real failure from one caused by a torn view.
func (st *txState) readsValid() bool {
	for _, a := range st.active {
		if a.p.check() != nil {
			return false
		}
	}
	return true
}

// commit runs the commit protocol.
//
// Steps:
//
//  0. A read-only transaction, or one with no reads and no writes: release
//     the snapshot and stop (it serializes at its snapshot; a read-only
//     one's is fresh and consistent, see mvcc.Domain). A read-write
//     transaction that read but wrote nothing: check (every record read
//     unchanged and unlocked, every watched counter unchanged, no locks of
//     its own); it serializes at the moment the check began, and fails
//     with ErrConflict otherwise. Its snapshot may have been torn
//     (optimistic), so it cannot simply commit at it.
//     With writes, first a precheck: if a version read or a phantom
//     counter watched has already changed, abort now (validation would
//     fail anyway), before locking anything or bumping any counter, so
//     doomed transactions neither block others nor leave false phantom
//     bumps nor touch the clock.
//     0b. Before that precheck, stand back while another transaction
//     holds the engine's right of way (Engine.urgent: an Update that has
//     failed RetryPolicy.UrgentAfter attempts; Engine.standBack waits at
//     most maxStandBack). The wait comes before any lock is taken, so the
//     holder never waits for a transaction that waits for it.
//  1. Lock the write set with no-wait try-locks, store by store; a busy
//     record aborts (unlock what was taken, ErrConflict), so there is no
//     deadlock and no waiting. Each lock word carries low =
//     Domain.PendingFloor(), read just before: a lower bound of the
//     version step 2 takes, so readers with snapshots below it do not wait
//     for this commit (it cannot be theirs to see) and readers at or above
//     it wait for the unlock. While holding each lock, bump the phantom
//     counter of a key that the commit inserts or deletes (before the
//     clock step; see mvcc.Store for why that order matters), and note
//     the record's newest installed version.
//  2. v := Domain.CommitVersion(1 + the newest version noted): the clock
//     step, the commit point. It reads the clock (and writes it only when
//     it is clean or a record ran out of seqs; see mvcc.Domain), after
//     every write is locked and before any read is validated. v >= low
//     always (ticks never decrease). Only when v > low (the clock moved
//     since low was read, or a record's floor raised v), publish v into
//     every held lock word (after the clock step, so a reader that finds v
//     above its snapshot and extends gets a snapshot >= v), so that
//     readers between low and v stop waiting; when v == low (nearly
//     always) the locks already say it, and a second store per record (a
//     full fence each) is saved.
//  3. Validate: every record read still has the head version observed and
//     is not locked by another committer (locked and not in this
//     transaction's write set: the lock word cannot tell, versions being
//     shared); every phantom counter watched (scans, absent-key reads) is
//     unchanged except for this commit's own bumps. A failure unlocks
//     everything, installs nothing, and returns ErrConflict; v is simply
//     never used.
//  4. Release the snapshot, then install every write at version v
//     (pruning old versions inline), and
//  5. unlock its record right after. Installing and unlocking record by
//     record is safe: a fresh snapshot S >= v had its clock advance after
//     step 2, so it meets a record not yet installed locked with pending
//     low <= v <= S (or v itself) and waits for it.
//  6. Release the snapshot (already after step 3: validation is its last
//     use, and a snapshot held through long installs would pin the GC
//     watermark), count the commit for version GC (mvcc.Slot.NoteCommit),
//     recycle the object.
//
// Invariants this keeps (with mvcc.Domain's I1-I4): a committed
// transaction's reads were all current at its commit point, which lies
// between its Begin and its return, and nothing else changed what it read
// or scanned before that point (serializability in commit-point order,
// strict in real time); its writes become visible to fresh snapshots all
// at once (version v, locked before step 2); and v exceeds every version
// installed on the records it writes.
func (st *txState) commit() error {
	if st.err != nil {
		err := st.err
		st.finish(0)
		return err
	}
	if st.readOnly { // (0)
		st.finish(0)
		return nil
	}
	if st.nwrites == 0 {
		for _, a := range st.active {
			if err := a.p.check(); err != nil {
				st.finish(0)
				return err
			}
		}
		st.finish(0)
		return nil
	}
	if !st.urgent && st.e.urgent.Load() != 0 { // (0b)
		st.e.standBack()
	}
	// One store written (the common case): the steps below in one call
	// of the participant, whose own calls are then direct, instead of
	// four interface calls (precheck, lock, validate, install). Intel VM
	// of the thirteenth session, 10 alternating rounds:
	// engine_put_direct -2.4% (p=0.023), engine_cas_direct -8.5%
	// (p=0.015), statecell_cas -6.4% (p=0.001). storeTx.commitSolo must
	// keep to these steps.
	if len(st.active) == 1 {
		return st.active[0].p.commitSolo(st)
	}
	for _, a := range st.active {
		if err := a.p.precheck(); err != nil {
			st.finish(0)
			return err
		}
	}
	chaos.Yield("txn.commit.prechecked")
	var floor uint64
	low := st.e.d.PendingFloor()
	for _, a := range st.active { // (1)
		f, ok := a.p.lock(low)
		if !ok {
			st.unlockAll()
			st.finish(0)
			return errLockBusy
		}
		floor = max(floor, f)
	}
	chaos.Yield("txn.commit.locked")
	v := st.e.d.CommitVersion(floor) // (2)
	chaos.Yield("txn.commit.versioned")
	if v != low { // the locks announce low <= v; readers between wait needlessly unless told v
		for _, a := range st.active {
			a.p.publish(v)
		}
	}
	chaos.Yield("txn.commit.published")
	for _, a := range st.active { // (3)
		if err := a.p.validate(); err != nil {
			st.unlockAll()
			st.finish(0)
			return err
		}
	}
	chaos.Yield("txn.commit.validated")
	// Validation was the last use of the snapshot: release it now, so that
	// the installs below (whose prune walks grow with the chains) never
	// hold back the watermark. Only the lock holder prunes a record's
	// chain, so the nodes install walks cannot be retired, let alone
	// reused, under it (see mvcc.Store.Install).
	st.slot.Release()
	for _, a := range st.active { // (4), (5)
		a.p.install(v, &st.slot)
		chaos.Yield("txn.commit.installed")
	}
	st.finish(v) // (6)
	return nil
}

func (st *txState) unlockAll() {
	for _, a := range st.active {
		a.p.unlock()
	}
}

// writable returns tx's state for a write, or the error that forbids it:
// ErrTxDone, ErrReadOnly, or the conflict that doomed the transaction
// (writing on would be wasted work).
func (tx Tx) writable() (*txState, error) {
	st := tx.live()
	if st == nil {
		return nil, ErrTxDone
	}
	if st.readOnly {
		return nil, ErrReadOnly
	}
	if ce, ok := st.err.(*conflictError); ok {
		return nil, ce
	}
	return st, nil
}
