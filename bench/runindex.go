package bench

import (
	"testing"

	"github.com/substrate-lab/substrate/prims"
)

// RunIndex cases (plan Tier C, Category 8). Same honesty rules as the
// TraceStore cases. Runs are created with no tags, no parent and no
// metadata (the plan's note for runindex_create is "status index"), so the
// figures are the lifecycle machinery: the run record, its sequence
// mapping and the status bitmaps.
//
// State growth. runindex_create and runindex_lifecycle register a run per
// iteration; every runResetEvery iterations the timer stops and the runs
// created since the last reset are deleted, so the index stays at most
// runResetEvery runs larger than its fixture.

const (
	// runIndexRuns is the number of runs runindex_transition cycles over.
	runIndexRuns = 1000
	// runResetEvery is the number of runs created between resets.
	runResetEvery = 1 << 14
)

func runindexCases() []Case {
	return []Case{
		{
			Name: "runindex_create", Tier: "C", Group: "runindex", Gate: tierCGate,
			PlanGoal: us(15), OurGoal: us(2), Run: benchRunCreate,
		},
		{
			// Active <-> Paused, alternating per run.
			Name: "runindex_transition", Tier: "C", Group: "runindex", Gate: tierCGate,
			PlanGoal: us(20), OurGoal: us(2), Run: benchRunTransition,
		},
		{
			// Create, then Paused, Active, Completed, Archived: five
			// transactions per operation.
			Name: "runindex_lifecycle", Tier: "C", Group: "runindex", Gate: tierCGate,
			PlanGoal: us(50), OurGoal: us(10), Run: benchRunLifecycle,
		},
	}
}

// runBatch holds the runs created since the last reset, in a slice sized
// once (no allocation in the timed loop).
type runBatch struct {
	db   *prims.DB
	runs *prims.RunIndex
	ids  []prims.RunID
}

func newRunBatch(b *testing.B) *runBatch {
	db := openBenchDB(b)
	return &runBatch{db: db, runs: db.Runs(), ids: make([]prims.RunID, 0, runResetEvery)}
}

// reset deletes the runs of the batch (timer stopped by the caller).
func (r *runBatch) reset(b *testing.B) {
	for lo := 0; lo < len(r.ids); lo += 100 {
		err := r.db.Update(func(tx *prims.Tx) error {
			for _, id := range r.ids[lo:min(lo+100, len(r.ids))] {
				if err := r.runs.Delete(tx, id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("reset: %v", err)
		}
	}
	r.ids = r.ids[:0]
}

// runCreates runs op (which must register exactly one run and append its
// ID to r.ids) once per iteration, after a warm-up of 1,000 iterations,
// resetting every runResetEvery iterations with the timer stopped. At the
// end the Active and Archived sets together must hold the batch.
func runCreates(b *testing.B, r *runBatch, op func() error) {
	b.ReportAllocs()
	failures := 0
	for range 1000 {
		if op() != nil {
			failures++
		}
	}
	r.reset(b)
	b.ResetTimer()
	for range b.N {
		if len(r.ids) == runResetEvery {
			b.StopTimer()
			r.reset(b)
			b.StartTimer()
		}
		if op() != nil {
			failures++
		}
	}
	b.StopTimer()
	if failures != 0 {
		b.Fatalf("%d operations failed; single-goroutine run operations never conflict", failures)
	}
	n := 0
	_ = r.db.View(func(tx *prims.Tx) error {
		for _, st := range []prims.Status{prims.Active, prims.Archived} {
			ids, _ := r.runs.QueryByStatus(tx, st)
			n += len(ids)
		}
		return nil
	})
	if n != len(r.ids) {
		b.Fatalf("status index holds %d runs, %d created since the last reset", n, len(r.ids))
	}
}

// benchRunCreate: db.Update + RunIndex.Create (fresh random RunID, status
// Active): the run record, its sequence mapping and a bit in the Active
// bitmap (a 128-byte chunk copied on write).
func benchRunCreate(b *testing.B) {
	r := newRunBatch(b)
	var id prims.RunID
	create := func(tx *prims.Tx) error {
		var err error
		id, err = r.runs.Create(tx, prims.RunOptions{})
		return err
	}
	runCreates(b, r, func() error {
		if err := r.db.Update(create); err != nil {
			return err
		}
		r.ids = append(r.ids, id)
		return nil
	})
}

// benchRunLifecycle: a run's whole life, one transaction per step as an
// agent would commit them: Create, then Transition to Paused, Active,
// Completed and Archived (5 db.Updates). The timing is per lifecycle.
func benchRunLifecycle(b *testing.B) {
	r := newRunBatch(b)
	var (
		id prims.RunID
		to prims.Status
	)
	create := func(tx *prims.Tx) error {
		var err error
		id, err = r.runs.Create(tx, prims.RunOptions{})
		return err
	}
	transition := func(tx *prims.Tx) error { return r.runs.Transition(tx, id, to) }
	steps := []prims.Status{prims.Paused, prims.Active, prims.Completed, prims.Archived}
	runCreates(b, r, func() error {
		if err := r.db.Update(create); err != nil {
			return err
		}
		r.ids = append(r.ids, id)
		for _, to = range steps {
			if err := r.db.Update(transition); err != nil {
				return err
			}
		}
		return nil
	})
}

// benchRunTransition: db.Update + Transition of one of 1,000 Active/Paused
// runs (cycling in a shuffled order), each to the other status: the run
// record read and rewritten, a bit cleared in one status bitmap and set in
// the other. Steady state: the index does not grow.
func benchRunTransition(b *testing.B) {
	db := openBenchDB(b)
	runs := db.Runs()
	ids := make([]prims.RunID, runIndexRuns)
	err := db.Update(func(tx *prims.Tx) error {
		for i := range ids {
			var err error
			if ids[i], err = runs.Create(tx, prims.RunOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	order := shuffled(denseKeys(len(ids)))
	status := make([]prims.Status, len(ids))
	for i := range status {
		status[i] = prims.Active
	}
	b.ReportAllocs()
	var (
		id prims.RunID
		to prims.Status
	)
	transition := func(tx *prims.Tx) error { return runs.Transition(tx, id, to) }
	failures := 0
	step := func(i uint64) {
		id, to = ids[i], prims.Paused
		if status[i] == prims.Paused {
			to = prims.Active
		}
		if db.Update(transition) != nil {
			failures++
		} else {
			status[i] = to
		}
	}
	for range 2 { // warm-up: every run paused and resumed
		for _, i := range order {
			step(i)
		}
	}
	b.ResetTimer()
	j := 0
	for range b.N {
		step(order[j])
		j++
		if j == len(order) {
			j = 0
		}
	}
	b.StopTimer()
	if failures != 0 {
		b.Fatalf("%d transitions failed", failures)
	}
	var active, paused []prims.RunID
	_ = db.View(func(tx *prims.Tx) error {
		active, _ = runs.QueryByStatus(tx, prims.Active)
		paused, _ = runs.QueryByStatus(tx, prims.Paused)
		return nil
	})
	wantPaused := 0
	for _, s := range status {
		if s == prims.Paused {
			wantPaused++
		}
	}
	if len(paused) != wantPaused || len(active)+len(paused) != len(ids) {
		b.Fatalf("status index: %d active, %d paused; want %d paused of %d", len(active), len(paused), wantPaused, len(ids))
	}
}
