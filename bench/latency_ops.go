package bench

import (
	"testing"

	"github.com/substrate-lab/substrate/lockfree"
	"github.com/substrate-lab/substrate/prims"
	"github.com/substrate-lab/substrate/txn"
)

// The single-operation closures of the latency pass (Case.Op), attached to
// the cases by name so that the case lists and benchmark bodies stay as
// they are. Each builder reuses its case's fixture (same keys, same
// shuffled order, same payloads) and returns the operation the case's
// timed loop performs once per iteration, cycling over the fixture in the
// same way, plus a check run after the pass that fails b as the body's
// own checks would (a miss, a failed commit, a changed record count).
// The latency pass does the warm-up, so the builders do none.

// latencyOps maps a case name to its Op builder.
var latencyOps = map[string]func(b *testing.B) (op func(), done func()){
	// Tier A0
	"core_get_hot": latCoreGet,
	"core_put_hot": latCorePut,
	"core_cas_hot": latCoreCAS,
	// Tier A1
	"engine_get_direct":       latEngineGet,
	"engine_put_direct":       latEnginePut,
	"engine_cas_direct":       latEngineCAS,
	"engine_snapshot_acquire": latEngineSnapshot,
	"engine_txn_empty_commit": latEngineEmptyCommit,
	// Tier B
	"kvstore_get":              latKVGet,
	"kvstore_put":              latKVPut,
	"statecell_read":           latCellRead,
	"statecell_cas":            latCellCAS,
	"statecell_transition":     latCellTransition,
	"eventlog_append":          latEventAppend,
	"eventlog_read":            latEventRead,
	"cross_txn_kv_event":       latCrossKVEvent,
	"cross_txn_kv_event_state": latCrossKVEventState,
	"cross_snapshot_read":      latCrossSnapshotRead,
}

// attachLatencyOps sets Op on the cases latencyOps names.
func attachLatencyOps(cs []Case) {
	for i := range cs {
		if f, ok := latencyOps[cs[i].Name]; ok {
			cs[i].Op = f
		}
	}
}

// cycler walks 0, 1, ..., n-1, 0, ... as the benchmark loops do.
type cycler struct{ i, n int }

func (c *cycler) next() int {
	i := c.i
	c.i++
	if c.i == c.n {
		c.i = 0
	}
	return i
}

// failIf returns a done function that fails b when *bad is not zero.
func failIf(b *testing.B, bad *int, what string) func() {
	return func() {
		if *bad != 0 {
			b.Fatalf("latency pass: %d %s", *bad, what)
		}
	}
}

// --- Tier A0: lockfree.Map over the 10,000 keys of core_get_hot ---

func latCoreGet(b *testing.B) (func(), func()) {
	keys := randomKeys(coreKeys)
	m := newFilledMap(keys)
	c := cycler{n: len(keys)}
	var sum uint64
	bad := 0
	return func() {
		v, ok := m.Load(keys[c.next()])
		sum += v
		if !ok {
			bad++
		}
	}, func() { sink = sum; failIf(b, &bad, "loads missed a present key")() }
}

func latCorePut(b *testing.B) (func(), func()) {
	keys := randomKeys(coreKeys)
	m := newFilledMap(keys)
	want := m.Len()
	c := cycler{n: len(keys)}
	var n uint64
	return func() {
			m.Store(keys[c.next()], n)
			n++
		}, func() {
			if got := m.Len(); got != want {
				b.Fatalf("latency pass: stores changed the map's length: %d, want %d", got, want)
			}
		}
}

func latCoreCAS(b *testing.B) (func(), func()) {
	keys := randomKeys(coreKeys)
	m := newFilledMap(keys)
	cur := make([]uint64, len(keys))
	for i, k := range keys {
		cur[i], _ = m.Load(k)
	}
	c := cycler{n: len(keys)}
	bad := 0
	return func() {
		i := c.next()
		if lockfree.CompareAndSwap(m, keys[i], cur[i], cur[i]+1) {
			cur[i]++
		} else {
			bad++
		}
	}, failIf(b, &bad, "compare-and-swaps with the right expected value failed")
}

// --- Tier A1: txn over mvcc, the engine_* fixtures ---

func latEngineGet(b *testing.B) (func(), func()) {
	f := newEngineFixture(b, randomKeys(coreKeys))
	c := cycler{n: len(f.order)}
	var sum uint64
	bad := 0
	return func() {
		v, ok := f.getOnce(f.order[c.next()])
		sum += v
		if !ok {
			bad++
		}
	}, func() { sink = sum; failIf(b, &bad, "reads missed a present key")() }
}

