// Package stress holds Substrate's contention protocol (M3 plan, "Contention
// Benchmark Protocol", Tier D) as a reusable library, and the invariant
// tests that run it against the primitives: lost updates, lost events,
// duplicate sequences, starvation, panics and snapshot consistency.
//
// # The protocol
//
// [Run] drives Protocol.Workers goroutines, each calling one operation in a
// loop through three phases:
//
//	|--warmup--|--measurement--|--cooldown--|
//	   500ms        2000ms         500ms        (DefaultProtocol)
//
// Only operations that complete during the measurement phase are counted in
// the figures (throughput, attempts, retry rate, latency percentiles from
// per-worker HDR histograms merged at the end); warmup and cooldown keep the
// other workers busy while the measured ones start and finish, so that every
// measured operation ran under full contention. Successes in every phase
// are also counted (Result.AllSuccesses), because the invariants (a
// counter's final value, a log's length) see every committed operation.
// A worker that panics is recovered and reported with its stack, never
// crashes the process; an operation that ran out of retries is reported
// apart from errors when it says so ([ErrGaveUp]); [Result.Judge] turns the
// plan's rules (starvation, fairness, attempt limits, p99 and max against
// the mean, retry rate) into failures and warnings, under [Limits]. Checking
// the data's invariants is the caller's job: only the operation's owner
// knows them.
//
// Per-worker figures are only as fair as the machine: a Result records the
// CPU its process got (CPUShare), the load of everything else on the
// machine (OtherLoad, from /proc/stat) and the workers per core
// (Oversubscription), and [Protocol.Fair] lengthens short runs so that
// every worker gets several scheduler slices. The tests and the benchmarks
// judge starvation only where those say the run could show it.
//
//	p := stress.DefaultProtocol(8)          // or stress.ShortProtocol(8)
//	res, err := stress.Run(ctx, p, func(w int) (int, error) {
//		attempts := 0
//		err := db.Update(func(tx *prims.Tx) error {
//			attempts++
//			_, err := cells.Transition(tx, run, "n", incr)
//			return err
//		})
//		return attempts, err
//	})
//	v := res.Judge(stress.DefaultLimits)    // v.Failures, v.Warnings
//	// then the caller's invariant: cell value == res.AllSuccesses
//
// # The machine's own limits
//
// Two probes say what the machine allows before the engine adds anything,
// so that a Tier D figure can be read against them: [Handoff], the time to
// hand one cache line between two cores (the floor under same-key
// throughput), and [Ceiling], the scaling the cores give work that shares
// nothing (the ceiling over a disjoint case's x-1worker). Both are measured
// right after each Tier D case, because a shared host changes them while a
// process runs.
//
// # The tests
//
//	go test -race ./stress/...                         # short: 150-400 ms per run
//	go test -race -count=1 -cpu 1,2,4,8 ./stress/...   # every GOMAXPROCS
//	go test ./stress/... -stress.duration 2s           # the plan's measurement length
//	go test -race -tags substrate_adversarial ./stress/... # yields at commit points
//
// Each test is named after the invariant it guards (TestLostUpdates...,
// TestLostEvents..., TestDuplicateSequences..., TestStarvation...,
// TestNoPanics..., TestSnapshotInvariant..., TestOversubscribed...).
// Invariant tests fail on panics, stuck workers, failed operations and
// broken invariants, and log progress figures; TestStarvation judges
// progress (no starved worker, no operation that gave up, max attempts <
// 200), rerunning longer on a busy machine or under -race before failing.
// The substrate_adversarial tag turns on internal/chaos: the transaction
// engine's commit path then yields at its critical points, widening every
// race window the invariants would expose, and TestAdversarialHooksReached
// checks that those points are on the tested paths.
package stress
