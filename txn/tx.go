package txn

import (
	"runtime"
	"sync/atomic"

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
func (tx Tx) live() *txState {
	if st := tx.st; st != nil && st.gen.Load() == tx.gen {
		return st
	}
	return nil
}

// Snapshot returns the transaction's snapshot version (0 if tx is dead).
func (tx Tx) Snapshot() uint64 {
	if st := tx.live(); st != nil {
		return st.snap
	}
	return 0
}

// ReadOnly reports whether tx is a live read-only transaction.
func (tx Tx) ReadOnly() bool {
	st := tx.live()
	return st != nil && st.readOnly
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
	st.finish()
	return nil
}

// Commit ends the transaction. A read-only transaction, or one that wrote
// nothing, commits at its snapshot without validation and without touching
// the clock. A read-write transaction commits at a fresh version if nothing
// it read, and no range it scanned, changed since its snapshot; otherwise
// it returns an error wrapping ErrConflict and nothing of it is visible. In
// both cases the transaction is over: a second Commit or Rollback returns
// ErrTxDone.
func (tx Tx) Commit() error {
	st := tx.live()
	if st == nil {
		return ErrTxDone
	}
	return st.commit()
}

// participant is one store's part of a transaction (a *storeTx[K, V]); the
// commit protocol drives every store through it without knowing K and V.
type participant interface {
	// precheck fails early if a read or a watched counter has already
	// changed (validate would fail too); it locks and writes nothing.
	precheck() error
	// lock try-locks every record of the write set, bumping the phantom
	// counter of each key whose existence changes; false if one was busy.
	lock() bool
	// publish stores the commit version v into every held lock word.
	publish(v uint64)
	// validate checks the read set, absent-key reads and scans (word is the
	// committer's own lock word).
	validate(word uint64) error
	// install installs every write at version v and unlocks its record.
	install(v uint64, hint int)
	// unlock releases the locks lock took (after a failure).
	unlock()
	// reset empties the participant for the next transaction.
	reset()
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

// txState is a pooled transaction object. It owns an epoch slot for its
// lifetime (released by a cleanup when the GC collects the object, e.g.
// after sync.Pool drops it) and caches one typed participant per store.
//
// Invariant: while in the pool, the slot is idle, active is empty, every
// cached participant is reset, and gen differs from every handle ever
// issued.
type txState struct {
	e *Engine
	// gen is the incarnation number: Begin hands out Tx{st, gen}; finish
	// increments it (the Add publishes "this incarnation is over" to stale
	// handles, which compare it with atomic loads) before the object goes
	// back to the pool.
	gen      atomic.Uint64
	slot     mvcc.Slot
	snap     uint64
	readOnly bool
	nwrites  int   // buffered writes across participants; 0 = empty commit
	err      error // sticky failure (ErrForeignStore), returned by Commit

	active []activePart // participants of this transaction
	cache  []activePart // every participant built by this object
}

func newTxState(e *Engine) *txState {
	st := &txState{e: e, slot: e.d.NewSlot()}
	// Gives the slot back when the GC collects st. The cleanup must not
	// reference st, so it gets a copy of the Slot value.
	runtime.AddCleanup(st, func(s mvcc.Slot) { s.Close() }, st.slot)
	return st
}

// finish ends the incarnation (commit done, failed, or rollback) and
// returns the object to the pool.
func (st *txState) finish() {
	st.slot.Release()
	for _, a := range st.active {
		a.p.reset()
	}
	clear(st.active)
	st.active = st.active[:0]
	st.nwrites = 0
	st.err = nil
	st.gen.Add(1)
	st.e.pool.Put(st)
}

// commit runs the commit protocol.
//
// Steps:
//
//  0. Read-only or no writes: release the snapshot and stop. No validation
//     and no clock: the transaction serializes at its snapshot, which it
//     read consistently (strict serializability holds: every commit that
//     finished before Begin has a version <= the snapshot).
//     Then, as an optimization, a precheck: if a version read or a phantom
//     counter watched has already changed, abort now (validation would
//     fail anyway), before locking anything or bumping any counter, so
//     doomed transactions neither block others nor leave false phantom
//     bumps nor touch the clock.
//  1. Lock the write set with no-wait try-locks, store by store; a busy
//     record aborts (unlock what was taken, ErrConflict), so there is no
//     deadlock and no waiting. While holding each lock, bump the phantom
//     counter of a key that the commit inserts or deletes (before taking a
//     version; see mvcc.Store for why that order matters).
//  2. v := clock.Add(1); publish v into every held lock word. v is the
//     serialization point: it is taken while every write is locked and
//     before any read is validated.
//  3. Validate: every record read still has the head version observed and
//     is not locked by another committer (a lock word other than
//     mvcc.LockWord(v)); every phantom counter watched (scans, absent-key
//     reads) is unchanged except for this commit's own bumps. A failure
//     unlocks everything, installs nothing, and returns ErrConflict; v is
//     simply never used.
//  4. Install every write at version v (pruning old versions inline), and
//  5. unlock its record right after. Installing and unlocking record by
//     record is safe: a reader at S >= v that meets a record not yet
//     installed finds it locked with pending v <= S and waits for it.
//  6. Release the snapshot, recycle the object; every 32nd version also
//     refreshes the GC watermark.
func (st *txState) commit() error {
	if st.err != nil {
		err := st.err
		st.finish()
		return err
	}
	if st.readOnly || st.nwrites == 0 { // (0)
		st.finish()
		return nil
	}
	for _, a := range st.active {
		if err := a.p.precheck(); err != nil {
			st.finish()
			return err
		}
	}
	chaos.Yield("txn.commit.prechecked")
	for _, a := range st.active { // (1)
		if !a.p.lock() {
			st.unlockAll()
			st.finish()
			return errLockBusy
		}
	}
	chaos.Yield("txn.commit.locked")
	v := st.e.d.NextVersion() // (2)
	chaos.Yield("txn.commit.versioned")
	for _, a := range st.active {
		a.p.publish(v)
	}
	chaos.Yield("txn.commit.published")
	word := mvcc.LockWord(v)
	for _, a := range st.active { // (3)
		if err := a.p.validate(word); err != nil {
			st.unlockAll()
			st.finish()
			return err
		}
	}
	chaos.Yield("txn.commit.validated")
	hint := st.slot.Index()
	for _, a := range st.active { // (4), (5)
		a.p.install(v, hint)
		chaos.Yield("txn.commit.installed")
	}
	d := st.e.d
	st.finish() // (6)
	d.NoteCommit(v)
	return nil
}

func (st *txState) unlockAll() {
	for _, a := range st.active {
		a.p.unlock()
	}
}

// writable returns tx's state for a write, or the error that forbids it.
func (tx Tx) writable() (*txState, error) {
	st := tx.live()
	if st == nil {
		return nil, ErrTxDone
	}
	if st.readOnly {
		return nil, ErrReadOnly
	}
	return st, nil
}
