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
// appears to take effect atomically at its commit point (the moment its
// commit reads the clock with its whole write set locked), which lies
// between its Begin and its Commit; write skew and phantoms are prevented
// (reads are validated at commit, and scans and reads of absent keys watch
// Silo-style partition counters, see mvcc.Store). A read-write transaction
// that wrote nothing validates its reads at Commit too and serializes
// there. A failed commit leaves no trace.
//
// Read-only transactions (View, BeginReadOnly) see one consistent, fresh
// snapshot: all of every commit that returned before they began (including
// the caller's own: read-your-own-commits across transactions and
// goroutines, given a happens-before edge), all or nothing of every other
// commit. They never conflict.
//
// Read-write closures may observe an inconsistent state that validation
// later rejects. A read-write transaction reads at an optimistic snapshot
// (it includes the commits of the clock tick in progress, so it costs no
// shared write; it is announced at the transaction's first read, so one
// that only writes announces none) and is validated only at commit, so while fn runs it can
// see part of a concurrent commit (x updated, y not yet). Such an attempt
// never commits. Update re-runs it: when fn returns an error other than a
// conflict, or panics, Update first validates what fn read, and if a read
// has changed it treats the failure as a conflict and re-runs fn (the error
// is dropped, the panic recovered); a failure on a view that is still valid
// is returned (or re-panicked) as before. Keep closures free of side
// effects, and compute only their writes and result from what they read.
// An explicit Begin() user sees the same: act on values read only after
// Commit succeeded. Code that finds a state it believes impossible (a
// broken invariant, an index entry without its record) calls Tx.Validate
// first: a conflict there means the view was torn and the finding is an
// artefact (package prims does this in EventLog.VerifyChain and ReadRange,
// so a chain is never reported broken on a torn view). View closures
// always see a consistent snapshot.
//
// When a read-write transaction meets a version installed after its
// snapshot (the read could never validate), it extends the snapshot
// (LSA/TinySTM): it takes a newer one, re-validates everything it read so
// far, and, if that holds, continues there, so long transactions make
// progress against a stream of commits to keys they have not read yet. If
// the re-validation fails the transaction is doomed: it keeps reading its
// old view, its writes return the conflict, and Commit fails with
// ErrConflict (Update re-runs it).
//
// Why serializable and not snapshot isolation: under snapshot isolation two
// transactions that each read x and y and write one of them both commit
// (write skew), and a transaction that counts or scans can miss a
// concurrent insert (phantom); the system this design replaces allowed
// write skew. Validating reads and partition counters at commit costs a few
// loads per read and rules both out.
//
// # How a commit works
//
// Silo/TL2 style with multi-version reads (see txState.commit for the
// numbered protocol): reads run at the snapshot without locks; the commit
// try-locks the write set (no waiting, hence no deadlock), takes a version
// from the lazy clock (mvcc.Domain.CommitVersion: one load of a read-mostly
// line in the common case, no shared write), validates the read set and the
// watched counters, installs the new versions (recycling old ones through
// the epoch-deferred node pool) and unlocks. Commits of disjoint keys share
// versions and write no common cache line, so they scale with cores. A
// read-write transaction object is pooled and owns an mvcc epoch slot for
// its lifetime; a read-only transaction takes one of the engine's reader
// objects instead, whose slot it holds only for the transaction
// (mvcc.Slot.TryAcquire: the CAS that announces the snapshot also takes
// the object, and the release hands it on, with no pool round trip). So
// Begin+Commit, a point read and an update of an existing key allocate
// nothing in steady state.
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
