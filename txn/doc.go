// Package txn provides serializable optimistic transactions over mvcc
// records (Tier A1): snapshot reads, buffered writes with read-your-own-
// writes, phantom-safe scans, and a lock-validate-install commit.
//
// # Using it
//
//	e := txn.NewEngine()
//	users := txn.NewStore[string, User](e)     // any K comparable, any V
//	counts := txn.NewStore[uint64, int](e)     // one transaction spans both
//
//	err := e.Update(func(tx txn.Tx) error {    // re-run on conflict, bounded
//		u, ok := txn.Get(tx, users, "ada")
//		...
//		return txn.Put(tx, counts, id, n+1)
//	})
//	err = e.View(func(tx txn.Tx) error { ... }) // read-only snapshot
//
//	tx := e.Begin()                            // explicit
//	defer tx.Rollback()                        // harmless after Commit
//	...
//	err = tx.Commit()                          // errors.Is(err, txn.ErrConflict)
//
// # Guarantees
//
// Read-write transactions are strictly serializable: each one that commits
// appears to take effect atomically at its commit version, which lies
// between its Begin and its Commit, and commits are ordered by version.
// Read-only transactions (and read-write ones that wrote nothing) take effect
// at their snapshot, never conflict, and never touch the shared clock. A
// failed commit leaves no trace. Write skew and phantoms are prevented: reads
// are validated at commit, and scans and reads of absent keys watch Silo-style
// partition counters (see mvcc.Store).
//
// # How a commit works
//
// Silo/TL2 style with multi-version reads (see txState.commit for the
// numbered protocol): reads run at the snapshot without locks; the commit
// try-locks the write set (no waiting, hence no deadlock), takes a version
// with one atomic Add on the global clock, validates the read set and the
// watched counters, installs the new versions (recycling old ones through the
// epoch-deferred node pool) and unlocks. A transaction object is pooled and
// owns an mvcc epoch slot for its lifetime, so Begin+Commit, a point read and
// an update of an existing key allocate nothing in steady state.
//
// # Type erasure
//
// A Tx may touch stores of different key and value types. Each store gets a
// typed per-transaction participant (its write set stays typed, so values
// are never boxed into interfaces), found by store id and cached in the
// pooled transaction object; the commit protocol drives participants through
// a small unexported interface.
//
// # Costs and caveats
//
//   - Readers wait only while a committer they must see is between locking a
//     record and installing it (no user code runs there). Writers never wait
//     for readers.
//   - A blind Put never conflicts with other writers of the key; the
//     later commit wins. Read the key first to make the write conditional.
//   - A Scan watches all partition counters of its store, so any insert or
//     delete in that store by a transaction that commits first aborts it.
//     ScanPartition watches one partition; with mvcc.WithPartitioner mapping
//     a group of keys (a run, a prefix) to one partition, scans of a group
//     conflict only with writers of that group. Reads of absent keys watch
//     their key's partition.
//   - Release every snapshot: an open transaction holds back version GC (see
//     package mvcc); Domain().Stats() shows the oldest one.
package txn
