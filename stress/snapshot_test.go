package stress

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/substrate-lab/substrate/internal/pin"
	"github.com/substrate-lab/substrate/prims"
)

// The bank of TestSnapshotInvariant: bankAccounts balances of bankInitial
// each in a KVStore, a StateCell counting the transfers, and an EventLog
// recording each transfer as stamp(worker, n).
const (
	bankAccounts = 16
	bankInitial  = 1000
	bankTotal    = bankAccounts * bankInitial
)

var bankKeys = func() []string {
	k := make([]string, bankAccounts)
	for i := range k {
		k[i] = fmt.Sprintf("acct-%02d", i)
	}
	return k
}()

// errInvariant marks a reader's observation of a broken invariant.
var errInvariant = errors.New("snapshot invariant violated")

type bank struct {
	db        *prims.DB
	balances  *prims.KVStore[int64]
	transfers *prims.StateCell[int64]
	log       *prims.EventLog[uint64]
	run       prims.RunID
}

func newBank(t *testing.T) bank {
	db := newDB(t)
	b := bank{
		db:        db,
		balances:  must(prims.NewKVStore[int64](db, "balances")),
		transfers: must(prims.NewStateCell[int64](db, "transfers")),
		log:       must(prims.NewEventLog[uint64](db, "transfer-log", u64Codec)),
		run:       prims.NewRunID(),
	}
	err := db.Update(func(tx *prims.Tx) error {
		for _, k := range bankKeys {
			if err := b.balances.Put(tx, b.run, k, bankInitial); err != nil {
				return err
			}
		}
		_, err := b.transfers.Init(tx, b.run, "count", 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// transfer moves up to amount from account from to account to (never
// below zero), counts the transfer in the cell and logs it, all in tx.
func (b bank) transfer(tx *prims.Tx, from, to int, amount int64, payload uint64) error {
	fb, _ := b.balances.Get(tx, b.run, bankKeys[from])
	tb, _ := b.balances.Get(tx, b.run, bankKeys[to])
	amount = min(amount, fb)
	if err := b.balances.Put(tx, b.run, bankKeys[from], fb-amount); err != nil {
		return err
	}
	if err := b.balances.Put(tx, b.run, bankKeys[to], tb+amount); err != nil {
		return err
	}
	if _, err := b.transfers.Transition(tx, b.run, "count", incr); err != nil {
		return err
	}
	_, err := b.log.Append(tx, b.run, "transfer", payload)
	return err
}

// audit checks, in tx's snapshot, that the balances sum to bankTotal, none
// is negative, and the transfer count equals the log's length.
func (b bank) audit(tx *prims.Tx) error {
	var sum int64
	for _, k := range bankKeys {
		v, ok := b.balances.Get(tx, b.run, k)
		if !ok || v < 0 {
			return fmt.Errorf("%w: %s = %d (present %v)", errInvariant, k, v, ok)
		}
		sum += v
	}
	if sum != bankTotal {
		return fmt.Errorf("%w: balances sum to %d, want %d", errInvariant, sum, bankTotal)
	}
	st, ok := b.transfers.Read(tx, b.run, "count")
	n := b.log.Len(tx, b.run)
	if !ok || uint64(st.Value) != n {
		return fmt.Errorf("%w: transfer count %d (present %v) but the log holds %d transfers", errInvariant, st.Value, ok, n)
	}
	return nil
}

// TestSnapshotInvariant guards snapshot consistency across primitives:
// writers transfer money between KV balances and, in the same transaction,
// count the transfer in a StateCell and log it in an EventLog; readers
// audit every balance, the count and the log length in one snapshot and
// must always see the money conserved (sum == total, no negative balance)
// and count == log length. Readers alternate read-only views (consistent
// by construction) and read-write transactions, which are not opaque
// (package txn validates their reads at commit, so a closure may see part
// of a concurrent commit): there a violation counts only on a view that
// was valid, i.e. when db.Update returns the audit's error (it re-runs a
// closure whose failure came from a torn view) or when an explicit
// transaction whose audit failed still commits. Runs with workers unpinned and pinned
// (worker i on core i mod NumCPU through internal/pin). At the end the
// count equals the successful transfers and the chain verifies.
func TestSnapshotInvariant(t *testing.T) {
	for _, pinned := range []bool{false, true} {
		name := "unpinned"
		if pinned {
			name = "pinned"
		}
		t.Run(name, func(t *testing.T) {
			if pinned && !pin.Supported() {
				t.Log("internal/pin cannot pin on this platform: workers only lock their threads")
			}
			b := newBank(t)
			p := testProtocol(hotWorkers)
			p.Pin = pinned
			rngs := make([]*rand.Rand, p.Workers)
			moved := make([]int64, p.Workers) // successful transfers per writer
			for w := range rngs {
				rngs[w] = rand.New(rand.NewPCG(uint64(w), 0xba4c))
			}
			r := runStress(t, p, invariantLimits, func(w int) (int, error) {
				rng := rngs[w]
				if w%2 == 1 { // a reader
					switch rng.IntN(3) {
					case 0: // read-only snapshot: always consistent
						return 1, b.db.View(b.audit)
					case 1: // Update re-runs fn when its failure came from a torn view
						return update(b.db, b.audit)
					}
					// Explicit read-write transaction: its view may be torn
					// until the commit checks it, so only a committed
					// audit counts.
					var seen error
					attempts, err := commitLoop(b.db, func(tx *prims.Tx) error {
						seen = b.audit(tx)
						return nil
					})
					if err == nil {
						err = seen
					}
					return attempts, err
				}
				from := rng.IntN(bankAccounts)
				to := (from + 1 + rng.IntN(bankAccounts-1)) % bankAccounts
				amount := 1 + rng.Int64N(100)
				payload := stamp(w, moved[w])
				attempts, err := update(b.db, func(tx *prims.Tx) error {
					return b.transfer(tx, from, to, amount, payload)
				})
				if err == nil {
					moved[w]++
				}
				return attempts, err
			})
			if r.Pinned != (pinned && pin.Supported()) {
				t.Errorf("Result.Pinned = %v", r.Pinned)
			}
			var transfers int64
			for _, n := range moved {
				transfers += n
			}
			err := b.db.View(func(tx *prims.Tx) error {
				if err := b.audit(tx); err != nil {
					return err
				}
				if st, _ := b.transfers.Read(tx, b.run, "count"); st.Value != transfers {
					return fmt.Errorf("lost transfers: count %d after %d successful transfers", st.Value, transfers)
				}
				res, err := b.log.VerifyChain(tx, b.run)
				if err == nil && (!res.Valid || res.Length != uint64(transfers)) {
					err = fmt.Errorf("transfer log: %+v after %d transfers", res, transfers)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if transfers == 0 {
				t.Fatal("no transfer succeeded")
			}
		})
	}
}
