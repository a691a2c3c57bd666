package txn

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/substrate-lab/substrate/mvcc"
)

// The reference model: a serial executor over plain maps. Transactions run
// against the engine with their operations explicitly interleaved, step by
// step, and commit in random order. The checks:
//
//   - every operation of a read-only transaction gives what its snapshot of
//     the model (the model state when it began) gives;
//   - every operation of a read-write transaction gives what some model
//     state committed since it began (its snapshot is optimistic and may be
//     extended, so not necessarily the one at Begin, but never an older
//     one), plus its own writes so far, gives: reads see every commit
//     before Begin and their own writes, committed or not;
//   - a read-write transaction that commits, whether it wrote or only read,
//     must be serializable at its commit point: replaying its operations on
//     the model state that the commits before it produced (in commit order:
//     one goroutine commits) yields exactly the results it saw, and the
//     replay becomes the new model state;
//   - an aborted or rolled-back transaction leaves no trace, and a
//     transaction that overlapped no other writing commit never aborts;
//   - at the end the engine holds exactly the model state, in both stores.

type modelState struct {
	a map[int]int    // store A
	b map[string]int // store B
}

func (m modelState) clone() modelState {
	return modelState{a: maps.Clone(m.a), b: maps.Clone(m.b)}
}

type opKind int

const (
	opGetA opKind = iota
	opGetB
	opPutA
	opPutB
	opDelA
	opDelB
	opScanA
	opCasA
	opScanAPart // store A's keys of parity ka%2 (A partitions keys by parity)
	numOps
)

type op struct {
	kind   opKind
	ka     int
	kb     string
	v, old int
}

// apply runs o on m (mutating it) and returns the result as a string.
func (o op) apply(m modelState) string {
	switch o.kind {
	case opGetA:
		v, ok := m.a[o.ka]
		return fmt.Sprint(v, ok)
	case opGetB:
		v, ok := m.b[o.kb]
		return fmt.Sprint(v, ok)
	case opPutA:
		m.a[o.ka] = o.v
		return "<nil>"
	case opPutB:
		m.b[o.kb] = o.v
		return "<nil>"
	case opDelA:
		_, ok := m.a[o.ka]
		delete(m.a, o.ka)
		return fmt.Sprint(ok, nil)
	case opDelB:
		_, ok := m.b[o.kb]
		delete(m.b, o.kb)
		return fmt.Sprint(ok, nil)
	case opScanA:
		return scanString(m.a)
	case opCasA:
		if v, ok := m.a[o.ka]; ok && v == o.old {
			m.a[o.ka] = o.v
			return fmt.Sprint(true, nil)
		}
		return fmt.Sprint(false, nil)
	case opScanAPart:
		part := map[int]int{}
		for k, v := range m.a {
			if k%2 == o.ka%2 {
				part[k] = v
			}
		}
		return scanString(part)
	}
	panic("bad op")
}

// applyEffect applies o's write, as the engine buffered it (result is what
// the engine returned), to m: a Put always, a Delete or CompareAndSwap only
// if it reported success (a delete of an absent key buffers nothing).
func (o op) applyEffect(m modelState, result string) {
	switch o.kind {
	case opPutA, opPutB:
		if result == "<nil>" {
			o.apply(m)
		}
	case opDelA, opDelB, opCasA:
		if strings.HasPrefix(result, "true") {
			if o.kind == opCasA {
				m.a[o.ka] = o.v
			} else {
				o.apply(m)
			}
		}
	}
}

func scanString(m map[int]int) string {
	keys := slices.Sorted(maps.Keys(m))
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%d=%d,", k, m[k])
	}
	return sb.String()
}

type engineUnderTest struct {
	e *Engine
	a *mvcc.Store[int, int]
	b *mvcc.Store[string, int]
}

// run executes o in tx and returns the result in apply's format.
func (u engineUnderTest) run(tx Tx, o op) string {
	switch o.kind {
	case opGetA:
		v, ok := Get(tx, u.a, o.ka)
		return fmt.Sprint(v, ok)
	case opGetB:
		v, ok := Get(tx, u.b, o.kb)
		return fmt.Sprint(v, ok)
	case opPutA:
		return fmt.Sprint(Put(tx, u.a, o.ka, o.v))
	case opPutB:
		return fmt.Sprint(Put(tx, u.b, o.kb, o.v))
	case opDelA:
		ok, err := Delete(tx, u.a, o.ka)
		return fmt.Sprint(ok, err)
	case opDelB:
		ok, err := Delete(tx, u.b, o.kb)
		return fmt.Sprint(ok, err)
	case opScanA:
		m := map[int]int{}
		if err := Scan(tx, u.a, func(k, v int) bool { m[k] = v; return true }); err != nil {
			return err.Error()
		}
		return scanString(m)
	case opCasA:
		ok, err := CompareAndSwap(tx, u.a, o.ka, o.old, o.v)
		return fmt.Sprint(ok, err)
	case opScanAPart:
		m := map[int]int{}
		if err := ScanPartition(tx, u.a, o.ka%2, func(k, v int) bool { m[k] = v; return true }); err != nil {
			return err.Error()
		}
		return scanString(m)
	}
	panic("bad op")
}

