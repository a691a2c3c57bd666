package prims

import (
	"fmt"
	"strings"
	"time"

	"github.com/substrate-lab/substrate/mvcc"
	"github.com/substrate-lab/substrate/txn"
)

// State is a state cell's content: its value, its version (1 after Init or
// the first Set, +1 per change), and the wall-clock time of the last change
// (the transaction's timestamp; see Tx).
type State[S any] struct {
	Value     S
	Version   uint64
	UpdatedAt time.Time
}

// StateCell is a named store of versioned state cells: for every run, cell
// names map to a State[S]. Create it with NewStateCell.
//
// Every change (Set, CAS, Transition) reads the cell first, so in a
// read-write transaction concurrent changes of one cell conflict and one
// retries: versions advance by exactly one per committed change, and no
// update is lost. Values are stored as given, not copied (see the package's
// aliasing rule).
//
// Each run's cell names are kept in a sorted set (so that a run's cells can
// be deleted with the run); creating or deleting a cell updates it, which
// makes concurrent creations in one run conflict. Changes of existing cells
// do not touch it.
//
// Delete removes a cell and its version: a later Init or Set starts again
// at version 1, so a CAS that expected a version of the deleted cell can
// match the new one (check UpdatedAt, or avoid reusing names, where that
// matters).
type StateCell[S any] struct {
	db    *DB
	name  string
	cells *mvcc.Store[runKey, storedState[S]]
	names setIndex[RunID, string]
}

// storedState is a State as the store keeps it: the time as Unix
// nanoseconds (8 bytes instead of time.Time's 24), which is all a
// timestamp of this package carries (tx.now is Unix nanoseconds of the
// package's clock, and the UpdatedAt a State returns is time.Unix(0, ts),
// a Local time without a monotonic reading; see storedEvent). With S = uint64 a
// version node is 48 bytes instead of 64 and a cell's record 72 instead
// of 88 (size classes 80 and 96), so reads and rewrites touch fewer lines
// (docs/BENCHMARKS.md, "State cells store Unix nanoseconds").
type storedState[S any] struct {
	value   S
	version uint64
	ts      int64
}

// stored returns st as the store keeps it.
func stored[S any](value S, version uint64, at int64) storedState[S] {
	return storedState[S]{value: value, version: version, ts: at}
}

// state returns the API's State of a stored one.
func (st *storedState[S]) state() State[S] {
	return State[S]{Value: st.value, Version: st.version, UpdatedAt: time.Unix(0, st.ts)}
}

// NewStateCell returns the state-cell store named name in db, creating it
// if needed. Naming rules as for NewKVStore.
func NewStateCell[S any](db *DB, name string) (*StateCell[S], error) {
	return openNamed(db, name, func() *StateCell[S] {
		return &StateCell[S]{
			db:    db,
			name:  name,
			cells: newStore[runKey, storedState[S]](db, hashRunKey),
			names: newSetIndex[RunID](db, hashRun, strings.Compare),
		}
	})
}

// Name returns the store's name ("" for a nil store).
func (c *StateCell[S]) Name() string {
	if c == nil {
		return ""
	}
	return c.name
}

// owner returns the store's DB, or nil for a nil store (a pointer left by
// a failed constructor), whose every operation then fails with an error
// wrapping ErrInvalid (or reports nothing found) instead of panicking:
// Tx.check and Tx.readable refuse a nil DB.
func (c *StateCell[S]) owner() *DB {
	if c == nil {
		return nil
	}
	return c.db
}

// check validates a change of cell (run, name) in tx.
func (c *StateCell[S]) check(tx *Tx, run RunID, name string) error {
	if err := tx.checkWrite(c.owner()); err != nil {
		return err
	}
	if run.IsZero() {
		return errZeroRun
	}
	if name == "" {
		return errEmptyName
	}
	return nil
}

// Init creates cell name of run with value s at version 1. If the cell
// exists it fails with an error wrapping ErrExists and writes nothing.
// Other errors: ErrInvalid (zero run, empty name, nil or foreign tx),
// ErrReadOnly, ErrTxDone, ErrClosed.
func (c *StateCell[S]) Init(tx *Tx, run RunID, name string, s S) (uint64, error) {
	if err := c.check(tx, run, name); err != nil {
		return 0, err
	}
	k := keyOf(run, name)
	if _, ok := txn.Get(tx.tx, c.cells, k); ok {
		return 0, errCellExists
	}
	if err := txn.Put(tx.tx, c.cells, k, stored(s, 1, tx.now())); err != nil {
		return 0, err
	}
	_, err := c.names.Add(tx, run, name)
	return 1, err
}

