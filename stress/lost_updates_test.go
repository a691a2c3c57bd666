package stress

import (
	"fmt"
	"testing"

	"github.com/substrate-lab/substrate/prims"
)

// hotWorkers is the worker count of the same-key tests: more than the
// cores of most CI machines, and the plan's largest contention case.
const hotWorkers = 8

func incr(v int64) (int64, error) { return v + 1, nil }

// hotCell is one StateCell[int64] named "n" in one run, initialised to 0.
type hotCell struct {
	db    *prims.DB
	cells *prims.StateCell[int64]
	run   prims.RunID
}

func newHotCell(t *testing.T) hotCell {
	db := newDB(t)
	h := hotCell{db: db, cells: must(prims.NewStateCell[int64](db, "counter")), run: prims.NewRunID()}
	if err := db.Update(func(tx *prims.Tx) error {
		_, err := h.cells.Init(tx, h.run, "n", 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return h
}

// transition is one +1 Transition of the cell through c.
func (h hotCell) transition(c committer) Op {
	return func(int) (int, error) {
		return c.commit(h.db, func(tx *prims.Tx) error {
			_, err := h.cells.Transition(tx, h.run, "n", incr)
			return err
		})
	}
}

// check verifies the plan's StateCell invariant: final value == successful
// transitions, and the version counts them too (Init is version 1).
func (h hotCell) check(t *testing.T, successes int64) {
	t.Helper()
	var st prims.State[int64]
	var ok bool
	if err := h.db.View(func(tx *prims.Tx) error {
		st, ok = h.cells.Read(tx, h.run, "n")
		return nil
	}); err != nil || !ok {
		t.Fatalf("read cell: ok=%v err=%v", ok, err)
	}
	if st.Value != successes {
		t.Errorf("lost updates: cell = %d after %d successful transitions (%d lost)", st.Value, successes, successes-st.Value)
	}
	if st.Version != uint64(successes)+1 {
		t.Errorf("cell version %d, want %d (1 + transitions)", st.Version, successes+1)
	}
}

// TestLostUpdatesStateCell guards "StateCell final == transitions": hot
// workers Transition one cell +1, through db.Update and through explicit
// Begin/Commit loops; the final value must equal the number of transitions
// that reported success, in every phase.
func TestLostUpdatesStateCell(t *testing.T) {
	for _, c := range committers {
		t.Run(c.name, func(t *testing.T) {
			h := newHotCell(t)
			r := runStress(t, testProtocol(hotWorkers), invariantLimits, h.transition(c))
			h.check(t, r.AllSuccesses)
		})
	}
}

// kvCounterKeys are the counters of TestLostUpdatesKVCounter; they start
// absent, so the first increments race on inserts (absent-key reads).
var kvCounterKeys = []string{"c0", "c1", "c2", "c3"}

// TestLostUpdatesKVCounter guards KV read-modify-write: every operation
// reads a counter key and the "total" key and writes both +1 (Get, Put in
// one transaction). The keys start absent. At the end each counter must
// equal the successful increments of it (counted per worker, per key) and
// total must equal their sum: a lost update, a lost insert race or a torn
// transaction breaks one of them.
func TestLostUpdatesKVCounter(t *testing.T) {
	for _, c := range committers {
		t.Run(c.name, func(t *testing.T) {
			db := newDB(t)
			kv := must(prims.NewKVStore[int64](db, "counters"))
			run := prims.NewRunID()
			p := testProtocol(hotWorkers)
			counts := make([][]int64, p.Workers) // [worker][key], written by that worker only
			next := make([]int, p.Workers)
			for w := range counts {
				counts[w] = make([]int64, len(kvCounterKeys))
			}
			op := func(w int) (int, error) {
				k := (w + next[w]) % len(kvCounterKeys)
				next[w]++
				key := kvCounterKeys[k]
				attempts, err := c.commit(db, func(tx *prims.Tx) error {
					v, _ := kv.Get(tx, run, key)
					total, _ := kv.Get(tx, run, "total")
					if err := kv.Put(tx, run, key, v+1); err != nil {
						return err
					}
					return kv.Put(tx, run, "total", total+1)
				})
				if err == nil {
					counts[w][k]++
				}
				return attempts, err
			}
			r := runStress(t, p, invariantLimits, op)

			want := make([]int64, len(kvCounterKeys))
			var sum int64
			for _, cw := range counts {
				for k, n := range cw {
					want[k] += n
					sum += n
				}
			}
			if sum != r.AllSuccesses {
				t.Fatalf("harness: per-key counts sum to %d, protocol counted %d successes", sum, r.AllSuccesses)
			}
			err := db.View(func(tx *prims.Tx) error {
				var got int64
				for k, key := range kvCounterKeys {
					v, ok := kv.Get(tx, run, key)
					if !ok && want[k] > 0 {
						return fmt.Errorf("lost insert: %s absent after %d increments", key, want[k])
					}
					if v != want[k] {
						t.Errorf("lost updates: %s = %d after %d successful increments", key, v, want[k])
					}
					got += v
				}
				total, _ := kv.Get(tx, run, "total")
				if total != sum || got != sum {
					t.Errorf("lost updates: total = %d, counters sum to %d, successful increments %d", total, got, sum)
				}
				keys, err := kv.List(tx, run, "")
				if err != nil {
					return err
				}
				if len(keys) != len(kvCounterKeys)+1 {
					t.Errorf("List = %v, want the %d counters and total", keys, len(kvCounterKeys))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// churnLimit is the value at which TestLostUpdatesKVChurn banks a counter
// and deletes its key.
const churnLimit = 3

// TestLostUpdatesKVChurn guards read-modify-write across deletions: every
// operation increments a counter key, and a counter that reaches churnLimit
// is deleted in the same transaction and its value added to "banked". Keys
// are thus deleted and inserted again all the time, so their records are
// removed from the store (once the watermark passes their tombstones) and
// created anew while other workers still hold them. At the end banked plus
// the live counters must equal the successful operations, and List must
// name exactly the live counters and banked.
func TestLostUpdatesKVChurn(t *testing.T) {
	for _, c := range committers {
		t.Run(c.name, func(t *testing.T) {
			db := newDB(t)
			kv := must(prims.NewKVStore[int64](db, "churn"))
			run := prims.NewRunID()
			p := testProtocol(hotWorkers)
			next := make([]int, p.Workers)
			op := func(w int) (int, error) {
				key := kvCounterKeys[(w+next[w])%len(kvCounterKeys)]
				next[w]++
				return c.commit(db, func(tx *prims.Tx) error {
					v, _ := kv.Get(tx, run, key)
					if v+1 < churnLimit {
						return kv.Put(tx, run, key, v+1)
					}
					banked, _ := kv.Get(tx, run, "banked")
					if _, err := kv.Delete(tx, run, key); err != nil {
						return err
					}
					return kv.Put(tx, run, "banked", banked+v+1)
				})
			}
			r := runStress(t, p, invariantLimits, op)
			err := db.View(func(tx *prims.Tx) error {
				sum, _ := kv.Get(tx, run, "banked")
				live := 0
				for _, key := range kvCounterKeys {
					if v, ok := kv.Get(tx, run, key); ok {
						sum += v
						live++
						if v <= 0 || v >= churnLimit {
							t.Errorf("counter %s = %d, outside (0, %d)", key, v, churnLimit)
						}
					}
				}
				if sum != r.AllSuccesses {
					t.Errorf("lost updates: banked + counters = %d, successful operations %d", sum, r.AllSuccesses)
				}
				keys, err := kv.List(tx, run, "")
				if err != nil {
					return err
				}
				if want := live + 1; len(keys) != want {
					t.Errorf("List = %v, want the %d live counters and banked", keys, live)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
