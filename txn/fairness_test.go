package txn

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowTransactionNotStarvedByHog: one goroutine commits short
// read-modify-writes of a key back to back while another runs a slow
// read-modify-write of the same key (its closure spins for longer than the
// hog's whole transaction). Optimistic validation alone lets the hog win
// every round: each of the slow transaction's attempts reads a version the
// hog replaces before the slow commit, so it would fail every attempt and
// give up (observed: RetryError after 150 attempts, on 2 cores and at 16).
// The right of way (see RetryPolicy) must get every slow transaction
// through, and both counts must add up.
func TestSlowTransactionNotStarvedByHog(t *testing.T) {
	e := NewEngine()
	s := NewStore[int, int](e)
	const rounds = 20
	spin := 300 * time.Microsecond
	var stop atomic.Bool
	var hogCommits atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			err := e.Update(func(tx Tx) error {
				v, _ := Get(tx, s, 0)
				return Put(tx, s, 0, v+1)
			})
			if err != nil {
				t.Error("hog:", err)
				return
			}
			hogCommits.Add(1)
		}
	}()
	for hogCommits.Load() < 100 { // the hog is running
		time.Sleep(time.Millisecond)
	}
	maxAttempts := 0
	for i := range rounds {
		n, err := e.UpdateN(DefaultRetryPolicy, func(tx Tx) error {
			v, _ := Get(tx, s, 0)
			for start := time.Now(); time.Since(start) < spin; {
			}
			return Put(tx, s, 0, v+1)
		})
		var re *RetryError
		if errors.As(err, &re) {
			t.Fatalf("round %d: the slow transaction starved: %v", i, err)
		} else if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		maxAttempts = max(maxAttempts, n)
	}
	stop.Store(true)
	wg.Wait()
	// The right of way comes after UrgentAfter failures; then at most a
	// commit of the hog's already past its check, or a stand-back cut
	// short at maxStandBack on a loaded machine, can beat it. Without it
	// the slow transaction needed 20 to 150 attempts here.
	if limit := DefaultRetryPolicy.UrgentAfter + 12; maxAttempts > limit {
		t.Errorf("a slow transaction needed %d attempts (limit %d)", maxAttempts, limit)
	}
	var got int
	_ = e.View(func(tx Tx) error { got, _ = Get(tx, s, 0); return nil })
	if want := int(hogCommits.Load()) + rounds; got != want {
		t.Fatalf("counter %d, want %d (hog %d + slow %d)", got, want, hogCommits.Load(), rounds)
	}
	t.Logf("slow transactions: max %d attempts; hog: %d commits", maxAttempts, hogCommits.Load())
}

// TestRightOfWayHolderWaitingForAnotherCommit: the holder of the right of
// way runs a closure that waits until another transaction has committed.
// That transaction stands back while the right of way is held, so without
// the bound on standing back (maxStandBack) the two would wait for each
// other forever. Both must finish, the other one after about maxStandBack.
func TestRightOfWayHolderWaitingForAnotherCommit(t *testing.T) {
	e := NewEngine()
	s := NewStore[int, int](e)
	holding := make(chan struct{})
	otherDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var holderErr error
	go func() {
		defer wg.Done()
		attempts := 0
		_, holderErr = e.UpdateN(RetryPolicy{UrgentAfter: 1}, func(tx Tx) error {
			attempts++
			if attempts == 1 {
				return fmt.Errorf("test: first attempt: %w", ErrConflict) // count one failure
			}
			if e.urgent.Load() != 1 {
				t.Error("the holder's second attempt runs without the right of way")
			}
			if err := Put(tx, s, 1, attempts); err != nil {
				return err
			}
			if attempts == 2 {
				close(holding)
				<-otherDone // a closure waiting for another transaction's commit
			}
			return nil
		})
	}()
	<-holding
	start := time.Now()
	if err := e.Update(func(tx Tx) error { return Put(tx, s, 2, 1) }); err != nil {
		t.Fatal("other:", err)
	}
	waited := time.Since(start)
	close(otherDone)
	wg.Wait()
	if holderErr != nil {
		t.Fatal("holder:", holderErr)
	}
	if waited < maxStandBack/2 {
		t.Errorf("the other commit waited %v: it did not stand back for the holder", waited)
	}
	t.Logf("the other commit stood back %v", waited)
}

// TestRightOfWayReleasedOnPanic: a holder whose closure panics gives the
// right of way back (or every other commit of the engine would stand back
// for a millisecond from then on), and the panic reaches the caller.
func TestRightOfWayReleasedOnPanic(t *testing.T) {
	e := NewEngine()
	s := NewStore[int, int](e)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the closure's panic", r)
			}
		}()
		attempts := 0
		_, _ = e.UpdateN(RetryPolicy{UrgentAfter: 1}, func(tx Tx) error {
			attempts++
			if attempts == 1 {
				return fmt.Errorf("test: %w", ErrConflict)
			}
			if e.urgent.Load() != 1 {
				t.Error("the second attempt runs without the right of way")
			}
			_ = Put(tx, s, 1, 1)
			panic("boom")
		})
	}()
	if e.urgent.Load() != 0 {
		t.Fatal("the right of way is still held after the holder panicked")
	}
}

