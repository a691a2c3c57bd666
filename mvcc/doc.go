// Package mvcc will hold Substrate's multi-version layer: the global version
// clock, per-participant epochs, snapshots, versioned records and version GC
// (Tier A1).
//
// It is not built yet: issue "Tier A1" fills it. Nothing here works today.
package mvcc