func latEnginePut(b *testing.B) (func(), func()) {
	f := newEngineFixture(b, randomKeys(coreKeys))
	want := f.s.Len()
	c := cycler{n: len(f.order)}
	var n uint64
	bad := 0
	return func() {
			tx := f.e.Begin()
			if err := txn.Put(tx, f.s, f.order[c.next()], n); err != nil {
				tx.Rollback()
				bad++
			} else if tx.Commit() != nil {
				bad++
			}
			n++
		}, func() {
			failIf(b, &bad, "commits failed; single-goroutine puts never conflict")()
			if got := f.s.Len(); got != want {
				b.Fatalf("latency pass: puts changed the record count: %d, want %d", got, want)
			}
		}
}

func latEngineCAS(b *testing.B) (func(), func()) {
	f := newEngineFixture(b, randomKeys(coreKeys))
	cur := make([]uint64, len(f.keys))
	perm := make([]int, len(f.keys))
	for i, p := range shuffled(denseKeys(len(f.keys))) {
		cur[i] = uint64(i)
		perm[i] = int(p)
	}
	c := cycler{n: len(perm)}
	bad := 0
	return func() {
		i := perm[c.next()]
		tx := f.e.Begin()
		ok, err := txn.CompareAndSwap(tx, f.s, f.keys[i], cur[i], cur[i]+1)
		switch {
		case err != nil || !ok:
			tx.Rollback()
			bad++
		case tx.Commit() != nil:
			bad++
		default:
			cur[i]++
		}
	}, failIf(b, &bad, "compare-and-swaps failed; every one had the right expected value")
}

func latEngineSnapshot(b *testing.B) (func(), func()) {
	e := txn.NewEngine()
	slot := e.Domain().NewSlot()
	b.Cleanup(slot.Close)
	var sum uint64
	return func() {
		sum += slot.Acquire()
		slot.Release()
	}, func() { sink = sum }
}

func latEngineEmptyCommit(b *testing.B) (func(), func()) {
	e := txn.NewEngine()
	bad := 0
	return func() {
		if e.Begin().Commit() != nil {
			bad++
		}
	}, failIf(b, &bad, "empty commits failed")
}

// --- Tier B: the prims facades through db.View / db.Update ---

func latKVGet(b *testing.B) (func(), func()) {
	f := newKVFixture(b)
	var (
		op kvOp
		v  uint64
		ok bool
	)
	get := func(tx *prims.Tx) error {
		v, ok = f.kv.Get(tx, op.run, op.key)
		return nil
	}
	c := cycler{n: len(f.ops)}
	bad := 0
	return func() {
		i := c.next()
		op = f.ops[i]
		if f.db.View(get) != nil || !ok || v != f.val[i] {
			bad++
		}
	}, failIf(b, &bad, "reads missed or read a wrong value")
}

func latKVPut(b *testing.B) (func(), func()) {
	f := newKVFixture(b)
	var (
		op kvOp
		n  uint64
	)
	put := func(tx *prims.Tx) error { return f.kv.Put(tx, op.run, op.key, n) }
	c := cycler{n: len(f.ops)}
	bad := 0
	return func() {
			op = f.ops[c.next()]
			n++
			if f.db.Update(put) != nil {
				bad++
			}
		}, func() {
			failIf(b, &bad, "updates failed; single-goroutine updates never conflict")()
			f.checkKeyCount(b)
		}
}

func latCellRead(b *testing.B) (func(), func()) {
	f := newCellFixture(b)
	var (
		op cellOp
		ok bool
	)
	read := func(tx *prims.Tx) error {
		_, ok = f.cells.Read(tx, op.run, op.name)
		return nil
	}
	c := cycler{n: len(f.ops)}
	bad := 0
	return func() {
		op = f.ops[c.next()]
		if f.db.View(read) != nil || !ok {
			bad++
		}
	}, failIf(b, &bad, "reads missed a present cell")
}

func latCellCAS(b *testing.B) (func(), func()) {
	f := newCellFixture(b)
	ver := make([]uint64, len(f.ops))
	for i := range ver {
		ver[i] = 1
	}
	var (
		op cellOp
		i  int
	)
	cas := func(tx *prims.Tx) error {
		v, err := f.cells.CAS(tx, op.run, op.name, ver[i], ver[i])
		if err == nil {
			ver[i] = v
		}
		return err
	}
	c := cycler{n: len(f.ops)}
	bad := 0
	return func() {
		i = c.next()
		op = f.ops[i]
		if f.db.Update(cas) != nil {
			bad++
		}
	}, failIf(b, &bad, "compare-and-swaps failed; every one was uncontended and expected the right version")
}

