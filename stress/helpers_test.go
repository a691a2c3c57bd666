package stress

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/substrate-lab/substrate/internal/chaos"
	"github.com/substrate-lab/substrate/prims"
	"github.com/substrate-lab/substrate/txn"
)

// stressDuration lengthens every stress run: -stress.duration 2s runs the
// plan's protocol (500 ms / 2 s / 500 ms). Zero keeps the short default.
var stressDuration = flag.Duration("stress.duration", 0,
	"measurement phase of each stress run (warmup and cooldown a quarter of it each); "+
		"0 keeps the short default of 150ms; 2s is the plan's protocol")

// Short default phases of the invariant tests.
const (
	testWarmup   = 25 * time.Millisecond
	testMeasure  = 150 * time.Millisecond
	testCooldown = 25 * time.Millisecond
)

// testProtocol returns the protocol of one stress run with workers
// goroutines: short by default, -stress.duration when set, and never shorter
// than MinFairMeasure at the current GOMAXPROCS (so that the starvation rule
// is not tripped by scheduling alone).
func testProtocol(workers int) Protocol {
	p := Protocol{Warmup: testWarmup, Measure: testMeasure, Cooldown: testCooldown, Workers: workers}
	return p.WithMeasure(*stressDuration).Fair()
}

// invariantLimits judge the runs of tests that guard a data invariant:
// panics, stuck workers and failed operations fail them; progress
// (starvation, operations that gave up, the attempt limit) is
// TestStarvation's subject and only logged here.
var invariantLimits = func() Limits {
	l := DefaultLimits
	l.Starvation = false
	l.GaveUp = false
	l.MaxAttempts = 0
	return l
}()

// runStress runs p with op, fails t if Run fails (a stuck worker: with every
// goroutine's stack) or if l judges a failure (a panic: with its stack;
// failed operations; under DefaultLimits also starvation and max attempts
// >= 200), logs the warnings and the summary, and returns the result for
// the caller's invariant checks.
func runStress(t *testing.T, p Protocol, l Limits, op Op) Result {
	t.Helper()
	r, err := Run(t.Context(), p, op)
	if err != nil {
		if errors.Is(err, ErrStuck) {
			t.Fatalf("%v\n%s", err, r.StuckStacks)
		}
		t.Fatalf("Run: %v", err)
	}
	t.Logf("%v: %s", p, r.Summary())
	v := r.Judge(l)
	for _, w := range v.Warnings {
		t.Logf("warning: %s", w)
	}
	for _, f := range v.Failures {
		t.Errorf("FAIL: %s", f)
	}
	return r
}

// newDB opens a DB closed at the end of the test. In adversarial builds
// (internal/chaos enabled) db.Update may retry up to adversarialAttempts
// times: yields at every commit step make long transactions lose many more
// rounds, and these runs are about invariants, not the retry bound
// (TestStarvation judges that in normal builds).
func newDB(t *testing.T) *prims.DB {
	t.Helper()
	var opts []prims.Option
	if chaos.Enabled {
		opts = append(opts, prims.WithRetryPolicy(txn.RetryPolicy{MaxAttempts: adversarialAttempts}))
	}
	db, err := prims.Open(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// adversarialAttempts is db.Update's attempt bound in adversarial builds.
const adversarialAttempts = 10_000

// must returns v, or panics on a setup error (store creation on a fresh
// DB cannot fail unless prims is broken; the panic names the call site).
func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("stress test setup: %v", err))
	}
	return v
}

// A committer runs fn in read-write transactions until one commits and
// returns the number of attempts.
type committer struct {
	name   string
	commit func(db *prims.DB, fn func(tx *prims.Tx) error) (attempts int, err error)
}

// committers are the two ways the tests commit: the product's db.Update
// (bounded retries with backoff) and an explicit Begin/Commit loop that
// retries at once (after a yield), which is the harsher schedule.
var committers = []committer{
	{"Update", update},
	{"BeginCommit", commitLoop},
}

// update runs fn through db.Update and counts its runs (attempts). A
// conflict that Update gave up on is marked ErrGaveUp.
func update(db *prims.DB, fn func(tx *prims.Tx) error) (int, error) {
	n := 0
	err := db.Update(func(tx *prims.Tx) error {
		n++
		return fn(tx)
	})
	if errors.Is(err, prims.ErrConflict) {
		err = fmt.Errorf("%w: %w", ErrGaveUp, err)
	}
	return n, err
}

// loopLimit bounds commitLoop, so that a livelock ends as an error rather
// than a hang. The plan's rule (max attempts < 200) is judged separately.
const loopLimit = 100_000

// commitLoop runs fn in explicit Begin/Commit transactions, retrying at once
// (after runtime.Gosched) while the error is a conflict.
func commitLoop(db *prims.DB, fn func(tx *prims.Tx) error) (attempts int, err error) {
	for attempts = 1; ; attempts++ {
		tx := db.Begin()
		if err = fn(tx); err == nil {
			err = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
		if err == nil || !errors.Is(err, prims.ErrConflict) {
			return attempts, err
		}
		if attempts >= loopLimit {
			return attempts, fmt.Errorf("%w: %d attempts: %w", ErrGaveUp, attempts, err)
		}
		runtime.Gosched()
	}
}

// u64Codec hashes uint64 payloads as 8 big-endian bytes (no allocation).
var u64Codec = prims.WithCodec[uint64](prims.CodecFunc[uint64](func(dst []byte, p uint64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, p), nil
}))

// stamp is a payload that names the worker that appended it and the
// worker's sequence of successful appends.
func stamp(worker int, n int64) uint64 { return uint64(worker)<<32 | uint64(n) }

func unstamp(p uint64) (worker int, n int64) { return int(p >> 32), int64(p & (1<<32 - 1)) }
