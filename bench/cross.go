package bench

import (
	"testing"

	"github.com/substrate-lab/substrate/prims"
)

// Cross-primitive transactions (plan Category 9): several primitives of one
// run changed atomically in one db.Update, and one db.View reading three
// primitives from one snapshot. The fixture is the agent-step shape: 100
// runs, each with 100 KV entries, one state cell and a log; the timed loop
// cycles over the runs in a shuffled order.

func crossCases() []Case {
	return []Case{
		{
			Name: "cross_txn_kv_event", Tier: "B", Group: "cross", Gate: tierBGate,
			PlanGoal: us(20), OurGoal: us(2), Run: benchCrossKVEvent,
		},
		{
			Name: "cross_txn_kv_event_state", Tier: "B", Group: "cross", Gate: tierBGate,
			PlanGoal: us(30), OurGoal: ns(2500), Run: benchCrossKVEventState,
		},
		{
			Name: "cross_snapshot_read", Tier: "B", Group: "cross", Gate: tierBGate,
			PlanGoal: us(15), OurGoal: ns(500), Run: benchCrossSnapshotRead,
		},
	}
}

// crossFixture is the KV fixture plus an event log with one event per run
// and a state cell "step" (0 at version 1) per run.
type crossFixture struct {
	kvFixture
	log      *prims.EventLog[[]byte]
	cells    *prims.StateCell[uint64]
	payloads [][]byte
}

func newCrossFixture(b *testing.B) crossFixture {
	f := crossFixture{kvFixture: newKVFixture(b), payloads: eventPayloads(256)}
	f.log = newEventLog(b, f.db)
	f.cells = newCellStore(b, f.db)
	err := f.db.Update(func(tx *prims.Tx) error {
		for _, run := range benchRuns(kvRuns) {
			if _, err := f.cells.Init(tx, run, "step", 0); err != nil {
				return err
			}
			if _, err := f.log.Append(tx, run, "start", f.payloads[0]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// benchCrossKVEvent: one db.Update that puts an existing KV entry and
// appends a 64-byte event to the same run's log.
func benchCrossKVEvent(b *testing.B) {
	f := newCrossFixture(b)
	var (
		op kvOp
		n  int
	)
	runUpdates(b, f.db, f.ops, 1, &op, nil, &n, func(tx *prims.Tx) error {
		if err := f.kv.Put(tx, op.run, op.key, uint64(n)); err != nil {
			return err
		}
		_, err := f.log.Append(tx, op.run, "step", f.payloads[n%len(f.payloads)])
		return err
	})
}

// benchCrossKVEventState: cross_txn_kv_event plus a transition of the run's
// state cell (a full agent step).
func benchCrossKVEventState(b *testing.B) {
	f := newCrossFixture(b)
	inc := func(s uint64) (uint64, error) { return s + 1, nil }
	var (
		op kvOp
		n  int
	)
	runUpdates(b, f.db, f.ops, 1, &op, nil, &n, func(tx *prims.Tx) error {
		if err := f.kv.Put(tx, op.run, op.key, uint64(n)); err != nil {
			return err
		}
		if _, err := f.log.Append(tx, op.run, "step", f.payloads[n%len(f.payloads)]); err != nil {
			return err
		}
		_, err := f.cells.Transition(tx, op.run, "step", inc)
		return err
	})
}

// benchCrossSnapshotRead: one db.View that reads a KV entry, the run's
// state cell and its first event from one snapshot.
func benchCrossSnapshotRead(b *testing.B) {
	f := newCrossFixture(b)
	b.ReportAllocs()
	var (
		op  kvOp
		sum uint64
		bad int
	)
	read := func(tx *prims.Tx) error {
		v, ok1 := f.kv.Get(tx, op.run, op.key)
		st, ok2 := f.cells.Read(tx, op.run, "step")
		e, ok3 := f.log.Read(tx, op.run, 0)
		if !ok1 || !ok2 || !ok3 {
			bad++
		}
		sum += v + st.Version + uint64(len(e.Payload))
		return nil
	}
	for _, o := range f.ops {
		op = o
		_ = f.db.View(read)
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		op = f.ops[i]
		_ = f.db.View(read)
		i++
		if i == len(f.ops) {
			i = 0
		}
	}
	b.StopTimer()
	sink = sum
	if bad != 0 {
		b.Fatalf("%d snapshot reads missed", bad)
	}
}
