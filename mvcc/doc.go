// Package mvcc is Substrate's multi-version layer (Tier A1): the lazy commit
// clock, per-participant epoch slots, snapshots, versioned records and
// inline version garbage collection. Package txn builds serializable
// optimistic transactions on it.
//
// # Pieces
//
//   - [Domain]: the clock word (an atomic uint64 alone on a 128-byte line:
//     a tick and a dirty bit), a fixed array of 128-byte padded epoch slots
//     with a lock-free overflow list, and the cached GC watermark. It
//     implements [arena.Epochs], so version nodes unlinked by GC go to an
//     [arena.Pool] that reuses them only once no snapshot can still reach
//     them.
//   - [Slot]: one participant's registration (a pooled transaction owns one
//     for its lifetime). [Slot.Acquire] publishes a fresh snapshot,
//     [Slot.AcquireOptimistic] a read-write one, without a lock or an
//     allocation; [Slot.Release] ends it; [Slot.NoteCommit] drives GC. A
//     slot from [Domain.NewSharedSlot] serves goroutines in turn, each
//     taking it for one snapshot with [Slot.TryAcquire].
//   - [Record]: one key's newest-first chain of immutable versions plus a
//     lock word. Snapshot reads are wait-free except while a committer that
//     the snapshot must see sits between locking the record and installing
//     its version (a few hundred nanoseconds, no user code).
//   - [Store]: a lockfree.Map from keys to *Record, a node pool for versions,
//     and Silo-style partition counters for phantom protection.
//
// # Versions and snapshots
//
// A version is tick<<[SeqBits] | seq: the clock tick its commit read, and a
// sequence number that orders the versions of one record within a tick. A
// snapshot is a bound tick<<SeqBits | (1<<SeqBits - 1) and sees exactly the
// versions of its tick or earlier. The clock word is tick<<1 | dirty.
//
//   - A read-write commit (after locking its write set) reads the clock and
//     takes V = max((tick+1)<<SeqBits, 1 + the newest version of each record
//     it writes). It writes the clock only to set the dirty bit when it is
//     clear, or to raise the tick when a record has used up its seqs in the
//     current tick. Disjoint commits therefore share versions and, once the
//     clock is dirty, do not write any common cache line (TL2's GV5 plus
//     Silo's per-record sequence; see [Domain]).
//   - A fresh snapshot (read-only transactions) advances a dirty clock by one
//     tick and clears the bit (one CAS), and takes that tick. It sees every
//     commit that returned before it began, and all or nothing of every
//     other commit: a commit with V <= S read the clock before the advance,
//     hence had locked its write set before the snapshot began, so the
//     reader waits for its locks or finds it installed (see [Domain] for the
//     numbered argument and [Record.Read] for the wait).
//   - A read-write snapshot is bound(tick+dirty) of one load: no shared
//     write, fresh, but possibly torn by a commit in progress; package txn
//     validates every read at commit and re-runs closures that failed on a
//     torn view.
//
// # Version GC
//
// The watermark W is min(bound(tick+dirty), every announced snapshot),
// computed in O(slots) and cached (see [Domain.RefreshWatermark]); every
// active or future snapshot has S >= W. When a committer installs a new head
// on a record it walks the chain to the first version with version <= W; a
// snapshot at S >= W stops there or earlier, so every older version is
// unreachable for new walks and is unlinked and retired to the store's
// [arena.Pool], tagged with the watermark. The pool hands a node out again
// only when the watermark has moved past that tag, which happens only after
// every reader that could still hold the node has released its snapshot
// (the argument is on [Domain.Epoch]). Refreshes are driven by
// [Slot.NoteCommit]: when one record takes [WatermarkEvery] versions in a
// tick, and otherwise about once per 128 commits of some participant, each
// advancing the clock if it is dirty (the periodic epoch advance of Silo,
// needed so that a workload of commits only still reuses nodes).
//
// The rule for users: release every snapshot. A snapshot held open keeps
// the versions it could read of every key written meanwhile, and a
// forgotten one pins memory until it is released; [Domain.Stats] shows the
// oldest active snapshot and its age in clock ticks.
//
// Pedigree: TL2's versioned write locks and clock variants (Dice, Shalev,
// Shavit, DISC'06); Silo's lock-then-validate commit, TIDs of epoch and
// sequence, and node-set phantom protection (Tu et al., SOSP'13); snapshot
// extension from LSA and TinySTM (Riegel, Felber, Fetzer, DISC'06; Felber,
// Fetzer, Riegel, PPoPP'08); Hekaton's multi-version records with version
// GC driven by the oldest active transaction (Larson et al., VLDB'11);
// epoch-based reclamation (Fraser, "Practical lock-freedom", 2004).
package mvcc
