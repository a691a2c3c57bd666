package txn_test

import (
	"errors"
	"fmt"
	"slices"

	"github.com/substrate-lab/substrate/mvcc"
	"github.com/substrate-lab/substrate/txn"
)

// Update runs a serializable read-write transaction, retrying on conflict;
// View reads one consistent snapshot. One transaction spans stores of
// different types.
func Example() {
	e := txn.NewEngine()
	balances := txn.NewStore[string, int](e)
	audit := txn.NewStore[int, string](e)

	err := e.Update(func(tx txn.Tx) error {
		if err := txn.Put(tx, balances, "alice", 100); err != nil {
			return err
		}
		return txn.Put(tx, balances, "bob", 50)
	})
	if err != nil {
		panic(err)
	}

	// Move 30 from alice to bob and log it, atomically.
	err = e.Update(func(tx txn.Tx) error {
		a, _ := txn.Get(tx, balances, "alice")
		b, _ := txn.Get(tx, balances, "bob")
		if a < 30 {
			return errors.New("insufficient funds")
		}
		txn.Put(tx, balances, "alice", a-30)
		txn.Put(tx, balances, "bob", b+30)
		return txn.Put(tx, audit, 1, "alice->bob 30")
	})
	if err != nil {
		panic(err)
	}

	e.View(func(tx txn.Tx) error {
		a, _ := txn.Get(tx, balances, "alice")
		b, _ := txn.Get(tx, balances, "bob")
		log, _ := txn.Get(tx, audit, 1)
		fmt.Println(a, b, a+b, log)
		return nil
	})
	// Output: 70 80 150 alice->bob 30
}

// Explicit transactions: a conflicting commit fails with ErrConflict and
// leaves nothing behind. A deferred Rollback after Commit is harmless.
func ExampleEngine_Begin() {
	e := txn.NewEngine()
	s := txn.NewStore[string, int](e)
	e.Update(func(tx txn.Tx) error { return txn.Put(tx, s, "x", 1) })

	t1 := e.Begin()
	defer t1.Rollback()
	t2 := e.Begin()
	defer t2.Rollback()

	v1, _ := txn.Get(t1, s, "x")
	v2, _ := txn.Get(t2, s, "x")
	txn.Put(t1, s, "x", v1+10)
	txn.Put(t2, s, "x", v2+20)

	fmt.Println(t1.Commit())
	err := t2.Commit()
	fmt.Println(errors.Is(err, txn.ErrConflict))
	fmt.Println(t2.Commit()) // already over

	e.View(func(tx txn.Tx) error {
		v, _ := txn.Get(tx, s, "x")
		fmt.Println(v)
		return nil
	})
	// Output:
	// <nil>
	// true
	// txn: transaction already committed or rolled back
	// 11
}

// Scan is phantom-safe in read-write transactions; it sees the
// transaction's own writes.
func ExampleScan() {
	e := txn.NewEngine()
	s := txn.NewStore[string, int](e)
	e.Update(func(tx txn.Tx) error {
		txn.Put(tx, s, "a", 1)
		txn.Put(tx, s, "b", 2)
		return txn.Put(tx, s, "c", 3)
	})
	e.Update(func(tx txn.Tx) error {
		txn.Delete(tx, s, "b")
		txn.Put(tx, s, "d", 4)
		var keys []string
		sum := 0
		err := txn.Scan(tx, s, func(k string, v int) bool {
			keys = append(keys, k)
			sum += v
			return true
		})
		slices.Sort(keys) // Scan's order is unspecified
		fmt.Println(keys, sum, err)
		return nil
	})
	// Output: [a c d] 8 <nil>
}

// CompareAndSwap reads, compares and writes in one call; the read is
// validated at commit.
func ExampleCompareAndSwap() {
	e := txn.NewEngine()
	s := txn.NewStore[string, string](e)
	e.Update(func(tx txn.Tx) error { return txn.Put(tx, s, "state", "running") })
	e.Update(func(tx txn.Tx) error {
		ok, err := txn.CompareAndSwap(tx, s, "state", "running", "done")
		fmt.Println(ok, err)
		ok, err = txn.CompareAndSwap(tx, s, "state", "running", "failed")
		fmt.Println(ok, err)
		return nil
	})
	// Output:
	// true <nil>
	// false <nil>
}

// GetSeq reads consecutive keys of a store with dense keys (a log's
// entries, numbered 0, 1, 2, ... per group) in one pass: a read-only
// transaction looks the group up once for the whole range.
func ExampleGetSeq() {
	type entry struct {
		log [16]byte
		n   uint64
	}
	e := txn.NewEngine()
	logs := txn.NewStore[entry, string](e, mvcc.WithDenseKeys(
		func(k entry) ([16]byte, uint64) { return k.log, k.n },
		func(g [16]byte, n uint64) entry { return entry{g, n} }))
	a := [16]byte{'a'}
	_ = e.Update(func(tx txn.Tx) error {
		for i, msg := range []string{"start", "tool call", "answer"} {
			if err := txn.Put(tx, logs, entry{a, uint64(i)}, msg); err != nil {
				return err
			}
		}
		return nil
	})

	err := e.View(func(tx txn.Tx) error {
		return txn.GetSeq(tx, logs, entry{a, 1}, 3, func(i int, msg string, ok bool) bool {
			fmt.Println(1+i, msg, ok)
			return true
		})
	})
	fmt.Println(err)
	// Output:
	// 1 tool call true
	// 2 answer true
	// 3  false
	// <nil>
}

// A RetryPolicy bounds and paces Update's retries; zero fields take
// DefaultRetryPolicy's values. The engine's policy (WithRetryPolicy) is
// Update's: here at most 5 attempts, and the retry after a first conflict
// always yields first instead of adapting. UpdateN takes a policy per call
// and reports how many attempts it took.
func ExampleRetryPolicy() {
	e := txn.NewEngine(txn.WithRetryPolicy(txn.RetryPolicy{MaxAttempts: 5, FirstRetry: txn.FirstRetryYield}))
	counter := txn.NewStore[string, int](e)

	calls := 0
	n, err := e.UpdateN(txn.RetryPolicy{MaxAttempts: 5}, func(tx txn.Tx) error {
		if calls++; calls == 1 {
			return txn.ErrConflict // as if a rival had committed first
		}
		v, _ := txn.Get(tx, counter, "hits")
		return txn.Put(tx, counter, "hits", v+1)
	})
	fmt.Println(n, err)

	// Update uses the engine's policy; a closure that keeps conflicting
	// gives up after MaxAttempts with a *RetryError wrapping ErrConflict.
	err = e.Update(func(tx txn.Tx) error { return txn.ErrConflict })
	var re *txn.RetryError
	fmt.Println(errors.As(err, &re), re.Attempts, errors.Is(err, txn.ErrConflict), txn.DefaultRetryPolicy.FirstRetry)
	// Output:
	// 2 <nil>
	// true 5 true adaptive
}
