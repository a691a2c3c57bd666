// Package prims will hold the DB and the five agent primitives (KVStore,
// EventLog, StateCell, TraceStore, RunIndex), any mix of them atomic in one
// transaction (Tiers B and C). See ../shared/API.md for the contract.
//
// It is not built yet: issue "Tiers B and C" fills it. Nothing here works today.
package prims
