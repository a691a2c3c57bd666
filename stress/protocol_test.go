package stress

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tiny is a fast protocol for the library's own tests.
func tiny(workers int) Protocol {
	return Protocol{Warmup: 10 * time.Millisecond, Measure: 40 * time.Millisecond, Cooldown: 10 * time.Millisecond, Workers: workers}
}

// spin burns a little CPU so that fake operations take measurable time
// without sleeping.
func spin(n int) {
	x := uint64(n)
	for i := range n {
		x = x*6364136223846793005 + uint64(i)
	}
	spinSink.Store(x)
}

var spinSink atomic.Uint64

func mustRun(t *testing.T, p Protocol, op Op) Result {
	t.Helper()
	r, err := Run(context.Background(), p, op)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return r
}

func TestProtocolDefaults(t *testing.T) {
	p := DefaultProtocol(4)
	if p.Warmup != 500*time.Millisecond || p.Measure != 2*time.Second || p.Cooldown != 500*time.Millisecond || p.Workers != 4 || p.Pin {
		t.Fatalf("DefaultProtocol(4) = %+v", p)
	}
	if p.Total() != 3*time.Second {
		t.Fatalf("Total = %v", p.Total())
	}
	s := ShortProtocol(2)
	if s.Warmup != 50*time.Millisecond || s.Measure != 200*time.Millisecond || s.Cooldown != 50*time.Millisecond {
		t.Fatalf("ShortProtocol = %+v", s)
	}
	m := p.WithMeasure(400 * time.Millisecond)
	if m.Warmup != 100*time.Millisecond || m.Measure != 400*time.Millisecond || m.Cooldown != 100*time.Millisecond || m.Workers != 4 {
		t.Fatalf("WithMeasure(400ms) = %+v", m)
	}
	if p.WithMeasure(0) != p {
		t.Fatal("WithMeasure(0) changed the protocol")
	}
	if got := (Protocol{Workers: 2, Measure: time.Second, Pin: true}).String(); got != "2 workers, 0s/1s/0s, pinned" {
		t.Fatalf("String = %q", got)
	}
}

func TestRunRejectsBadProtocol(t *testing.T) {
	ok := func(int) (int, error) { return 1, nil }
	for _, p := range []Protocol{
		{Workers: 0, Measure: time.Millisecond},
		{Workers: 1},
		{Workers: 1, Measure: time.Millisecond, Warmup: -1},
	} {
		if _, err := Run(context.Background(), p, ok); err == nil {
			t.Errorf("Run(%+v) did not fail", p)
		}
	}
	if _, err := Run(context.Background(), tiny(1), nil); err == nil {
		t.Error("Run with a nil op did not fail")
	}
}

// TestRunDeterministicAttempts: worker w's operation always takes w+1
// attempts, so every attempt figure is known exactly.
func TestRunDeterministicAttempts(t *testing.T) {
	const workers = 4
	r := mustRun(t, tiny(workers).Fair(), func(w int) (int, error) {
		spin(200)
		return w + 1, nil
	})
	if len(r.Workers) != workers {
		t.Fatalf("%d worker results, want %d", len(r.Workers), workers)
	}
	var succ, att int64
	for _, w := range r.Workers {
		if want := w.Successes * int64(w.Worker+1); w.Attempts != want {
			t.Errorf("worker %d: attempts %d, want %d (successes %d x %d)", w.Worker, w.Attempts, want, w.Successes, w.Worker+1)
		}
		if w.MaxAttempts != w.Worker+1 {
			t.Errorf("worker %d: max attempts %d, want %d", w.Worker, w.MaxAttempts, w.Worker+1)
		}
		if w.AllSuccesses < w.Successes {
			t.Errorf("worker %d: all-phase successes %d < measured %d", w.Worker, w.AllSuccesses, w.Successes)
		}
		if w.Successes > 0 && (w.Latency.Count != w.Successes || w.Latency.Mean <= 0 || w.Latency.P50 > w.Latency.P99 || w.Latency.P99 > w.Latency.Max+w.Latency.Max/500) {
			t.Errorf("worker %d: latency %+v", w.Worker, w.Latency)
		}
		succ += w.Successes
		att += w.Attempts
	}
	if succ == 0 {
		t.Fatal("nothing measured")
	}
	if r.Successes != succ || r.Attempts != att {
		t.Fatalf("totals %d/%d, want the workers' sums %d/%d", r.Successes, r.Attempts, succ, att)
	}
	if r.MaxAttempts != workers {
		t.Errorf("MaxAttempts = %d, want %d", r.MaxAttempts, workers)
	}
	if got, want := r.MeanAttempts(), float64(att)/float64(succ); got != want {
		t.Errorf("MeanAttempts = %v, want %v", got, want)
	}
	if got, want := r.RetryRate(), float64(att-succ)/float64(att); got != want {
		t.Errorf("RetryRate = %v, want %v", got, want)
	}
	if r.Measured < r.Protocol.Measure {
		t.Errorf("Measured = %v, shorter than the phase", r.Measured)
	}
	if got, want := r.OpsPerSec(), float64(succ)/r.Measured.Seconds(); math.Abs(got-want) > 1e-9*want {
		t.Errorf("OpsPerSec = %v, want %v", got, want)
	}
	if r.Latency.Count != succ || r.Histogram() == nil || r.Histogram().TotalCount() != succ {
		t.Errorf("merged latency covers %d ops, want %d", r.Latency.Count, succ)
	}
	if v := r.Judge(Limits{MaxAttempts: workers}); !v.Failed() || !strings.Contains(v.Failures[0], "max attempts 4 >= 4") {
		t.Fatalf("MaxAttempts limit %d not enforced: %v", workers, v)
	}
	t.Log(r.Summary())
}

