package prims

import (
	"errors"

	"github.com/substrate-lab/substrate/txn"
)

// Sentinel errors. Check them with errors.Is: the errors this package
// returns usually wrap them with the reason (the store, the run, the key).
//
// Three of them are package txn's sentinels themselves, so errors.Is works
// with either name: ErrConflict is txn.ErrConflict, ErrTxDone is
// txn.ErrTxDone, ErrReadOnly is txn.ErrReadOnly.
var (
	// ErrConflict reports that a read-write transaction could not commit
	// because a concurrent commit changed something it read, wrote or
	// listed. Nothing of the transaction is visible. DB.Update retries on
	// it; when its attempts run out it returns a *txn.RetryError, which
	// wraps it.
	ErrConflict = txn.ErrConflict
	// ErrTxDone reports use of a transaction after Commit or Rollback
	// (including a second Commit or Rollback).
	ErrTxDone = txn.ErrTxDone
	// ErrReadOnly reports a write in a read-only transaction (DB.View).
	ErrReadOnly = txn.ErrReadOnly

	// ErrExists reports that something to be created already exists: a
	// state cell that Init finds present, or a store name already taken by
	// a store of another type or kind.
	ErrExists = errors.New("prims: already exists")
	// ErrNotFound reports that an operation needs something that is
	// absent: StateCell.Transition on a missing cell, a RunIndex operation
	// on a run never created, a missing parent.
	ErrNotFound = errors.New("prims: not found")
	// ErrVersionMismatch reports that StateCell.CAS found another version
	// than the expected one (or no cell at all).
	ErrVersionMismatch = errors.New("prims: version mismatch")
	// ErrInvalidTransition reports a RunIndex status transition that the
	// lifecycle does not allow.
	ErrInvalidTransition = errors.New("prims: invalid transition")
	// ErrClosed reports use of a DB after Close, or of a transaction or a
	// store of a closed DB.
	ErrClosed = errors.New("prims: database closed")
	// ErrInvalid reports bad input: an empty store name, key or cell
	// name, the zero RunID, a nil transaction, a nil store (one a failed
	// constructor returned), a store used with a transaction of another
	// DB, a range with start > end. The operation did nothing.
	ErrInvalid = errors.New("prims: invalid argument")
)

// Preallocated wrapped errors for the hot paths, so that rejecting bad input
// allocates nothing.
var (
	errNilTx      = &wrapErr{"prims: nil transaction", ErrInvalid}
	errZeroRun    = &wrapErr{"prims: the zero RunID is not a run", ErrInvalid}
	errEmptyKey   = &wrapErr{"prims: empty key", ErrInvalid}
	errEmptyName  = &wrapErr{"prims: empty name", ErrInvalid}
	errForeignDB  = &wrapErr{"prims: store belongs to another DB than the transaction", ErrInvalid}
	errNilDB      = &wrapErr{"prims: nil DB", ErrInvalid}
	errNilStore   = &wrapErr{"prims: nil store", ErrInvalid}
	errBadRange   = &wrapErr{"prims: range start is after its end", ErrInvalid}
	errDBClosed   = &wrapErr{"prims: database closed", ErrClosed}
	errNotFound   = &wrapErr{"prims: state cell not found", ErrNotFound}
	errCellExists = &wrapErr{"prims: state cell already exists", ErrExists}
	errNoCell     = &wrapErr{"prims: state cell absent (CAS expects an existing version)", ErrVersionMismatch}
)

// twoSentinels is an error with its own message that wraps two sentinels,
// so that errors.Is finds either (fmt.Errorf with two %w would repeat
// both sentinels' "prims:" texts in the message).
type twoSentinels struct {
	msg  string
	errs [2]error
}

func (e *twoSentinels) Error() string   { return e.msg }
func (e *twoSentinels) Unwrap() []error { return e.errs[:] }

// wrapErr is a fixed message wrapping a sentinel.
type wrapErr struct {
	msg string
	err error
}

func (e *wrapErr) Error() string { return e.msg }
func (e *wrapErr) Unwrap() error { return e.err }
