package prims

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/substrate-lab/substrate/txn"
)

// DB is an embedded, in-memory Substrate database: one transaction engine
// (txn.Engine) and the named stores built on it. Every primitive operation
// takes a *Tx first, so one transaction may touch any mix of stores and
// runs atomically.
//
// All methods are safe for concurrent use. A DB must not be copied; create
// it with Open and end it with Close.
type DB struct {
	e     *txn.Engine
	retry txn.RetryPolicy

	// closed is set once by Close; every operation checks it first.
	closed atomic.Bool

	// mu guards stores and the writers of hooks and comps.
	mu sync.Mutex
	// stores is the namespace of named stores (KV stores, event logs,
	// state cells), name -> *KVStore[V] / *EventLog[P] / *StateCell[S].
	stores map[string]namedStore
	// hooks is the run-delete hook registry, copy-on-write: readers load
	// the slice without the lock and never modify it.
	hooks atomic.Pointer[[]runHook]
	// comps holds the DB-wide components (see component), copy-on-write.
	comps atomic.Pointer[map[string]any]
}

// namedStore is a store that lives under a name in the DB's namespace. Every
// primitive implements deleteRun, which Open's registry turns into a
// run-delete hook.
type namedStore interface {
	// deleteRun removes every datum of run from the store inside tx (see
	// DB.deleteRunData).
	deleteRun(tx *Tx, run RunID) error
}

// runHook is one structure's run-delete hook: it removes run's data from
// that structure inside tx.
type runHook func(tx *Tx, run RunID) error

// Option configures a DB at Open.
type Option func(*config)

type config struct {
	retry txn.RetryPolicy
}

// WithRetryPolicy sets the policy with which Update re-runs its function on
// conflicts (zero fields take txn.DefaultRetryPolicy's values). The default
// is txn.DefaultRetryPolicy: at most 150 attempts, yields then bounded
// exponential backoff with jitter (a first retry comes at once while such
// retries have been committing; see txn.RetryPolicy).
func WithRetryPolicy(p txn.RetryPolicy) Option {
	return func(c *config) { c.retry = p }
}

// Open returns a new, empty, in-memory DB. It never fails today; the error
// is there for options that may (a future durable mode).
func Open(opts ...Option) (*DB, error) {
	c := config{retry: txn.DefaultRetryPolicy}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	db := &DB{
		e:      txn.NewEngine(txn.WithRetryPolicy(c.retry)),
		retry:  c.retry,
		stores: make(map[string]namedStore),
	}
	return db, nil
}