// TestRunPanickingWorker: one worker panics; the run completes, the panic
// and its stack are reported, and Judge fails it.
func TestRunPanickingWorker(t *testing.T) {
	var calls atomic.Int64
	r := mustRun(t, tiny(3).Fair(), func(w int) (int, error) {
		if w == 1 && calls.Add(1) == 2 {
			panicInWorker()
		}
		spin(100)
		return 1, nil
	})
	if len(r.Panics) != 1 {
		t.Fatalf("%d panics reported, want 1", len(r.Panics))
	}
	p := r.Panics[0]
	if p.Worker != 1 || p.Value != "boom" || !strings.Contains(p.Stack, "panicInWorker") {
		t.Fatalf("panic = worker %d value %v, stack lacks panicInWorker:\n%s", p.Worker, p.Value, p.Stack)
	}
	if !r.Workers[1].Panicked || r.Workers[0].Panicked {
		t.Fatalf("Panicked flags wrong: %+v", r.Workers)
	}
	v := r.Judge(DefaultLimits)
	if !v.Failed() || !strings.Contains(v.Err().Error(), "panicInWorker") {
		t.Fatalf("Judge did not fail with the stack: %v", v)
	}
	if r.Workers[0].AllSuccesses == 0 || r.Workers[2].AllSuccesses == 0 {
		t.Fatal("the other workers stopped too")
	}
}

//go:noinline
func panicInWorker() { panic("boom") }

// TestRunGoexit: a worker that leaves through runtime.Goexit (t.FailNow in
// a worker) is reported like a panic, not silently lost.
func TestRunGoexit(t *testing.T) {
	r := mustRun(t, tiny(2), func(w int) (int, error) {
		if w == 0 {
			runtime.Goexit()
		}
		return 1, nil
	})
	if len(r.Panics) != 1 || r.Panics[0].Worker != 0 || !strings.Contains(r.Panics[0].Value.(string), "Goexit") {
		t.Fatalf("panics = %+v", r.Panics)
	}
}

// TestRunStarvedWorker: worker 2's only operation spans the whole run
// (and the measurement phase), so it has no measured success: a failure.
func TestRunStarvedWorker(t *testing.T) {
	// A longer window than tiny's, and busy workers that yield: at -cpu 1
	// on a loaded machine a 40 ms window could pass with worker 0 never
	// scheduled, starving it too (seen under -race with the adversarial
	// tag); the test is about worker 2 only.
	p := tiny(3)
	p.Measure = 200 * time.Millisecond
	r := mustRun(t, p, func(w int) (int, error) {
		if w == 2 {
			// Far past the run's end, so that even timers delayed by a
			// loaded machine cannot put its completion inside the phase.
			time.Sleep(p.Total() + time.Second)
			return 1, nil
		}
		spin(100)
		runtime.Gosched()
		return 1, nil
	})
	if s := r.Starved(); len(s) != 1 || s[0] != 2 {
		t.Fatalf("Starved = %v, want [2]", s)
	}
	if r.MinWorkerSuccesses() != 0 {
		t.Fatalf("MinWorkerSuccesses = %d", r.MinWorkerSuccesses())
	}
	v := r.Judge(DefaultLimits)
	if !v.Failed() || !strings.Contains(v.Err().Error(), "starvation: workers [2]") {
		t.Fatalf("Judge = %v, want a starvation failure", v)
	}
	if r.Workers[2].AllSuccesses < 1 || r.Workers[2].Successes != 0 {
		t.Fatalf("worker 2 all-phase successes = %d, want 1", r.Workers[2].AllSuccesses)
	}
}

