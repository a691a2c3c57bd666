// Package chaos holds the scheduling hooks of Substrate's adversarial stress
// runs: named points on the commit and snapshot paths where a test-only
// build may yield the processor to widen race windows.
//
// Library code marks a critical point with
//
//	chaos.Yield("txn.commit.locked")
//
// In a normal build Yield is an empty function that the compiler inlines
// away: a call costs nothing, and Enabled is a false constant so that
// `if chaos.Enabled { ... }` blocks are removed too. Built with the tag
// substrate_adversarial,
//
//	go test -race -tags substrate_adversarial ./stress/...
//
// Yield counts the hit and calls runtime.Gosched about half of the time
// (and, rarely, sleeps a few microseconds), so that another goroutine runs
// between the steps the point separates: between locking the write set and
// taking a version, between taking a version and validating, between
// installing one record and the next. Correct code must keep every
// invariant under any such interleaving; the stress tests check that it
// does, and Hits shows which points were reached.
//
// Point names are dotted, package first ("txn.commit.validated"). They are
// free-form; use a constant string so the disabled call stays free.
package chaos
