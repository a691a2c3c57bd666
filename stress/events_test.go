package stress

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/substrate-lab/substrate/prims"
)

// appendRun is the outcome of hot workers appending to one run's log.
type appendRun struct {
	db  *prims.DB
	log *prims.EventLog[uint64]
	run prims.RunID
	res Result
	// seqs[w] lists, in order, the sequence numbers that worker w's
	// successful appends reported; its n-th append carried stamp(w, n).
	seqs [][]uint64
}

// runAppends runs hot workers appending stamp(worker, n) to one run's log
// through c, recording the sequence number each successful append got.
func runAppends(t *testing.T, c committer) appendRun {
	db := newDB(t)
	a := appendRun{db: db, log: must(prims.NewEventLog[uint64](db, "steps", u64Codec)), run: prims.NewRunID()}
	p := testProtocol(hotWorkers)
	a.seqs = make([][]uint64, p.Workers) // written by worker w only
	a.res = runStress(t, p, invariantLimits, func(w int) (int, error) {
		payload := stamp(w, int64(len(a.seqs[w])))
		var seq uint64
		attempts, err := c.commit(db, func(tx *prims.Tx) error {
			s, err := a.log.Append(tx, a.run, "step", payload)
			seq = s // the last attempt's, the one that committed
			return err
		})
		if err == nil {
			a.seqs[w] = append(a.seqs[w], seq)
		}
		return attempts, err
	})
	return a
}