// TestRunUnfairWorker: worker 0 is 200x slower than the others: a fairness
// warning, not a failure.
func TestRunUnfairWorker(t *testing.T) {
	r := mustRun(t, tiny(3).Fair(), func(w int) (int, error) {
		if w == 0 {
			time.Sleep(2 * time.Millisecond)
			return 1, nil
		}
		spin(1000)
		return 1, nil
	})
	if u := r.Unfair(0.10); len(u) != 1 || u[0] != 0 {
		t.Fatalf("Unfair(0.10) = %v (successes %v), want [0]", u, r.workerSuccesses())
	}
	v := r.Judge(DefaultLimits)
	if v.Failed() {
		t.Fatalf("unexpected failure: %v", v)
	}
	found := false
	for _, w := range v.Warnings {
		found = found || strings.HasPrefix(w, "fairness: workers [0]")
	}
	if !found {
		t.Fatalf("no fairness warning: %v", v)
	}
}

// TestRunErrors: an operation error is counted, kept, and a failure.
func TestRunErrors(t *testing.T) {
	errBad := errors.New("bad op")
	r := mustRun(t, tiny(2), func(w int) (int, error) {
		spin(100)
		if w == 1 {
			return 3, errBad
		}
		return 1, nil
	})
	w := r.Workers[1]
	if w.Errors == 0 || w.Successes != 0 || len(w.FirstErrors) == 0 || !errors.Is(w.FirstErrors[0], errBad) {
		t.Fatalf("worker 1 = %+v", w)
	}
	if w.Attempts == 0 || w.Attempts%3 != 0 || w.MaxAttempts != 3 {
		t.Fatalf("failed attempts not counted: %+v", w)
	}
	v := r.Judge(DefaultLimits)
	if !v.Failed() || !strings.Contains(v.Err().Error(), "bad op") {
		t.Fatalf("Judge = %v", v)
	}
	if r.RetryRate() <= 0 {
		t.Fatalf("RetryRate = %v with failing attempts", r.RetryRate())
	}
}

// TestRunGaveUp: an operation whose error wraps ErrGaveUp is counted apart
// from errors, is no success, and fails Judge only under Limits.GaveUp.
func TestRunGaveUp(t *testing.T) {
	r := mustRun(t, tiny(2).Fair(), func(w int) (int, error) {
		spin(100)
		if w == 1 {
			return 64, fmt.Errorf("%w: %w", ErrGaveUp, errors.New("conflict"))
		}
		return 1, nil
	})
	w := r.Workers[1]
	if w.GaveUp == 0 || w.Errors != 0 || w.AllSuccesses != 0 || w.FirstGaveUp == nil || r.GaveUp != w.GaveUp || r.Errors != 0 {
		t.Fatalf("worker 1 = %+v, result gave up %d errors %d", w, r.GaveUp, r.Errors)
	}
	if v := r.Judge(DefaultLimits); !v.Failed() || !strings.Contains(v.Err().Error(), "gave up after exhausting their retries") {
		t.Fatalf("Judge(DefaultLimits) = %v", v)
	}
	soft := DefaultLimits
	soft.GaveUp, soft.Starvation = false, false
	v := r.Judge(soft)
	if v.Failed() || !strings.Contains(strings.Join(v.Warnings, "\n"), "gave up") {
		t.Fatalf("Judge(GaveUp false) = %v", v)
	}
}

// TestRunStuckWorker: a worker blocked past StopGrace is reported, with
// ErrStuck, instead of hanging Run.
func TestRunStuckWorker(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	p := tiny(2)
	p.StopGrace = 30 * time.Millisecond
	r, err := Run(context.Background(), p, func(w int) (int, error) {
		if w == 1 {
			<-release
		}
		return 1, nil
	})
	if !errors.Is(err, ErrStuck) {
		t.Fatalf("err = %v, want ErrStuck", err)
	}
	if len(r.Stuck) != 1 || r.Stuck[0] != 1 || !r.Workers[1].Stuck || !strings.Contains(r.StuckStacks, "goroutine") {
		t.Fatalf("Stuck = %v, worker 1 = %+v", r.Stuck, r.Workers[1])
	}
	if r.Workers[0].Successes == 0 {
		t.Fatal("worker 0 measured nothing")
	}
	if v := r.Judge(DefaultLimits); !v.Failed() {
		t.Fatal("Judge accepted a stuck worker")
	}
}