// Close closes the DB. Afterwards Begin, Update, View, the store
// constructors and every primitive operation fail with an error wrapping
// ErrClosed (reads that return no error report nothing found), including on
// transactions begun before Close: their Commit rolls back and returns
// ErrClosed. A commit that finished before Close stays. Close is idempotent
// and always returns nil. The data is dropped with the DB once nothing
// references it.
func (db *DB) Close() error {
	if db == nil {
		return nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.closed.Store(true)
	db.stores = nil
	db.hooks.Store(nil)
	db.comps.Store(nil)
	return nil
}

// Begin starts an explicit serializable read-write transaction. End it with
// Commit or Rollback; a deferred Rollback after Commit is harmless. The *Tx
// stays safe after it ends: Commit or Rollback again, and every operation,
// return ErrTxDone (reads report nothing found), and never act on another
// transaction. On a closed DB the returned Tx is dead and its operations
// fail with ErrClosed.
//
// What the transaction reads is validated at Commit, not as it reads: it
// may see part of a concurrent commit (see Update), in which case Commit
// fails with ErrConflict. Do not act on what it read until Commit succeeds.
func (db *DB) Begin() *Tx {
	if db == nil {
		return &Tx{}
	}
	if db.closed.Load() {
		return &Tx{db: db}
	}
	return &Tx{db: db, tx: db.e.Begin()}
}

// Update runs fn in a serializable read-write transaction and commits it.
// When the commit fails validation (or fn returns an error wrapping
// ErrConflict) fn runs again in a fresh transaction, paced and bounded by
// the retry policy (WithRetryPolicy); when the attempts run out the error is
// a *txn.RetryError wrapping the last conflict (errors.Is(err, ErrConflict)
// holds). Any other error from fn rolls the transaction back and is returned
// unchanged. If fn panics the transaction is rolled back and the panic
// continues.
//
// While fn runs, its reads are not yet validated: like Silo's, a read-write
// transaction may see part of a transaction that commits concurrently (a
// torn view, see package txn). Such a view never commits. Update judges a
// failure of fn by its reads: an error or panic raised while what fn read is
// no longer current is treated as a conflict and fn runs again; only a
// failure on a view that is still valid is returned (or re-raised). So fn
// must not act on what it read (log it, send it, write it outside the
// transaction) before Update returns; computing its writes and its result
// from it is what it is for. Read-only transactions (View) always see one
// consistent snapshot.
//
// fn may run more than once: it must not have effects outside the
// transaction that a re-run would repeat. tx is valid only until fn returns
// (it is pooled and reused by later calls: do not keep it), and fn must not
// Commit or Rollback it (Update does; if fn ends it, Update returns
// ErrTxDone).
func (db *DB) Update(fn func(tx *Tx) error) error {
	if err := db.usable(fn); err != nil {
		return err
	}
	_, err := db.e.UpdateN(db.retry, func(tx txn.Tx) error { return fn(db.handle(tx)) })
	return err
}

// handle returns the *Tx for tx, a live transaction of db's engine: the one
// kept with tx's pooled object (txn.Tx.Attached), made the handle of tx, or
// a new one the first time (the engine is db's alone, so a kept handle is
// always db's). It replaced a sync.Pool of handles (a Get and a
// Put per View or Update). A handle a closure kept past its return is dead
// (its txn.Tx names an ended incarnation) until the object serves another
// transaction, as it was with the pool: do not keep it.
func (db *DB) handle(tx txn.Tx) *Tx {
	slot := tx.Attached()
	t, _ := (*slot).(*Tx)
	if t == nil {
		t = &Tx{db: db}
		*slot = t
	}
	t.reset(tx)
	return t
}

// View runs fn in a read-only transaction: one consistent snapshot of every
// store, which never conflicts and never blocks writers. Writes in it fail
// with ErrReadOnly. It returns fn's error. If fn panics the snapshot is
// released and the panic continues. tx is valid only until fn returns (it is
// pooled: do not keep it).
func (db *DB) View(fn func(tx *Tx) error) error {
	if err := db.usable(fn); err != nil {
		return err
	}
	return db.e.View(func(tx txn.Tx) error { return fn(db.handle(tx)) })
}

func (db *DB) usable(fn func(*Tx) error) error {
	switch {
	case db == nil:
		return errNilDB
	case db.closed.Load():
		return errDBClosed
	case fn == nil:
		return fmt.Errorf("%w: nil function", ErrInvalid)
	}
	return nil
}

// openNamed returns the store registered under name if it has type S, or
// registers the store mk builds. Another store (of another type or kind)
// under name is an error wrapping ErrExists. The store's deleteRun becomes a
// run-delete hook.
func openNamed[S namedStore](db *DB, name string, mk func() S) (S, error) {
	var zero S
	if db == nil {
		return zero, errNilDB
	}
	if name == "" {
		return zero, errEmptyName
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed.Load() {
		return zero, errDBClosed
	}
	if old, ok := db.stores[name]; ok {
		if s, ok := old.(S); ok {
			return s, nil
		}
		return zero, fmt.Errorf("%w: store name %q is taken by a %T, not a %T", ErrExists, name, old, zero)
	}
	s := mk()
	db.stores[name] = s
	db.addHookLocked(s.deleteRun)
	return s, nil
}

// registerRunHook adds a run-delete hook for a structure that is not a named
// store (TraceStore). Hooks run in registration order. The RunIndex does not
// register one: its Delete removes its own records and calls deleteRunData
// for the rest. On a closed DB it does nothing.
func (db *DB) registerRunHook(fn runHook) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.closed.Load() {
		db.addHookLocked(fn)
	}
}

func (db *DB) addHookLocked(fn runHook) {
	var hs []runHook
	if p := db.hooks.Load(); p != nil {
		hs = append(hs, *p...)
	}
	hs = append(hs, fn)
	db.hooks.Store(&hs)
}

// deleteRunData removes run's data from every store of the DB (every named
// store and every structure that called registerRunHook) inside tx, a
// read-write transaction: all of it commits with tx or none of it. It is
// RunIndex.Delete's cascade.
//
// Each hook reads what it deletes (a run's key set, event count, cell names),
// so a concurrent commit that adds data to run makes tx fail validation
// instead of leaving orphans. A store created after tx began is covered if
// it was registered before this call; data written to it later by other
// transactions is theirs. On error tx may hold part of the deletion in its
// write set: the caller must roll it back (return the error from Update).
func (db *DB) deleteRunData(tx *Tx, run RunID) error {
	if err := tx.checkWrite(db); err != nil {
		return err
	}
	if run.IsZero() {
		return errZeroRun
	}
	p := db.hooks.Load()
	if p == nil {
		return nil
	}
	for _, h := range *p {
		if err := h(tx, run); err != nil {
			return err
		}
	}
	return nil
}

// component returns the DB-wide structure stored under key (the TraceStore,
// the RunIndex), building it with mk on first use; later calls return the
// same value, without a lock. mk runs under the DB's lock, so it must not
// call openNamed or registerRunHook (register hooks after it returns, or
// build with addHookLocked). On a closed DB component still builds and
// returns a value, whose operations fail with ErrClosed.
func component[T any](db *DB, key string, mk func() T) T {
	if p := db.comps.Load(); p != nil {
		if v, ok := (*p)[key]; ok {
			return v.(T)
		}
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	old := db.comps.Load()
	if old != nil {
		if v, ok := (*old)[key]; ok {
			return v.(T)
		}
	}
	v := mk()
	if db.closed.Load() {
		return v
	}
	m := make(map[string]any, 4)
	if old != nil {
		for k, x := range *old {
			m[k] = x
		}
	}
	m[key] = v
	db.comps.Store(&m)
	return v
}
