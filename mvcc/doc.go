// Package mvcc is Substrate's multi-version layer (Tier A1): the global
// version clock, per-participant epoch slots, snapshots, versioned records
// and inline version garbage collection. Package txn builds serializable
// optimistic transactions on it.
//
// # Pieces
//
//   - [Domain]: one global version clock (an atomic uint64 alone on a 128-byte
//     line), a fixed array of 128-byte padded epoch slots with a lock-free
//     overflow list, and the cached GC watermark. It implements
//     [arena.Epochs], so version nodes unlinked by GC go to an [arena.Pool]
//     that reuses them only once no snapshot can still reach them.
//   - [Slot]: one participant's registration (a pooled transaction owns one
//     for its lifetime). [Slot.Acquire] publishes a snapshot without a lock
//     or an allocation; [Slot.Release] ends it.
//   - [Record]: one key's newest-first chain of immutable versions plus a
//     lock word. Snapshot reads are wait-free except while a committer that
//     the snapshot must see sits between locking the record and installing
//     its version (a few hundred nanoseconds, no user code).
//   - [Store]: a lockfree.Map from keys to *Record, a node pool for versions,
//     and Silo-style partition counters for phantom protection.
//
// # Versions and snapshots
//
// The clock starts at 0. A read-write commit takes version V = clock.Add(1)
// (TL2's GV1). A snapshot S is a clock value and sees exactly the versions
// with commit version <= S. Read-only transactions and empty commits never
// write the clock.
//
// All-or-nothing visibility. A committer locks its whole write set, then
// takes V, publishes V into each lock word, installs and unlocks. A reader at
// S that meets a record locked with an unknown or pending version <= S waits
// for the installation (see [Record.Read]). Why this is enough: if V <= S,
// the committer took V before the reader read S (the clock only grows), and
// it had locked every record of its write set before taking V. So when the
// reader looks at any of those records, each one is either still locked
// (the reader waits until it is installed) or already installed. If V > S,
// the reader skips the version wherever it finds it. A reader therefore sees
// all of a commit or none of it.
//
// # Version GC
//
// The watermark W is min(clock, every active snapshot), computed in
// O(slots) and cached (see [Domain.Watermark]). Every active or future
// snapshot has S >= W. When a committer installs a new head on a record it
// walks the chain to the first version with version <= W; a snapshot at
// S >= W stops there or earlier, so every older version is unreachable for
// all of them and is unlinked and retired to the store's [arena.Pool],
// tagged with the current clock. The pool hands a node out again only when
// [Domain.Safe] (the watermark) has passed that tag, that is when every
// snapshot still active began after the node was unlinked.
//
// The rule for users: release every snapshot. A snapshot held open across N
// commits keeps up to N versions of each hot key it could read, and a
// forgotten one pins memory until it is released; [Domain.Stats] shows the
// oldest active snapshot and its age in versions.
//
// Pedigree: TL2's global version clock and versioned write locks (Dice,
// Shalev, Shavit, DISC'06); Silo's lock-then-validate commit and node-set
// phantom protection (Tu et al., SOSP'13); Hekaton's multi-version records
// with version GC driven by the oldest active transaction (Larson et al.,
// VLDB'11); epoch-based reclamation (Fraser, "Practical lock-freedom", 2004).
package mvcc
