// Package txn will hold serializable optimistic transactions over mvcc
// records: read sets, buffered write sets, range sets for phantom protection,
// and commit with validation (Tier A1).
//
// It is not built yet: issue "Tier A1" fills it. Nothing here works today.
package txn
