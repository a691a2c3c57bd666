package prims

import (
	"github.com/substrate-lab/substrate/internal/cacheline"
	"github.com/substrate-lab/substrate/txn"
)

// Tx is a transaction: a snapshot of every store of its DB plus, for
// read-write transactions, the reads to validate and the buffered writes.
// Every primitive operation takes it first; one Tx may touch any stores of
// its DB, for any runs, and commits them atomically.
//
// Kinds and lifetimes:
//
//   - DB.Begin returns an explicit read-write Tx, ended by Commit or
//     Rollback. After it ends every use (Commit and Rollback included)
//     returns ErrTxDone, reads report nothing found, and it never acts on
//     another transaction, so `defer tx.Rollback()` after Commit is safe.
//   - DB.Update and DB.View pass a pooled Tx to their function. It is valid
//     only until the function returns; the DB reuses it afterwards, so a
//     copy of the pointer kept beyond that may act on a later transaction.
//     Do not Commit or Rollback it.
//
// A Tx is used by one goroutine at a time.
//
// Reads see the transaction's own writes. In a read-write transaction reads
// (including absent keys, listings, lengths) are validated at commit: if a
// concurrent commit changed what was read, Commit fails with ErrConflict and
// nothing of the transaction is visible. A read-only transaction (View)
// reads its snapshot, never conflicts, and rejects writes with ErrReadOnly.
//
// Timestamps: every write of one transaction that records a time (an
// event's Timestamp, a state cell's UpdatedAt, a run's CreatedAt or
// UpdatedAt) records the same one, read from the clock by the first
// operation that may write one (before it reads, so that the clock read
// stays out of its conflict window).
//
// Failed operations do not poison the transaction: an operation rejected for
// bad input, a missing cell, a version mismatch or a Transition function's
// error writes nothing, and the transaction may go on and commit.
type Tx struct {
	// A handle is written by every transaction it serves (reset, now) and
	// lives as long as its pooled transaction object, one per goroutine
	// that commits: padded on both sides so that two goroutines' handles,
	// allocated one after another, never share a 128-byte block
	// (TestTxHandlePadded). Unpadded (48 bytes, two to a line) they did:
	// Tier B disjoint transitions (BenchmarkContention/op=disjoint_rmw)
	// scaled 1.34-1.59x from -cpu 1 to -cpu 2 against 1.84-2.05x for the
	// same read-modify-write one layer down (engine_rmw_disjoint_parallel),
	// and a -cpu 2 profile put 6.5-9.8% of the samples on the load of ts.
	_  cacheline.Pad128
	db *DB
	tx txn.Tx // dead (zero) after Begin on a closed DB
	// tok identifies this transaction incarnation as the owner of index
	// records it wrote and has not committed (see sortedSet). Built lazily
	// (a 1-byte allocation) by the first index copy; reset with every new
	// incarnation of a pooled Tx. A pointer to a live object is unique, and
	// the records keep their token alive, so no later incarnation's token
	// can equal it.
	tok *byte
	// ts is the transaction's timestamp in Unix nanoseconds, read from the
	// clock by its first timestamped write (see now); 0 until then. Every
	// timestamp the package stores is Unix nanoseconds (storedEvent,
	// storedState, runRec), so it is kept as one.
	ts int64
	_  cacheline.Pad128
}

// reset makes a pooled Tx the handle of transaction tx (or of none).
func (t *Tx) reset(tx txn.Tx) {
	t.tx, t.tok, t.ts = tx, nil, 0
}

// now returns the transaction's timestamp, in Unix nanoseconds of the
// package's wall clock (see wallClock): the time of its first timestamped
// operation (an Append, a cell's Set, CAS or Transition, a run's Create or
// Transition). Every write of one transaction attempt carries the same
// time; a retried attempt reads the clock again. Reading the clock once
// per transaction rather than per write saves a clock read (tens of
// nanoseconds on virtual machines) per operation of multi-write
// transactions. (The clock never reads 0, 1970-01-01T00:00:00Z exactly,
// so 0 can mean "not read yet".)
func (t *Tx) now() int64 {
	if t.ts == 0 {
		t.ts = clock.now()
	}
	return t.ts
}

// token returns t's owner token, allocating it on first use.
func (t *Tx) token() *byte {
	if t.tok == nil {
		t.tok = new(byte)
	}
	return t.tok
}

// Commit ends the transaction. A read-write transaction commits atomically
// if nothing it read changed since its snapshot; otherwise Commit returns an
// error wrapping ErrConflict and nothing of the transaction is visible. A
// read-only transaction, or one that wrote nothing, commits without
// validation. A second Commit (or one after Rollback) returns ErrTxDone; on
// a closed DB Commit rolls back and returns ErrClosed.
func (t *Tx) Commit() error {
	if t == nil {
		return errNilTx
	}
	if t.db == nil {
		return errNilDB
	}
	if t.db.closed.Load() {
		_ = t.tx.Rollback()
		return errDBClosed
	}
	return t.tx.Commit()
}

// Rollback abandons the transaction: nothing it wrote becomes visible, and
// its snapshot is released. It returns ErrTxDone if the transaction had
// already ended, so a deferred Rollback after Commit is harmless.
func (t *Tx) Rollback() error {
	if t == nil {
		return errNilTx
	}
	return t.tx.Rollback()
}

// ReadOnly reports whether t is a live read-only transaction (View's).
func (t *Tx) ReadOnly() bool { return t != nil && t.tx.ReadOnly() }

// Done reports whether t has ended (committed, rolled back, or begun on a
// closed DB).
func (t *Tx) Done() bool { return t == nil || t.tx.Done() }

// check validates t for an operation on a store of db.
func (t *Tx) check(db *DB) error {
	switch {
	case t == nil:
		return errNilTx
	case db == nil: // a nil store (see KVStore.owner) or a zero one
		return errNilStore
	case t.db != db:
		return errForeignDB
	case db.closed.Load():
		return errDBClosed
	}
	return nil
}

// readable reports whether t can read from a store of db (reads without an
// error result report nothing found otherwise).
func (t *Tx) readable(db *DB) bool {
	return t != nil && db != nil && t.db == db && !db.closed.Load()
}

// checkRead validates t for a read that reports errors (List, ReadRange,
// the Query methods) from a store of db: check, then a live transaction,
// read-only or not.
func (t *Tx) checkRead(db *DB) error {
	if err := t.check(db); err != nil {
		return err
	}
	if t.tx.Done() {
		return ErrTxDone
	}
	return nil
}

// checkWrite validates t for a write to a store of db: check, then a live
// read-write transaction.
func (t *Tx) checkWrite(db *DB) error {
	if err := t.check(db); err != nil {
		return err
	}
	if t.tx.ReadOnly() {
		return ErrReadOnly
	}
	if t.tx.Done() {
		return ErrTxDone
	}
	return nil
}