func latCellTransition(b *testing.B) (func(), func()) {
	f := newCellFixture(b)
	inc := func(n uint64) (uint64, error) { return n + 1, nil }
	var op cellOp
	tr := func(tx *prims.Tx) error {
		_, err := f.cells.Transition(tx, op.run, op.name, inc)
		return err
	}
	c := cycler{n: len(f.ops)}
	bad := 0
	return func() {
		op = f.ops[c.next()]
		if f.db.Update(tr) != nil {
			bad++
		}
	}, failIf(b, &bad, "transitions failed")
}

func latEventAppend(b *testing.B) (func(), func()) {
	db := openBenchDB(b)
	l := newEventLog(b, db)
	runs := benchRuns(eventAppendRuns)
	payloads := eventPayloads(256)
	var (
		run     prims.RunID
		payload []byte
	)
	appendOne := func(tx *prims.Tx) error {
		_, err := l.Append(tx, run, "step", payload)
		return err
	}
	c := cycler{n: len(runs)}
	var n, appended uint64
	bad := 0
	return func() {
			run, payload = runs[c.next()], payloads[n%uint64(len(payloads))]
			n++
			if db.Update(appendOne) != nil {
				bad++
			} else {
				appended++
			}
		}, func() {
			failIf(b, &bad, "appends failed; single-goroutine appends never conflict")()
			var total uint64
			_ = db.View(func(tx *prims.Tx) error {
				for _, run := range runs {
					total += l.Len(tx, run)
				}
				return nil
			})
			if total != appended {
				b.Fatalf("latency pass: logs hold %d events after %d appends", total, appended)
			}
		}
}

func latEventRead(b *testing.B) (func(), func()) {
	db, l, runs := eventReadFixture(b)
	order := shuffled(denseKeys(len(runs) * eventReadPerRun))
	var (
		run prims.RunID
		seq uint64
		e   prims.Event[[]byte]
		ok  bool
	)
	read := func(tx *prims.Tx) error {
		e, ok = l.Read(tx, run, seq)
		return nil
	}
	c := cycler{n: len(order)}
	bad := 0
	return func() {
		j := order[c.next()]
		run, seq = runs[j/eventReadPerRun], j%eventReadPerRun
		if db.View(read) != nil || !ok || e.Seq != seq {
			bad++
		}
	}, failIf(b, &bad, "reads missed a present event")
}

// latCross returns the op of a cross-primitive case: body runs in one
// db.Update with op and n set, cycling over the KV fixture's entries.
func latCross(b *testing.B, f crossFixture, op *kvOp, n *int, body func(tx *prims.Tx) error) (func(), func()) {
	c := cycler{n: len(f.ops)}
	k := 0
	bad := 0
	return func() {
		*op, *n = f.ops[c.next()], k
		k++
		if f.db.Update(body) != nil {
			bad++
		}
	}, failIf(b, &bad, "transactions failed")
}

func latCrossKVEvent(b *testing.B) (func(), func()) {
	f := newCrossFixture(b)
	var (
		op kvOp
		n  int
	)
	return latCross(b, f, &op, &n, func(tx *prims.Tx) error {
		if err := f.kv.Put(tx, op.run, op.key, uint64(n)); err != nil {
			return err
		}
		_, err := f.log.Append(tx, op.run, "step", f.payloads[n%len(f.payloads)])
		return err
	})
}

func latCrossKVEventState(b *testing.B) (func(), func()) {
	f := newCrossFixture(b)
	inc := func(s uint64) (uint64, error) { return s + 1, nil }
	var (
		op kvOp
		n  int
	)
	return latCross(b, f, &op, &n, func(tx *prims.Tx) error {
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

func latCrossSnapshotRead(b *testing.B) (func(), func()) {
	f := newCrossFixture(b)
	var (
		op  kvOp
		bad int
	)
	read := func(tx *prims.Tx) error {
		_, ok1 := f.kv.Get(tx, op.run, op.key)
		_, ok2 := f.cells.Read(tx, op.run, "step")
		_, ok3 := f.log.Read(tx, op.run, 0)
		if !ok1 || !ok2 || !ok3 {
			bad++
		}
		return nil
	}
	c := cycler{n: len(f.ops)}
	return func() {
		op = f.ops[c.next()]
		_ = f.db.View(read)
	}, failIf(b, &bad, "snapshot reads missed")
}