// TestFirstRetryAtOnceScore walks firstRetryAtOnce's score through its
// steps: immediate first retries while it is >= 0; one that conflicts again
// costs atOncePenalty, and then that many first retries yield before the
// next is immediate (a probe); successes raise it to atOnceMax and no
// further; it never falls below -atOncePenalty.
func TestFirstRetryAtOnceScore(t *testing.T) {
	e := NewEngine()
	if !e.firstRetryAtOnce() {
		t.Fatal("a new engine's first retry is not immediate")
	}
	e.atOnceOutcome(false)
	e.atOnceOutcome(false) // floor: still -atOncePenalty
	if got := e.atOnce.Load(); got != -atOncePenalty {
		t.Fatalf("after two failed immediate retries: score %d, want %d", got, -atOncePenalty)
	}
	for i := range atOncePenalty {
		if e.firstRetryAtOnce() {
			t.Fatalf("yielded first retry %d of %d was immediate", i+1, atOncePenalty)
		}
	}
	if !e.firstRetryAtOnce() {
		t.Fatalf("no probe after %d yielded first retries", atOncePenalty)
	}
	for range 2 * atOnceMax {
		e.atOnceOutcome(true)
	}
	if got := e.atOnce.Load(); got != atOnceMax {
		t.Fatalf("after many committed immediate retries: score %d, want %d", got, atOnceMax)
	}
	// From the maximum, leaving immediate retries takes
	// atOnceMax/atOncePenalty+1 failures with no success between them.
	for i := range atOnceMax / atOncePenalty {
		e.atOnceOutcome(false)
		if !e.firstRetryAtOnce() {
			t.Fatalf("left immediate retries after %d failures from the maximum", i+1)
		}
	}
	e.atOnceOutcome(false)
	if e.firstRetryAtOnce() {
		t.Fatalf("still immediate after %d failures in a row", atOnceMax/atOncePenalty+1)
	}
}

// TestFirstRetryModes: only FirstRetryAdaptive reads and moves the score
// (from below 0 it yields and adds 1); FirstRetryYield and
// FirstRetryAtOnce leave it alone, and an unknown mode is the default.
func TestFirstRetryModes(t *testing.T) {
	oneConflict := func() func(Tx) error {
		calls := 0
		return func(Tx) error {
			if calls++; calls == 1 {
				return ErrConflict
			}
			return nil
		}
	}
	for _, c := range []struct {
		mode FirstRetry
		want int32
	}{
		{FirstRetryAdaptive, 1 - atOncePenalty},
		{FirstRetryYield, -atOncePenalty},
		{FirstRetryAtOnce, -atOncePenalty},
		{FirstRetry(9), 1 - atOncePenalty},
	} {
		e := NewEngine()
		e.atOnce.Store(-atOncePenalty)
		if n, err := e.UpdateN(RetryPolicy{FirstRetry: c.mode}, oneConflict()); err != nil || n != 2 {
			t.Fatalf("%v: %d attempts, %v", c.mode, n, err)
		}
		if got := e.atOnce.Load(); got != c.want {
			t.Errorf("%v: score %d after one yielded-or-immediate first retry, want %d", c.mode, got, c.want)
		}
	}
	for f, want := range map[FirstRetry]string{FirstRetryAdaptive: "adaptive", FirstRetryYield: "yield",
		FirstRetryAtOnce: "at-once", FirstRetry(9): "FirstRetry(9)"} {
		if f.String() != want {
			t.Errorf("FirstRetry(%d).String() = %q, want %q", uint8(f), f.String(), want)
		}
	}
	if got := (RetryPolicy{FirstRetry: 200}).withDefaults().FirstRetry; got != FirstRetryAdaptive {
		t.Errorf("an unknown FirstRetry became %v, want the default", got)
	}
}

// TestFirstRetryAtOnceUpdate: Update feeds the score from its immediate
// first retries only: a retry that commits raises it, one that conflicts
// again lowers it, one that fails with another error (not a conflict) and
// the later retries of a transaction leave it alone.
func TestFirstRetryAtOnceUpdate(t *testing.T) {
	e := NewEngine()
	failing := func(conflicts int, last error) func(Tx) error {
		calls := 0
		return func(Tx) error {
			if calls++; calls <= conflicts {
				return ErrConflict
			}
			return last
		}
	}
	if n, err := e.UpdateN(DefaultRetryPolicy, failing(1, nil)); err != nil || n != 2 {
		t.Fatalf("one conflict: %d attempts, %v", n, err)
	}
	if got := e.atOnce.Load(); got != 1 {
		t.Fatalf("after a committed immediate retry: score %d, want 1", got)
	}
	bad := errors.New("not a conflict")
	if n, err := e.UpdateN(DefaultRetryPolicy, failing(1, bad)); !errors.Is(err, bad) || n != 2 {
		t.Fatalf("conflict then error: %d attempts, %v", n, err)
	}
	if got := e.atOnce.Load(); got != 1 {
		t.Fatalf("an immediate retry that failed with another error moved the score to %d", got)
	}
	if n, err := e.UpdateN(DefaultRetryPolicy, failing(4, nil)); err != nil || n != 5 {
		t.Fatalf("four conflicts: %d attempts, %v", n, err)
	}
	if got := e.atOnce.Load(); got != 1-atOncePenalty {
		t.Fatalf("after a failed immediate retry: score %d, want %d", got, 1-atOncePenalty)
	}
	if n, err := e.UpdateN(DefaultRetryPolicy, failing(1, nil)); err != nil || n != 2 {
		t.Fatalf("one conflict: %d attempts, %v", n, err)
	}
	if got := e.atOnce.Load(); got != 2-atOncePenalty {
		t.Fatalf("a yielded first retry: score %d, want %d", got, 2-atOncePenalty)
	}
}