func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	p := ShortProtocol(2).WithMeasure(10 * time.Second)
	start := time.Now()
	_, err := Run(ctx, p, func(int) (int, error) { spin(100); return 1, nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancelled run took %v", d)
	}
}

// TestJudgeRules checks each of the plan's rules on hand-made results.
func TestJudgeRules(t *testing.T) {
	base := Result{
		Measured:  time.Second,
		Workers:   []WorkerResult{{Worker: 0, Successes: 100}, {Worker: 1, Successes: 100}},
		Successes: 200, Attempts: 200, MaxAttempts: 1, AllSuccesses: 200,
		Latency: Latency{Count: 200, Mean: time.Microsecond, P50: time.Microsecond, P95: 2 * time.Microsecond, P99: 3 * time.Microsecond, Max: 50 * time.Microsecond},
	}
	if v := base.Judge(DefaultLimits); v.Failed() || len(v.Warnings) > 0 || v.String() != "ok" {
		t.Fatalf("clean result judged %v", v)
	}
	has := func(list []string, sub string) bool {
		for _, s := range list {
			if strings.Contains(s, sub) {
				return true
			}
		}
		return false
	}
	cases := []struct {
		name   string
		change func(r *Result)
		fail   string
		warn   string
	}{
		{"p99", func(r *Result) { r.Latency.P99 = 11 * time.Microsecond }, "", "p99 11µs > 10x mean"},
		{"max", func(r *Result) { r.Latency.Max = 101 * time.Microsecond }, "", "max 101µs > 100x mean"},
		{"mean attempts", func(r *Result) { r.Attempts = 700 }, "", "mean attempts 3.50 > 3"},
		{"retry rate", func(r *Result) { r.Attempts = 600 }, "", "retry rate 67% > 60%"},
		{"max attempts", func(r *Result) { r.MaxAttempts = 200 }, "max attempts 200 >= 200", ""},
		{"fairness", func(r *Result) {
			r.Workers = []WorkerResult{{Worker: 0, Successes: 191}, {Worker: 1, Successes: 9}}
		}, "", "fairness: workers [1]"},
		{"starvation", func(r *Result) {
			r.Workers = []WorkerResult{{Worker: 0, Successes: 200}, {Worker: 1, Successes: 0}}
		}, "starvation: workers [1]", ""},
		{"nothing", func(r *Result) { r.Successes, r.Attempts, r.Latency = 0, 0, Latency{} }, "no operation succeeded", ""},
		{"errors", func(r *Result) {
			r.Errors = 2
			r.Workers[0].FirstErrors = []error{errors.New("e1")}
		}, "2 operations failed; first: worker 0: e1", ""},
		{"panic", func(r *Result) { r.Panics = []Panic{{Worker: 1, Value: "x", Stack: "stack"}} }, "worker 1 panicked: x", ""},
		{"stuck", func(r *Result) { r.Stuck = []int{0} }, "workers [0] did not stop", ""},
	}
	for _, c := range cases {
		r := base
		r.Workers = append([]WorkerResult(nil), base.Workers...)
		c.change(&r)
		v := r.Judge(DefaultLimits)
		if c.fail != "" && !has(v.Failures, c.fail) {
			t.Errorf("%s: failures %q lack %q", c.name, v.Failures, c.fail)
		}
		if c.fail == "" && v.Failed() {
			t.Errorf("%s: unexpected failures %q", c.name, v.Failures)
		}
		if c.warn != "" && !has(v.Warnings, c.warn) {
			t.Errorf("%s: warnings %q lack %q", c.name, v.Warnings, c.warn)
		}
	}
	// Starvation off: the starved worker becomes a warning.
	starved := base
	starved.Workers = []WorkerResult{{Worker: 0, Successes: 200}, {Worker: 1, Successes: 0}}
	soft := DefaultLimits
	soft.Starvation = false
	if v := starved.Judge(soft); v.Failed() || !has(v.Warnings, "starvation: workers [1]") {
		t.Fatalf("Starvation=false: %v", v)
	}
	// M4+: the p99 and retry-rate rules become failures.
	r := base
	r.Latency.P99 = 20 * time.Microsecond
	r.Attempts = 1000
	hard := DefaultLimits
	hard.HardTail = true
	v := r.Judge(hard)
	if !has(v.Failures, "p99") || !has(v.Failures, "retry rate") {
		t.Fatalf("HardTail: failures %q", v.Failures)
	}
	if base.MeanAttempts() != 1 || base.RetryRate() != 0 || (Result{Attempts: 3}).MeanAttempts() != math.Inf(1) {
		t.Fatal("MeanAttempts/RetryRate edge cases")
	}
}
