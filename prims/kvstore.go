package prims

import (
	"strings"

	"github.com/substrate-lab/substrate/mvcc"
	"github.com/substrate-lab/substrate/txn"
)

// KVStore is a named, typed key-value store partitioned by run: for every
// run, string keys map to values of type V. Create it with NewKVStore.
//
// Values are stored as the Go values given, not serialized and not copied
// (see the package's aliasing rule): do not mutate a value after Put, nor a
// value returned by Get.
//
// Each run's keys are also kept in a sorted key set (one record per run,
// updated when Put inserts a key or Delete removes one), which List reads:
// listing is phantom-safe, and a Put of a new key conflicts with concurrent
// listings and inserts of the same run (Puts of existing keys, and any
// operation on other runs, do not). Past 64 keys the set is kept in chunks,
// so an insert or delete copies about n/64 pointers and one chunk of at most
// 64 keys, not the whole key list: 47 us per insert+delete pair at 100,000
// keys per run (see setIndex).
//
// All methods are safe for concurrent use with different transactions.
type KVStore[V any] struct {
	db   *DB
	name string
	vals *mvcc.Store[runKey, V]
	keys setIndex[RunID, string]
}

// NewKVStore returns the KV store named name in db, creating it if needed.
// Reopening a name with the same V returns the same store; a name taken by
// a store of another type or kind is an error wrapping ErrExists. An empty
// name is an error wrapping ErrInvalid; a closed db, ErrClosed.
func NewKVStore[V any](db *DB, name string) (*KVStore[V], error) {
	return openNamed(db, name, func() *KVStore[V] {
		return &KVStore[V]{
			db:   db,
			name: name,
			vals: newStore[runKey, V](db, hashRunKey),
			keys: newSetIndex[RunID](db, hashRun, strings.Compare),
		}
	})
}

// Name returns the store's name ("" for a nil store).
func (s *KVStore[V]) Name() string {
	if s == nil {
		return ""
	}
	return s.name
}

// owner returns the store's DB, or nil for a nil store (a pointer left by
// a failed constructor), whose every operation then fails with an error
// wrapping ErrInvalid (or reports nothing found) instead of panicking:
// Tx.check and Tx.readable refuse a nil DB.
func (s *KVStore[V]) owner() *DB {
	if s == nil {
		return nil
	}
	return s.db
}

// Get returns key's value in run as tx sees it (its own writes included),
// and whether the key is present. In a read-write transaction the read is
// validated at commit (absent keys included). It reports false, with the
// zero V, for the zero RunID, an empty key, a nil, ended or foreign
// transaction, or a closed DB. A read allocates nothing.
//
// The value is the one stored, not a copy: do not mutate it.
func (s *KVStore[V]) Get(tx *Tx, run RunID, key string) (v V, ok bool) {
	if !tx.readable(s.owner()) || run.IsZero() || key == "" {
		return v, false
	}
	return txn.Get(tx.tx, s.vals, keyOf(run, key))
}

// Put sets key to v in run. The value is stored as given, not copied: the
// caller must not mutate it (or anything it points to) afterwards.
//
// Put reads the key first (to know whether it is new, for the run's key
// set), so concurrent Puts of one key conflict and one of them retries,
// rather than the later commit blindly winning. Errors: ErrInvalid (zero
// run, empty key, nil or foreign tx), ErrReadOnly, ErrTxDone, ErrClosed; on
// error nothing is written.
func (s *KVStore[V]) Put(tx *Tx, run RunID, key string, v V) error {
	if err := tx.checkWrite(s.owner()); err != nil {
		return err
	}
	if run.IsZero() {
		return errZeroRun
	}
	if key == "" {
		return errEmptyKey
	}
	k := keyOf(run, key)
	_, existed := txn.Get(tx.tx, s.vals, k)
	if err := txn.Put(tx.tx, s.vals, k, v); err != nil {
		return err
	}
	if !existed {
		_, err := s.keys.Add(tx, run, key)
		return err
	}
	return nil
}

// Delete removes key from run and reports whether it was present (as tx
// sees it). Deleting an absent key writes nothing. Errors as for Put. The
// key's record leaves the store once no snapshot can see the key (see
// Memory in the package doc).
func (s *KVStore[V]) Delete(tx *Tx, run RunID, key string) (existed bool, err error) {
	if err := tx.checkWrite(s.owner()); err != nil {
		return false, err
	}
	if run.IsZero() {
		return false, errZeroRun
	}
	if key == "" {
		return false, errEmptyKey
	}
	existed, err = txn.Delete(tx.tx, s.vals, keyOf(run, key))
	if err != nil || !existed {
		return existed, err
	}
	_, err = s.keys.Remove(tx, run, key)
	return true, err
}

// List returns run's keys that start with prefix (every key for ""), sorted
// in byte order, as tx sees them; nil if there are none. The slice is the
// caller's.
//
// In a read-write transaction List is phantom-safe: it reads the run's key
// set, so if a concurrent transaction inserts or deletes any key of the run
// (matching prefix or not) and commits first, tx fails validation with
// ErrConflict. Inserts into other runs do not affect it. Errors: ErrInvalid
// (zero run, nil or foreign tx), ErrTxDone, ErrClosed.
func (s *KVStore[V]) List(tx *Tx, run RunID, prefix string) ([]string, error) {
	if err := tx.checkRead(s.owner()); err != nil {
		return nil, err
	}
	if run.IsZero() {
		return nil, errZeroRun
	}
	var keys []string
	if prefix == "" {
		if n := s.keys.Len(tx, run); n > 0 {
			keys = make([]string, 0, n)
		}
	}
	for key := range s.keys.From(tx, run, prefix) {
		if !strings.HasPrefix(key, prefix) {
			break
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// deleteRun deletes every key of run and the run's key set.
func (s *KVStore[V]) deleteRun(tx *Tx, run RunID) error {
	for key := range s.keys.All(tx, run) {
		if _, err := txn.Delete(tx.tx, s.vals, keyOf(run, key)); err != nil {
			return err
		}
	}
	return s.keys.Clear(tx, run)
}
