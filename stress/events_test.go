package stress

import (
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
