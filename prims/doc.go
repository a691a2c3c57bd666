// Package prims is what Substrate's users start from: the DB and the agent
// primitives built on serializable optimistic transactions (package txn),
// any mix of them atomic in one transaction (Tiers B and C of the M3 plan).
//
//	db, _ := prims.Open()
//	defer db.Close()
//	kv, _ := prims.NewKVStore[Profile](db, "profiles")
//	steps, _ := prims.NewEventLog[[]byte](db, "steps")
//	state, _ := prims.NewStateCell[Plan](db, "plan")
//	run := prims.NewRunID()
//
//	err := db.Update(func(tx *prims.Tx) error {  // re-run on conflict
//		if err := kv.Put(tx, run, "user", p); err != nil {
//			return err
//		}
//		if _, err := steps.Append(tx, run, "tool_call", payload); err != nil {
//			return err
//		}
//		_, err := state.Transition(tx, run, "plan", next)
//		return err
//	})
//
// # Primitives
//
//   - [KVStore]: per-run string keys to typed values, with a sorted,
//     phantom-safe List.
//   - [EventLog]: per-run append-only logs, sequence numbers 0, 1, 2, ...
//     without gaps or duplicates, SHA-256 hash-chained ([EventLog.VerifyChain]).
//   - [StateCell]: per-run named, versioned cells with Init, CAS and
//     Transition (atomic read-modify-write).
//   - TraceStore and RunIndex (db.Traces(), db.Runs()): typed traces with
//     indexes, and run lifecycles with cascade delete.
//
// KV stores, event logs and state cells live in one namespace of store
// names: reopening a name with the same type returns the same store, with
// another type or kind it fails with an error wrapping [ErrExists].
// Every datum belongs to a run ([RunID], a UUID); the zero RunID is
// invalid everywhere.
//
// # Guarantees
//
// Read-write transactions ([DB.Update], [DB.Begin]) are strictly
// serializable across every store of the DB, including reads of absent keys,
// listings and log lengths (phantoms): what a transaction read is validated
// at commit, and a transaction that fails validation leaves no trace and
// returns an error wrapping [ErrConflict] (Update re-runs its function,
// bounded, with backoff). Read-only transactions ([DB.View]) see one
// consistent snapshot of every store, never conflict, and never block
// writers; writes in them fail with [ErrReadOnly].
//
// Bad input (empty names or keys, the zero RunID, a nil or foreign
// transaction) is an error wrapping [ErrInvalid], never a panic and never a
// partial write; reads that return no error report nothing found. A failed
// operation does not poison its transaction, which may go on and commit.
// After [DB.Close] every operation fails with [ErrClosed].
//
// # Memory
//
// A deleted value is released once no snapshot can read it (version GC),
// and the record of a deleted KV key, state cell, run or index entry (a
// lock word and a tombstone version) leaves its store at the same point
// (mvcc.Store.Entomb): a workload that creates and deletes ever new keys or
// runs does not grow with what it deleted. A transaction that still holds
// such a record when it goes fails with ErrConflict and Update retries it.
// Events and traces live in dense per-run arrays; their records leave in
// the same way, and a deleted run's arrays go with its last record.
// Snapshots delay both: while a [DB.View] or a transaction from [DB.Begin]
// is open, no version replaced or deleted after it began can be freed; end
// transactions promptly.
//
// # Aliasing rule
//
// Values are stored as the Go values given: no serialization, no copy. So
// the caller must not mutate a value (or anything it references: slice
// elements, map entries, pointees) after passing it to Put, Append, Init,
// Set, CAS or returning it from a Transition function, and must not mutate
// a value returned by Get, Read or ReadRange: readers in other transactions
// share it. To change a value, build a new one and store it. Immutable
// values (strings, numbers, structs of them) need no care. Mutating a
// stored event payload is also detected: VerifyChain re-hashes payloads.
//
// # How it is built
//
// A DB wraps one txn.Engine. Every primitive is a few mvcc stores keyed by
// comparable structs (a run and a string, a run and a number), hashed by
// custom hashers (xxhash for strings, splitmix for the RunID words) rather
// than the generic path. Indexes (a run's KV key set, its cell names, a
// log's head record) are ordinary records read and written in the same
// transaction; see index.go. Every primitive registers a run-delete hook
// with its DB, so that RunIndex.Delete removes a run's data from every
// store in one transaction.
package prims