// Read returns the cell's state as tx sees it, and whether it exists. It
// reports false for the zero run, an empty name, a nil, ended or foreign
// transaction, or a closed DB. The value is the one stored: do not mutate it.
func (c *StateCell[S]) Read(tx *Tx, run RunID, name string) (State[S], bool) {
	if !tx.readable(c.owner()) || run.IsZero() || name == "" {
		return State[S]{}, false
	}
	st, ok := txn.Get(tx.tx, c.cells, keyOf(run, name))
	if !ok {
		return State[S]{}, false
	}
	return st.state(), true
}

// Set stores s unconditionally and returns the new version: the current
// version + 1, or 1 if the cell was absent (Set creates it). Errors as for
// Init (never ErrExists).
func (c *StateCell[S]) Set(tx *Tx, run RunID, name string, s S) (uint64, error) {
	if err := c.check(tx, run, name); err != nil {
		return 0, err
	}
	k := keyOf(run, name)
	now := tx.now() // before the read: see Transition
	cur, ok := txn.Get(tx.tx, c.cells, k)
	v := cur.version + 1
	if err := txn.Put(tx.tx, c.cells, k, stored(s, v, now)); err != nil {
		return 0, err
	}
	if !ok {
		if _, err := c.names.Add(tx, run, name); err != nil {
			return 0, err
		}
	}
	return v, nil
}

// CAS stores s if the cell's current version (as tx sees it) is expected,
// and returns the new version (expected + 1). Otherwise it fails with an
// error wrapping ErrVersionMismatch and writes nothing; that includes an
// absent cell (CAS never creates one: use Init, or Set). The version read
// is validated at commit, so the swap is atomic. Other errors as for Init.
func (c *StateCell[S]) CAS(tx *Tx, run RunID, name string, expected uint64, s S) (uint64, error) {
	if err := c.check(tx, run, name); err != nil {
		return 0, err
	}
	k := keyOf(run, name)
	now := tx.now() // before the read: see Transition
	cur, ok := txn.Get(tx.tx, c.cells, k)
	if !ok {
		return 0, errNoCell
	}
	if cur.version != expected {
		return 0, fmt.Errorf("%w: cell %q is at version %d, expected %d", ErrVersionMismatch, name, cur.version, expected)
	}
	v := cur.version + 1
	if err := txn.Put(tx.tx, c.cells, k, stored(s, v, now)); err != nil {
		return 0, err
	}
	return v, nil
}

// Transition replaces the cell's value with fn(current value) and returns
// the new version: an atomic read-modify-write. If the cell is absent it
// fails with an error wrapping ErrNotFound; if fn returns an error, that
// error is returned unchanged and nothing is written. A nil fn is an error
// wrapping ErrInvalid; other errors as for Init.
//
// fn must be pure: when Update retries a conflicting transaction, fn runs
// again on the value the new attempt reads. It must not mutate its argument
// (the stored value; see the aliasing rule): return a new value instead.
func (c *StateCell[S]) Transition(tx *Tx, run RunID, name string, fn func(S) (S, error)) (uint64, error) {
	if err := c.check(tx, run, name); err != nil {
		return 0, err
	}
	if fn == nil {
		return 0, fmt.Errorf("%w: nil transition function", ErrInvalid)
	}
	k := keyOf(run, name)
	// The clock is read before the cell: a read-modify-write conflicts
	// when another commit lands between its read and its commit, and a
	// clock read (136 ns on the project's VM) inside that window widens it
	// for nothing.
	now := tx.now()
	cur, ok := txn.Get(tx.tx, c.cells, k)
	if !ok {
		return 0, errNotFound
	}
	s, err := fn(cur.value)
	if err != nil {
		return 0, err
	}
	v := cur.version + 1
	if err := txn.Put(tx.tx, c.cells, k, stored(s, v, now)); err != nil {
		return 0, err
	}
	return v, nil
}

// Delete removes the cell and reports whether it existed (as tx sees it).
// Deleting an absent cell writes nothing. Errors as for Init. The cell's
// record leaves the store once no snapshot can see the cell (see Memory in
// the package doc).
func (c *StateCell[S]) Delete(tx *Tx, run RunID, name string) (bool, error) {
	if err := c.check(tx, run, name); err != nil {
		return false, err
	}
	existed, err := txn.Delete(tx.tx, c.cells, keyOf(run, name))
	if err != nil || !existed {
		return existed, err
	}
	_, err = c.names.Remove(tx, run, name)
	return true, err
}

// deleteRun deletes every cell of run and the run's name set.
func (c *StateCell[S]) deleteRun(tx *Tx, run RunID) error {
	for name := range c.names.All(tx, run) {
		if _, err := txn.Delete(tx.tx, c.cells, keyOf(run, name)); err != nil {
			return err
		}
	}
	return c.names.Clear(tx, run)
}
