package stress

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/substrate-lab/substrate/prims"
)

// TestStarvation guards the plan's starvation rules on one hot StateCell
// with two workers per core (starvationWorkers): every worker has measured successes (a worker with none fails the test,
// unless the machine was too busy to tell: see busyShare), a worker under 10% of the mean is logged as a
// fairness warning, and no operation takes 200 attempts or more (asserted
// here and logged). Both commit styles run: db.Update, whose retry policy
// (yield, then randomized backoff) is what users get, and the explicit
// loop that retries at once, where only the engine's progress guarantee
// prevents starvation.
func TestStarvation(t *testing.T) {
	limits := DefaultLimits
	limits.Starvation = false // judged below, with the machine's load in view
	for _, c := range committers {
		t.Run(c.name, func(t *testing.T) {
			h := newHotCell(t)
			p := testProtocol(starvationWorkers())
			var total int64
			for try := 1; ; try++ {
				r := runStress(t, p, limits, h.transition(c))
				total += r.AllSuccesses
				per := make([]string, len(r.Workers))
				for i, w := range r.Workers {
					per[i] = fmt.Sprintf("w%d %d ops %d max-attempts", w.Worker, w.Successes, w.MaxAttempts)
				}
				t.Logf("max attempts per op %d (limit %d), mean %.2f, min worker %d of mean %.0f; %s",
					r.MaxAttempts, DefaultLimits.MaxAttempts, r.MeanAttempts(), r.MinWorkerSuccesses(),
					r.MeanWorkerSuccesses(), strings.Join(per, ", "))
				if r.MaxAttempts >= DefaultLimits.MaxAttempts {
					t.Errorf("an operation took %d attempts (plan: < %d)", r.MaxAttempts, DefaultLimits.MaxAttempts)
				}
				s := r.Starved()
				if len(s) == 0 {
					break
				}
				if try < busyRetries && (r.Busy() || raceEnabled) {
					t.Logf("workers %v starved (other load %.2f cores, CPU share %.0f%%, race %v): "+
						"rerunning with a %v measurement", s, r.OtherLoad(), r.CPUShare()*100, raceEnabled, 2*p.Measure)
					p = p.WithMeasure(2 * p.Measure)
					continue
				}
				t.Errorf("starvation: workers %v had no success in %v (other load %.2f cores, CPU share %.0f%%)",
					s, r.Measured, r.OtherLoad(), r.CPUShare()*100)
				break
			}
			h.check(t, total)
		})
	}
}

// starvationWorkers is TestStarvation's worker count: two per usable core
// (min(GOMAXPROCS, NumCPU)), at least 2 and at most hotWorkers. More than
// that and the run measures the Go scheduler's convoys (a commit preempted
// while it holds the hot record's lock keeps the others waiting for whole
// slices) more than the engine; TestLostUpdatesStateCell and
// TestOversubscribedHotKeyNoLivelock run hotter and report starvation as a
// warning.
func starvationWorkers() int {
	cores := max(min(runtime.GOMAXPROCS(0), runtime.NumCPU()), 1)
	return min(max(2*cores, 2), hotWorkers)
}

// A starved run on a busy machine (Result.Busy: other processes kept a
// quarter core or more busy during the measurement) or under -race (whose
// tenfold slower commits make a preempted lock holder's convoy last whole
// scheduler slices) is repeated with twice the measurement, up to
// busyRetries runs in all (200 ms, 400 ms, 800 ms by default), before
// starvation fails the test.
const busyRetries = 3

// TestOversubscribedHotKeyNoLivelock guards progress when goroutines far
// outnumber cores: GOMAXPROCS is raised to 4x the CPUs (restored after) and
// 2x that many workers Transition one hot cell, through both commit
// styles. The run must finish (a livelock or deadlock shows as workers
// stuck after the cooldown, with every goroutine's stack), nobody may
// starve, and no update may be lost.
func TestOversubscribedHotKeyNoLivelock(t *testing.T) {
	procs := 4 * runtime.NumCPU()
	prev := runtime.GOMAXPROCS(procs)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	for _, c := range committers {
		t.Run(c.name, func(t *testing.T) {
			h := newHotCell(t)
			r := runStress(t, testProtocol(2*procs), invariantLimits, h.transition(c))
			if r.GOMAXPROCS != procs {
				t.Fatalf("ran at GOMAXPROCS %d, want %d", r.GOMAXPROCS, procs)
			}
			h.check(t, r.AllSuccesses)
		})
	}
}

// rejected reports whether err is the rejection of a bad write: ErrInvalid,
// or ErrReadOnly in a read-only transaction (which may be checked first).
func rejected(tx *prims.Tx, err error) bool {
	return errors.Is(err, prims.ErrInvalid) || tx.ReadOnly() && errors.Is(err, prims.ErrReadOnly)
}

// errExpected is returned by Transition functions of the mixed workload.
var errExpected = errors.New("stress: transition refused on purpose")

