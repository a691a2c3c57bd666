package txn

import (
	"errors"
	"fmt"
)

// Sentinel errors. Check them with errors.Is: the errors this package
// returns wrap them with the reason.
var (
	// ErrConflict reports that a read-write transaction could not commit
	// because a concurrent commit touched what it read, wrote or scanned.
	// Nothing of the transaction is visible. Update retries on it.
	ErrConflict = errors.New("txn: conflict")
	// ErrTxDone reports use of a transaction after Commit or Rollback
	// (including a second Commit or Rollback), or of the zero Tx.
	ErrTxDone = errors.New("txn: transaction already committed or rolled back")
	// ErrReadOnly reports a write in a read-only transaction (View,
	// BeginReadOnly).
	ErrReadOnly = errors.New("txn: write in a read-only transaction")
	// ErrForeignStore reports an operation on a store of another Engine,
	// or on a nil store. The transaction is poisoned: its Commit fails
	// with this error.
	ErrForeignStore = errors.New("txn: store is nil or belongs to another engine")
)

// Errors for bad arguments that have no sentinel of their own.
var (
	errNilFunc   = errors.New("txn: nil function")
	errNilEngine = errors.New("txn: nil or zero Engine (use NewEngine)")
)

// errNotDense is GetSeq's error for a store without dense keys.
var errNotDense = errors.New("txn: GetSeq needs a store with dense keys (mvcc.WithDenseKeys)")

// conflictError is a commit failure that wraps ErrConflict with its reason.
// The values are preallocated: a conflict allocates nothing.
type conflictError struct{ reason string }

func (e *conflictError) Error() string { return "txn: conflict: " + e.reason }
func (e *conflictError) Unwrap() error { return ErrConflict }

var (
	errLockBusy   = &conflictError{"a record of the write set is being committed by another transaction (or was removed from its store, its key's deletion having become final)"}
	errReadLocked = &conflictError{"a record read is being committed by another transaction"}
	errReadStale  = &conflictError{"a record read was changed by a concurrent commit"}
	errPhantom    = &conflictError{"a concurrent commit inserted or deleted a key in a scanned range or a key read as absent"}
	errStaleRead  = &conflictError{"a record read had a newer version and the snapshot could not be extended"}
	errTornView   = &conflictError{"the closure failed on a view that a concurrent commit made inconsistent"}
	errRemoved    = &conflictError{"a record this transaction writes was removed from its store (its key's deletion became final); a scan could not see the write"}
)

// RetryError is returned by Update when every attempt failed with a
// conflict. It wraps the last attempt's error, so errors.Is(err,
// ErrConflict) holds.
type RetryError struct {
	Attempts int   // attempts made (the policy's MaxAttempts)
	Last     error // the last attempt's error
}

// Error reports the attempt count and the last attempt's error.
func (e *RetryError) Error() string {
	return fmt.Sprintf("txn: gave up after %d attempts: %v", e.Attempts, e.Last)
}

// Unwrap returns the last attempt's error.
func (e *RetryError) Unwrap() error { return e.Last }