// TestLostEvents guards "EventLog len == appends": hot workers append to
// one run's log; afterwards the log's length must equal the successful
// appends, and the hash chain must verify over all of them.
func TestLostEvents(t *testing.T) {
	for _, c := range committers {
		t.Run(c.name, func(t *testing.T) {
			a := runAppends(t, c)
			n := uint64(a.res.AllSuccesses)
			err := a.db.View(func(tx *prims.Tx) error {
				if got := a.log.Len(tx, a.run); got != n {
					t.Errorf("lost events: log length %d after %d successful appends", got, n)
				}
				res, err := a.log.VerifyChain(tx, a.run)
				if err != nil {
					return err
				}
				if !res.Valid || res.Length != n {
					t.Errorf("VerifyChain = %+v, want valid over %d events", res, n)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDuplicateSequences guards EventLog serialization: the sequence
// numbers that successful appends reported are unique and exactly 0..n-1,
// the event stored at each is the one its appender wrote (payload
// stamp(worker, n)), each worker's events appear in its own order, and
// every event links to its predecessor's hash.
func TestDuplicateSequences(t *testing.T) {
	for _, c := range committers {
		t.Run(c.name, func(t *testing.T) {
			a := runAppends(t, c)
			var all []uint64
			for _, s := range a.seqs {
				all = append(all, s...)
			}
			slices.Sort(all)
			for i, s := range all {
				if s != uint64(i) {
					if i > 0 && all[i-1] == s {
						t.Fatalf("duplicate sequence %d reported to two successful appends", s)
					}
					t.Fatalf("sequences are not contiguous: position %d holds %d (of %d appends)", i, s, len(all))
				}
			}
			n := uint64(len(all))
			err := a.db.View(func(tx *prims.Tx) error {
				events, err := a.log.ReadRange(tx, a.run, 0, n+1)
				if err != nil {
					return err
				}
				if uint64(len(events)) != n {
					t.Fatalf("ReadRange(0, %d) returned %d events, want %d", n+1, len(events), n)
				}
				last := make([]int64, len(a.seqs)) // per worker, the last n seen
				for i := range last {
					last[i] = -1
				}
				for i, e := range events {
					if e.Seq != uint64(i) {
						t.Fatalf("event %d has Seq %d", i, e.Seq)
					}
					if i > 0 && e.PrevHash != events[i-1].Hash {
						t.Fatalf("event %d does not link to event %d's hash", i, i-1)
					}
					w, k := unstamp(e.Payload)
					if w >= len(a.seqs) || k >= int64(len(a.seqs[w])) || a.seqs[w][k] != e.Seq {
						t.Fatalf("event %d carries worker %d's append #%d, which reported another sequence (or none)", i, w, k)
					}
					if k <= last[w] {
						t.Fatalf("worker %d's append #%d is at seq %d, after its append #%d", w, k, i, last[w])
					}
					last[w] = k
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Run churn: TestLostEventsRunChurn's shape.
const (
	churnSlots       = 2 // shared runs, each named by a ledger key
	churnRotateEvery = 8 // a worker's every 8th operation deletes its slot's run
)

// TestLostEventsRunChurn guards appends across run deletions, where the
// dense event store removes a deleted run's records and, with its last one,
// the run's arrays. Workers append to a few shared runs; now and then one
// deletes a slot's run (RunIndex.Delete, which deletes its events) and
// registers a new one, in one transaction with the ledger that names each
// slot's run and its log length. The deleting worker then also appends to
// the deleted run's ID on its own: that log starts again at sequence 0 in
// the same group, while sweeps remove the old records and close the old
// array (the creator-against-closer race of mvcc's dense index). Views
// check, on one snapshot, that every slot's log has the ledger's length and
// a valid chain, and each worker's re-used run the length it appended; a
// record lost in a closed array breaks both.
func TestLostEventsRunChurn(t *testing.T) {
	for _, c := range committers {
		t.Run(c.name, func(t *testing.T) {
			db := newDB(t)
			log := must(prims.NewEventLog[uint64](db, "steps", u64Codec))
			slotRun := must(prims.NewKVStore[prims.RunID](db, "slot-run"))
			slotLen := must(prims.NewKVStore[int64](db, "slot-len"))
			runs := db.Runs()
			book := prims.NewRunID() // the ledger's run: never deleted
			keys := make([]string, churnSlots)
			for i := range keys {
				keys[i] = fmt.Sprintf("slot-%d", i)
			}
			if err := db.Update(func(tx *prims.Tx) error {
				for _, k := range keys {
					id, err := runs.Create(tx, prims.RunOptions{})
					if err != nil {
						return err
					}
					if err := slotRun.Put(tx, book, k, id); err != nil {
						return err
					}
					if err := slotLen.Put(tx, book, k, 0); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			p := testProtocol(hotWorkers)
			type reused struct {
				run prims.RunID
				n   uint64 // events appended to run since its deletion
			}
			mine := make([]reused, p.Workers) // worker w's only
			ops := make([]int, p.Workers)
			check := func(tx *prims.Tx, what string, run prims.RunID, n uint64) error {
				if got := log.Len(tx, run); got != n {
					return fmt.Errorf("lost events: %s log length %d, want %d", what, got, n)
				}
				res, err := log.VerifyChain(tx, run)
				if err != nil {
					return err
				}
				if !res.Valid || res.Length != n {
					return fmt.Errorf("%s chain %+v, want valid over %d events", what, res, n)
				}
				return nil
			}
			checkAll := func(tx *prims.Tx, own *reused) error {
				for _, k := range keys {
					run, _ := slotRun.Get(tx, book, k)
					n, _ := slotLen.Get(tx, book, k)
					if err := check(tx, k, run, uint64(n)); err != nil {
						return err
					}
				}
				if own != nil && !own.run.IsZero() {
					return check(tx, "re-used run", own.run, own.n)
				}
				return nil
			}
			op := func(w int) (int, error) {
				ops[w]++
				k := keys[(w+ops[w])%churnSlots]
				me := &mine[w]
				switch {
				case ops[w]%churnRotateEvery == 0:
					var old prims.RunID
					attempts, err := c.commit(db, func(tx *prims.Tx) error {
						run, _ := slotRun.Get(tx, book, k)
						if err := runs.Delete(tx, run); errors.Is(err, prims.ErrNotFound) {
							// A torn view (an explicit transaction sees part
							// of a rotation that commits meanwhile) names a
							// run already deleted: a conflict, which Update
							// itself would conclude. On a valid view it
							// would repeat until the loop gives up, failing
							// the test.
							return fmt.Errorf("%w: slot %s names a deleted run", prims.ErrConflict, k)
						} else if err != nil {
							return err
						}
						id, err := runs.Create(tx, prims.RunOptions{})
						if err != nil {
							return err
						}
						if err := slotRun.Put(tx, book, k, id); err != nil {
							return err
						}
						old = run
						return slotLen.Put(tx, book, k, 0)
					})
					if err == nil {
						*me = reused{run: old}
					}
					return attempts, err
				case ops[w]%churnRotateEvery == 3:
					return 1, db.View(func(tx *prims.Tx) error { return checkAll(tx, me) })
				case ops[w]%2 == 1 && !me.run.IsZero():
					attempts, err := c.commit(db, func(tx *prims.Tx) error {
						_, err := log.Append(tx, me.run, "again", stamp(w, int64(me.n)))
						return err
					})
					if err == nil {
						me.n++
					}
					return attempts, err
				default:
					return c.commit(db, func(tx *prims.Tx) error {
						run, _ := slotRun.Get(tx, book, k)
						n, _ := slotLen.Get(tx, book, k)
						if _, err := log.Append(tx, run, "step", stamp(w, n)); err != nil {
							return err
						}
						return slotLen.Put(tx, book, k, n+1)
					})
				}
			}
			runStress(t, p, invariantLimits, op)
			err := db.View(func(tx *prims.Tx) error {
				for w := range mine {
					if err := checkAll(tx, &mine[w]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