// TestNoPanics guards "no thread panics": workers run a mixed workload over
// every primitive (KV puts, gets, deletes and listings; cell inits,
// sets, CAS with stale versions, transitions that fail on purpose, deletes;
// log appends, reads, ranges and chain checks; bad inputs such as empty keys
// and the zero RunID; explicit rollbacks and read-only views) on two shared
// runs. Expected errors are part of the workload; an unexpected error fails
// the test, and a panic fails it with the worker's stack (Run recovers it,
// Judge reports it). At the end both runs' logs still verify.
func TestNoPanics(t *testing.T) {
	db := newDB(t)
	kv := must(prims.NewKVStore[string](db, "kv"))
	cells := must(prims.NewStateCell[int64](db, "cells"))
	log := must(prims.NewEventLog[uint64](db, "log", u64Codec))
	runs := []prims.RunID{prims.NewRunID(), prims.NewRunID()}
	keys := []string{"a", "b", "c", "d", "e"}
	p := testProtocol(hotWorkers)
	rngs := make([]*rand.Rand, p.Workers)
	for w := range rngs {
		rngs[w] = rand.New(rand.NewPCG(uint64(w), 0x5eed))
	}
	expected := func(err error) bool {
		for _, e := range []error{prims.ErrExists, prims.ErrNotFound, prims.ErrVersionMismatch, errExpected} {
			if errors.Is(err, e) {
				return true
			}
		}
		return false
	}
	// step is one random primitive operation in tx; it returns only
	// errors the workload does not expect.
	step := func(rng *rand.Rand, tx *prims.Tx) error {
		run := runs[rng.IntN(len(runs))]
		key := keys[rng.IntN(len(keys))]
		var err error
		switch rng.IntN(16) {
		case 0:
			err = kv.Put(tx, run, key, key+"!")
		case 1:
			kv.Get(tx, run, key)
		case 2:
			_, err = kv.Delete(tx, run, key)
		case 3:
			var ks []string
			if ks, err = kv.List(tx, run, ""); err == nil && !slices.IsSorted(ks) {
				return fmt.Errorf("List returned unsorted keys %v", ks)
			}
		case 4:
			_, err = cells.Init(tx, run, key, 0)
		case 5:
			_, err = cells.Set(tx, run, key, rng.Int64())
		case 6:
			_, err = cells.CAS(tx, run, key, rng.Uint64N(4), 1)
		case 7:
			_, err = cells.Transition(tx, run, key, incr)
		case 8:
			_, err = cells.Transition(tx, run, key, func(int64) (int64, error) { return 0, errExpected })
		case 9:
			_, err = cells.Delete(tx, run, key)
		case 10:
			cells.Read(tx, run, key)
		case 11:
			_, err = log.Append(tx, run, "e", rng.Uint64())
		case 12:
			n := log.Len(tx, run)
			if n > 0 {
				if _, ok := log.Read(tx, run, rng.Uint64N(n)); !ok {
					return fmt.Errorf("Read of a sequence below Len %d found nothing", n)
				}
			}
			_, err = log.ReadRange(tx, run, n/2, n+3)
		case 13:
			var res prims.ChainResult
			if res, err = log.VerifyChain(tx, run); err == nil && !res.Valid {
				return fmt.Errorf("VerifyChain in a transaction: %+v", res)
			}
		case 14: // bad input: must be an error, never a panic or a write
			if err = kv.Put(tx, run, "", "x"); !rejected(tx, err) {
				return fmt.Errorf("Put with an empty key: %v, want ErrInvalid", err)
			}
			err = nil
		case 15:
			if err = kv.Put(tx, prims.RunID{}, key, "x"); !rejected(tx, err) {
				return fmt.Errorf("Put with the zero RunID: %v, want ErrInvalid", err)
			}
			err = nil
		}
		switch {
		case err == nil, expected(err):
			return nil
		case errors.Is(err, prims.ErrReadOnly) && tx.ReadOnly():
			return nil
		}
		return err // a conflict (retried by the committers) or a real failure
	}
	r := runStress(t, p, invariantLimits, func(w int) (int, error) {
		rng := rngs[w]
		body := func(tx *prims.Tx) error {
			for range 1 + rng.IntN(4) {
				if err := step(rng, tx); err != nil {
					return err
				}
			}
			return nil
		}
		switch rng.IntN(4) {
		case 0: // read-only view: writes fail with ErrReadOnly, which step accepts
			return 1, db.View(body)
		case 1: // explicit transaction, abandoned (a conflict seen early is fine)
			tx := db.Begin()
			err := body(tx)
			if errors.Is(err, prims.ErrConflict) {
				err = nil
			}
			if rbErr := tx.Rollback(); err == nil && rbErr != nil {
				err = rbErr
			}
			return 1, err
		case 2:
			return commitLoop(db, body)
		}
		return update(db, body)
	})
	if r.AllSuccesses == 0 {
		t.Fatal("nothing succeeded")
	}
	err := db.View(func(tx *prims.Tx) error {
		for _, run := range runs {
			res, err := log.VerifyChain(tx, run)
			if err != nil {
				return err
			}
			if !res.Valid {
				t.Errorf("run %v: chain broken at %d of %d", run, res.FirstInvalid, res.Length)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