type modelTx struct {
	tx      Tx
	ro      bool
	view    modelState // snapshot + own writes
	ops     []op
	results []string
	writes  bool
	begunAt int  // writing commit attempts before Begin
	begunH  int  // index in history of the model state at Begin
	doomed  bool // an operation reported the conflict early (Commit must fail)
	id      int
}

func randomOp(r *rand.Rand, ro bool) op {
	for {
		o := op{
			kind: opKind(r.IntN(int(numOps))),
			ka:   r.IntN(6),
			kb:   string(rune('a' + r.IntN(4))),
			v:    r.IntN(5),
			old:  r.IntN(5),
		}
		if ro && o.kind != opGetA && o.kind != opGetB && o.kind != opScanA && o.kind != opScanAPart {
			continue
		}
		return o
	}
}

func runModel(t *testing.T, seed uint64, steps int) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	u := engineUnderTest{e: NewEngine()}
	u.a = NewStore[int, int](u.e, mvcc.WithPartitioner(func(k int) uint64 { return uint64(k % 2) }))
	u.b = NewStore[string, int](u.e)
	model := modelState{a: map[int]int{}, b: map[string]int{}}
	history := []modelState{model} // every committed model state, oldest first
	writeAttempts := 0             // commits with writes, successful or not
	var live []*modelTx
	nextID := 0
	var committed, conflicts, rolledBack int
	var trace []string
	logf := func(format string, args ...any) { trace = append(trace, fmt.Sprintf(format, args...)) }
	defer func() {
		if t.Failed() {
			for _, l := range trace[max(0, len(trace)-400):] {
				t.Log(l)
			}
		}
	}()

	finish := func(i int, commit bool) {
		mt := live[i]
		live = slices.Delete(live, i, i+1)
		if !commit {
			if err := mt.tx.Rollback(); err != nil {
				t.Fatalf("seed %d tx %d: Rollback: %v", seed, mt.id, err)
			}
			rolledBack++
			return
		}
		err := mt.tx.Commit()
		if mt.writes {
			writeAttempts++
		}
		logf("tx %d commit -> %v (ro=%v writes=%v)", mt.id, err, mt.ro, mt.writes)
		if err != nil {
			if !errors.Is(err, ErrConflict) {
				t.Fatalf("seed %d tx %d: Commit: %v", seed, mt.id, err)
			}
			// A commit that fails validation may already have bumped
			// phantom counters (they are bumped at lock time), so only a
			// transaction that overlapped no writing commit attempt at all
			// is guaranteed to commit. (A transaction that wrote nothing
			// now validates its reads too; its own commit is no writing
			// attempt.)
			own := 0
			if mt.writes {
				own = 1
			}
			if writeAttempts == mt.begunAt+own {
				t.Fatalf("seed %d tx %d aborted though no writing commit overlapped it: %v", seed, mt.id, err)
			}
			conflicts++
			return
		}
		if mt.doomed {
			t.Fatalf("seed %d tx %d committed after an operation reported a conflict", seed, mt.id)
		}
		committed++
		if mt.ro {
			return // serializes at its snapshot; its results were checked against it
		}
		// A read-write transaction, with writes or only reads, was
		// validated at commit: it serializes there.
		replay := model.clone()
		for j, o := range mt.ops {
			if got := o.apply(replay); got != mt.results[j] {
				t.Fatalf("seed %d tx %d committed but is not serializable: op %d %+v saw %q, serial execution gives %q",
					seed, mt.id, j, o, mt.results[j], got)
			}
		}
		if mt.writes {
			model = replay
			history = append(history, model)
		}
	}

	for range steps {
		switch x := r.IntN(10); {
		case len(live) == 0 || (x < 2 && len(live) < 4):
			mt := &modelTx{ro: r.IntN(4) == 0, view: model.clone(), begunAt: writeAttempts, begunH: len(history) - 1, id: nextID}
			nextID++
			if mt.ro {
				mt.tx = u.e.BeginReadOnly()
			} else {
				mt.tx = u.e.Begin()
			}
			live = append(live, mt)
			logf("tx %d begin ro=%v snap=%d", mt.id, mt.ro, mt.tx.Snapshot())
		case x < 8:
			mt := live[r.IntN(len(live))]
			o := randomOp(r, mt.ro)
			got := u.run(mt.tx, o)
			logf("tx %d op %+v -> %q", mt.id, o, got)
			if !mt.ro && strings.Contains(got, ErrConflict.Error()) {
				// A stale read that extension could not fix dooms the
				// transaction; its writes report it at once.
				mt.doomed = true
			} else if mt.ro {
				if want := o.apply(mt.view); got != want {
					t.Fatalf("seed %d tx %d op %+v: engine %q, snapshot model %q", seed, mt.id, o, got, want)
				}
			} else if !rwResultPlausible(history[mt.begunH:], mt, o, got) {
				t.Fatalf("seed %d tx %d op %+v: engine %q matches no committed state since Begin plus own writes",
					seed, mt.id, o, got)
			}
			// Only actual writes make the commit a writing one: a failed
			// CAS or a delete of an absent key buffers nothing, and a
			// transaction without writes serializes at its snapshot.
			switch o.kind {
			case opPutA, opPutB:
				mt.writes = true
			case opDelA, opDelB, opCasA:
				mt.writes = mt.writes || strings.HasPrefix(got, "true")
			}
			mt.ops = append(mt.ops, o)
			mt.results = append(mt.results, got)
		default:
			finish(r.IntN(len(live)), r.IntN(5) != 0)
		}
	}
	for len(live) > 0 {
		finish(0, true)
	}

	err := u.e.View(func(tx Tx) error {
		got := map[int]int{}
		Scan(tx, u.a, func(k, v int) bool { got[k] = v; return true })
		if !maps.Equal(got, model.a) {
			return fmt.Errorf("store A = %v, model %v", got, model.a)
		}
		gotB := map[string]int{}
		Scan(tx, u.b, func(k string, v int) bool { gotB[k] = v; return true })
		if !maps.Equal(gotB, model.b) {
			return fmt.Errorf("store B = %v, model %v", gotB, model.b)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed %d: final state: %v", seed, err)
	}
	if seed == 0 || committed == 0 || conflicts == 0 || rolledBack == 0 {
		t.Logf("seed %d: %d committed, %d conflicts, %d rolled back", seed, committed, conflicts, rolledBack)
	}
	if st := u.e.Domain().Stats(); st.ActiveSnapshots != 0 {
		t.Fatalf("seed %d: %d snapshots still active", seed, st.ActiveSnapshots)
	}
}

// rwResultPlausible reports whether got is what o gives on one of the
// committed states since mt began, with mt's own writes so far applied.
func rwResultPlausible(states []modelState, mt *modelTx, o op, got string) bool {
	for _, s := range slices.Backward(states) {
		m := s.clone()
		for i, prev := range mt.ops {
			prev.applyEffect(m, mt.results[i])
		}
		if o.apply(m) == got {
			return true
		}
	}
	return false
}

func TestReferenceModel(t *testing.T) {
	seeds, steps := 40, 3000
	if testing.Short() {
		seeds = 8
	}
	for seed := range uint64(seeds) {
		runModel(t, seed, steps)
	}
}

// TestLargeWriteSet exercises the write-set index used past linearMax
// entries: read-your-own-writes, overwrite, delete, scan merge, commit, and
// reuse of the pooled transaction object with a fresh index.
func TestLargeWriteSet(t *testing.T) {
	e := NewEngine()
	s := NewStore[int, int](e)
	const n = 10 * linearMax
	for round := range 3 {
		err := e.Update(func(tx Tx) error {
			for k := range n {
				if err := Put(tx, s, k, k+round); err != nil {
					return err
				}
			}
			for k := range n {
				if v, ok := Get(tx, s, k); !ok || v != k+round {
					return fmt.Errorf("round %d: own write %d = %d, %v", round, k, v, ok)
				}
			}
			for k := 0; k < n; k += 3 {
				if existed, err := Delete(tx, s, k); err != nil || !existed {
					return fmt.Errorf("delete %d: %v %v", k, existed, err)
				}
			}
			Put(tx, s, 3, -1) // resurrect one deleted key
			seen := 0
			Scan(tx, s, func(k, v int) bool {
				seen++
				if k%3 == 0 && k != 3 {
					t.Errorf("round %d: scan shows deleted key %d", round, k)
				}
				return true
			})
			if want := n - (n+2)/3 + 1; seen != want {
				return fmt.Errorf("round %d: scan saw %d keys, want %d", round, seen, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	e.View(func(tx Tx) error {
		for k := range n {
			v, ok := Get(tx, s, k)
			switch {
			case k == 3:
				if !ok || v != -1 {
					t.Fatalf("key 3 = %d, %v", v, ok)
				}
			case k%3 == 0:
				if ok {
					t.Fatalf("deleted key %d present", k)
				}
			case !ok || v != k+2:
				t.Fatalf("key %d = %d, %v; want %d", k, v, ok, k+2)
			}
		}
		return nil
	})
	// A small transaction on the recycled object must not see the old index.
	tx := e.Begin()
	if v, ok := Get(tx, s, 5); !ok || v != 7 {
		t.Fatalf("fresh transaction reads %d, %v", v, ok)
	}
	Put(tx, s, 5, 50)
	if v, _ := Get(tx, s, 5); v != 50 {
		t.Fatalf("own write lost: %d", v)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
