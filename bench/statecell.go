package bench

import (
	"fmt"
	"testing"

	"github.com/substrate-lab/substrate/prims"
)

// StateCell cases (plan Category 8). Cells hold uint64 values; the fixture
// is 100 runs x 100 cells (10,000 cells, the usual key count), visited in a
// shuffled order.

const (
	cellRuns    = 100
	cellsPerRun = 100
)

func statecellCases() []Case {
	return []Case{
		{
			Name: "statecell_init", Tier: "B", Group: "statecell", Gate: tierBGate,
			PlanGoal: us(10), OurGoal: us(1), Run: benchCellInit,
		},
		{
			Name: "statecell_read", Tier: "B", Group: "statecell", Gate: tierBGate,
			PlanGoal: us(5), OurGoal: ns(150), Run: benchCellRead,
		},
		{
			Name: "statecell_cas", Tier: "B", Group: "statecell", Gate: tierBGate,
			PlanGoal: us(10), OurGoal: ns(400), Run: benchCellCAS,
		},
		{
			Name: "statecell_transition", Tier: "B", Group: "statecell", Gate: tierBGate,
			PlanGoal: us(15), OurGoal: ns(500), Run: benchCellTransition,
		},
	}
}

// cellOp is one cell of the fixture.
type cellOp struct {
	run  prims.RunID
	name string
}

// cellNames returns n cell names, formatted before any timer.
func cellNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("cell:%03d", i)
	}
	return out
}

// cellFixture is cellRuns x cellsPerRun cells initialized to 0 (version 1),
// one run per transaction; ops is a shuffled order over them.
type cellFixture struct {
	db    *prims.DB
	cells *prims.StateCell[uint64]
	ops   []cellOp
}

func newCellFixture(b *testing.B) cellFixture {
	db := openBenchDB(b)
	cells := newCellStore(b, db)
	names := cellNames(cellsPerRun)
	var all []cellOp
	for _, run := range benchRuns(cellRuns) {
		err := db.Update(func(tx *prims.Tx) error {
			for _, name := range names {
				if _, err := cells.Init(tx, run, name, 0); err != nil {
					return err
				}
				all = append(all, cellOp{run, name})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	f := cellFixture{db: db, cells: cells}
	for _, i := range shuffled(denseKeys(len(all))) {
		f.ops = append(f.ops, all[i])
	}
	return f
}

// benchCellInit: db.Update + StateCell.Init of a new cell + commit. Each
// iteration initializes a fresh cell: b.N cells over b.N/4+1 runs generated
// before the timer (4 cells per run, so each Init also inserts into a
// small per-run name set, as an agent's few cells per run would).
func benchCellInit(b *testing.B) {
	db := openBenchDB(b)
	cells := newCellStore(b, db)
	names := []string{"plan", "budget", "mode", "goal"}
	const warm = 1000
	runs := make([]prims.RunID, (b.N+warm)/len(names)+1)
	for i := range runs {
		runs[i] = prims.NewRunID()
	}
	b.ReportAllocs()
	var op cellOp
	initOne := func(tx *prims.Tx) error {
		_, err := cells.Init(tx, op.run, op.name, 1)
		return err
	}
	failures := 0
	for i := range warm {
		op = cellOp{runs[i/len(names)], names[i%len(names)]}
		if db.Update(initOne) != nil {
			failures++
		}
	}
	b.ResetTimer()
	for i := warm; i < warm+b.N; i++ {
		op = cellOp{runs[i/len(names)], names[i%len(names)]}
		if db.Update(initOne) != nil {
			failures++
		}
	}
	b.StopTimer()
	if failures != 0 {
		b.Fatalf("%d inits failed", failures)
	}
}

// benchCellRead: db.View + StateCell.Read of a present cell.
func benchCellRead(b *testing.B) {
	f := newCellFixture(b)
	b.ReportAllocs()
	var (
		op  cellOp
		st  prims.State[uint64]
		ok  bool
		sum uint64
	)
	read := func(tx *prims.Tx) error {
		st, ok = f.cells.Read(tx, op.run, op.name)
		return nil
	}
	bad := 0
	for _, o := range f.ops {
		op = o
		if f.db.View(read) != nil || !ok {
			bad++
		}
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		op = f.ops[i]
		if f.db.View(read) != nil || !ok {
			bad++
		}
		sum += st.Version
		i++
		if i == len(f.ops) {
			i = 0
		}
	}
	b.StopTimer()
	sink = sum
	if bad != 0 {
		b.Fatalf("%d reads missed a present cell", bad)
	}
}

// benchCellCAS: db.Update + StateCell.CAS with the right expected version
// (tracked outside the DB, as a caller that read it would) + commit, which
// validates the version read.
func benchCellCAS(b *testing.B) {
	f := newCellFixture(b)
	ver := make([]uint64, len(f.ops))
	for i := range ver {
		ver[i] = 1
	}
	var (
		op cellOp
		i  int
	)
	runUpdates(b, f.db, f.ops, 2, &op, &i, nil, func(tx *prims.Tx) error {
		v, err := f.cells.CAS(tx, op.run, op.name, ver[i], ver[i])
		if err == nil {
			ver[i] = v
		}
		return err
	})
}

// benchCellTransition: db.Update + StateCell.Transition(n -> n+1) + commit:
// an atomic read-modify-write through a function value built before the
// timer.
func benchCellTransition(b *testing.B) {
	f := newCellFixture(b)
	inc := func(n uint64) (uint64, error) { return n + 1, nil }
	var (
		op cellOp
		i  int
	)
	runUpdates(b, f.db, f.ops, 2, &op, &i, nil, func(tx *prims.Tx) error {
		_, err := f.cells.Transition(tx, op.run, op.name, inc)
		return err
	})
	var sum uint64
	_ = f.db.View(func(tx *prims.Tx) error {
		for _, o := range f.ops {
			st, _ := f.cells.Read(tx, o.run, o.name)
			sum += st.Value
		}
		return nil
	})
	if want := uint64(2*len(f.ops) + b.N); sum != want {
		b.Fatalf("cells sum to %d after %d transitions: lost updates", sum, want)
	}
}
