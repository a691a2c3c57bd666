// Package stress will hold invariant tests (lost updates, lost events,
// duplicate sequences, starvation) and the contention protocol (Tier D).
//
// It is not built yet: issue "Tier D and stress/" fills it. Nothing here works today.
package stress
