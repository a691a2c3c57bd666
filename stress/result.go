package stress

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is what one Run measured. Figures other than AllSuccesses,
// Errors, GaveUp, Panics and Stuck cover the measurement phase only.
type Result struct {
	// Protocol is the protocol that ran (StopGrace filled in).
	Protocol Protocol
	// Measured is the measurement phase's real length (the timer's, which
	// may overrun Protocol.Measure under load); throughput divides by it.
	// It is zero when the run was cancelled before the phase began.
	Measured time.Duration
	// CPUTime is the CPU time (user + system, all threads) the process
	// consumed during the measurement phase, from getrusage; 0 where it is
	// not available. See CPUShare.
	CPUTime time.Duration
	// OtherCPU is the CPU time the rest of the machine (other processes,
	// the kernel) spent busy during the measurement phase: the system-wide
	// busy time from /proc/stat minus CPUTime, at the kernel's 10 ms tick
	// resolution; -1 where unknown (not Linux). See OtherLoad.
	OtherCPU time.Duration
	// Pinned reports that the workers were pinned to cores (Protocol.Pin on
	// a platform where internal/pin really pins).
	Pinned bool
	// NumCPU and GOMAXPROCS are runtime.NumCPU() and runtime.GOMAXPROCS(0)
	// when the run started.
	NumCPU, GOMAXPROCS int

	// Workers holds each worker's figures, indexed by worker. A stuck
	// worker's entry is zero apart from Worker and Stuck.
	Workers []WorkerResult

	// Successes is the number of operations that succeeded during the
	// measurement phase; Attempts the attempts of every operation
	// completed in it, failed ones included.
	Successes, Attempts int64
	// MaxAttempts is the most attempts any one operation completed in the
	// measurement phase took.
	MaxAttempts int
	// AllSuccesses counts successful operations in every phase: what the
	// data's invariants see (a counter's final value, a log's length).
	AllSuccesses int64
	// Errors counts operations that returned an error, in every phase;
	// GaveUp those whose error wrapped ErrGaveUp (not in Errors).
	Errors, GaveUp int64
	// Latency summarizes the latency of the measured successful
	// operations, retries included, over all workers.
	Latency Latency
	// Panics lists the recovered panics, one per worker at most (a worker
	// stops after panicking).
	Panics []Panic
	// Stuck lists the workers still inside an operation StopGrace after
	// the cooldown (Run then returns ErrStuck); StuckStacks holds every
	// goroutine's stack at that moment.
	Stuck       []int
	StuckStacks string

	hist *hdrhistogram.Histogram // merged, nil if nothing was recorded
}

// WorkerResult is one worker's share of a Result; the fields mean what
// Result's fields of the same names mean, for this worker.
type WorkerResult struct {
	// Worker is the worker's index, 0 .. Workers-1.
	Worker                                            int
	Successes, Attempts, AllSuccesses, Errors, GaveUp int64
	MaxAttempts                                       int
	// OpsPerSec is Successes divided by the measured duration.
	OpsPerSec float64
	// Latency summarizes this worker's measured successful operations.
	Latency Latency
	// FirstErrors holds the first few errors the worker's operation
	// returned (all of them are counted in Errors); FirstGaveUp the first
	// give-up, if any.
	FirstErrors []error
	FirstGaveUp error
	// Panicked and Stuck report a recovered panic (see Result.Panics) and a
	// worker that did not stop.
	Panicked, Stuck bool
}

// Latency summarizes a set of operation latencies. Percentiles come from
// an HDR histogram (3 significant digits: within 0.1% of the true value);
// Mean and Max are exact.
type Latency struct {
	// Count is the number of operations summarized.
	Count int64
	// Mean is the exact mean; P50, P95 and P99 are percentiles; Max is the
	// exact maximum.
	Mean, P50, P95, P99, Max time.Duration
}

// collect fills r from the workers that stopped (Run's last step).
func (r *Result) collect(workers []*worker) {
	r.Workers = make([]WorkerResult, len(workers))
	var sumNs int64
	for i, w := range workers {
		wr := &r.Workers[i]
		wr.Worker = w.id
		if slices.Contains(r.Stuck, w.id) {
			wr.Stuck = true
			continue // still running: its fields are not ours to read
		}
		wr.Successes, wr.Attempts, wr.AllSuccesses, wr.Errors = w.successes, w.attempts, w.all, w.errors
		wr.MaxAttempts = w.maxAttempts
		wr.FirstErrors, wr.GaveUp, wr.FirstGaveUp = w.firstErrors, w.gaveUp, w.firstGaveUp
		wr.Latency = summarize(w.hist, w.successes, w.sumNs, w.maxNs)
		if r.Measured > 0 {
			wr.OpsPerSec = float64(w.successes) / r.Measured.Seconds()
		}
		if w.panic != nil {
			wr.Panicked = true
			r.Panics = append(r.Panics, *w.panic)
		}
		r.Successes += w.successes
		r.Attempts += w.attempts
		r.AllSuccesses += w.all
		r.Errors += w.errors
		r.GaveUp += w.gaveUp
		r.MaxAttempts = max(r.MaxAttempts, w.maxAttempts)
		sumNs += w.sumNs
		if w.successes > 0 {
			if r.hist == nil {
				r.hist = hdrhistogram.New(histLowest, histHighest, histDigits)
			}
			r.hist.Merge(w.hist)
		}
		r.Latency.Max = max(r.Latency.Max, time.Duration(w.maxNs))
	}
	r.Latency = summarize(r.hist, r.Successes, sumNs, int64(r.Latency.Max))
}

func summarize(h *hdrhistogram.Histogram, n, sumNs, maxNs int64) Latency {
	if n == 0 || h == nil {
		return Latency{}
	}
	return Latency{
		Count: n,
		Mean:  time.Duration(sumNs / n),
		P50:   time.Duration(h.ValueAtQuantile(50)),
		P95:   time.Duration(h.ValueAtQuantile(95)),
		P99:   time.Duration(h.ValueAtQuantile(99)),
		Max:   time.Duration(maxNs),
	}
}

// Histogram returns a copy of the merged latency histogram (nanoseconds) of
// the measured successful operations, or nil if there were none.
func (r Result) Histogram() *hdrhistogram.Histogram {
	if r.hist == nil {
		return nil
	}
	return r.hist.Clone()
}

// OpsPerSec returns the total throughput: measured successes per second of
// the measurement phase, all workers together (0 if nothing was measured).
func (r Result) OpsPerSec() float64 {
	if r.Measured <= 0 {
		return 0
	}
	return float64(r.Successes) / r.Measured.Seconds()
}

// CPUShare returns the fraction of the cores its workers could use that
// the process got during the measurement phase: CPUTime / (Measured ×
// min(GOMAXPROCS, NumCPU, workers)). CPU-bound workers on an idle machine
// come close to 1 (a little above: the runtime's and the GC's threads count
// too); a figure well below that
// means the machine was busy with other work (or the workers blocked), so
// throughput and fairness figures understate the system. 0 if unknown.
func (r Result) CPUShare() float64 {
	cores := min(r.GOMAXPROCS, r.NumCPU, len(r.Workers))
	if r.CPUTime <= 0 || r.Measured <= 0 || cores <= 0 {
		return 0
	}
	return r.CPUTime.Seconds() / (r.Measured.Seconds() * float64(cores))
}

// OtherLoad returns how many cores, on average, the rest of the machine
// kept busy during the measurement phase (OtherCPU / Measured); -1 when
// unknown. Near 0 on a quiet machine; a figure of a quarter core or more
// means other work competed with the workers, and per-worker figures
// (starvation, fairness) and throughput then describe the machine's load
// as much as the system under test.
func (r Result) OtherLoad() float64 {
	if r.OtherCPU < 0 || r.Measured <= 0 {
		return -1
	}
	return r.OtherCPU.Seconds() / r.Measured.Seconds()
}

// Busy reports whether the rest of the machine kept at least a quarter of
// a core busy during the measurement (OtherLoad >= 0.25), or, where that is
// unknown, whether the process got under 80% of the cores its workers
// could use (CPUShare < 0.8; workers that block, as in retry backoff, lower
// it too).
func (r Result) Busy() bool {
	if l := r.OtherLoad(); l >= 0 {
		return l >= 0.25
	}
	share := r.CPUShare()
	return share > 0 && share < 0.8
}

// Oversubscription returns workers per usable core: len(Workers) /
// min(GOMAXPROCS, NumCPU). Above 1 the workers time-share cores, and a
// worker preempted inside a critical section (a commit holding a record's
// lock) can hold up the others for whole scheduler slices, so per-worker
// figures (fairness, starvation) describe the scheduler as much as the
// system under test.
func (r Result) Oversubscription() float64 {
	cores := min(r.GOMAXPROCS, r.NumCPU)
	if cores <= 0 {
		return 0
	}
	return float64(len(r.Workers)) / float64(cores)
}

// OpsPerSecPerWorker returns the plan's "ops/sec per thread": the total
// throughput divided by the number of workers.
func (r Result) OpsPerSecPerWorker() float64 {
	if len(r.Workers) == 0 {
		return 0
	}
	return r.OpsPerSec() / float64(len(r.Workers))
}

// MeanAttempts returns the plan's mean attempts, total attempts divided by
// successes: 1 when nothing was retried, 0 when nothing was attempted, and
// +Inf when there were attempts but no success.
func (r Result) MeanAttempts() float64 {
	switch {
	case r.Attempts == 0:
		return 0
	case r.Successes == 0:
		return math.Inf(1)
	}
	return float64(r.Attempts) / float64(r.Successes)
}

// RetryRate returns the plan's retry rate, (attempts - successes) /
// attempts: the fraction of attempts that did not succeed (0 when nothing
// was attempted).
func (r Result) RetryRate() float64 {
	if r.Attempts == 0 {
		return 0
	}
	return float64(r.Attempts-r.Successes) / float64(r.Attempts)
}

// MinWorkerSuccesses returns the fewest measured successes of any worker
// (0 if there are no workers).
func (r Result) MinWorkerSuccesses() int64 {
	if len(r.Workers) == 0 {
		return 0
	}
	m := r.Workers[0].Successes
	for _, w := range r.Workers[1:] {
		m = min(m, w.Successes)
	}
	return m
}

// MeanWorkerSuccesses returns the mean of the workers' measured successes.
func (r Result) MeanWorkerSuccesses() float64 {
	if len(r.Workers) == 0 {
		return 0
	}
	return float64(r.Successes) / float64(len(r.Workers))
}

// Starved returns the workers with no measured success: the plan's
// starvation failure ("per-thread success > 0%").
func (r Result) Starved() []int {
	var out []int
	for _, w := range r.Workers {
		if w.Successes == 0 {
			out = append(out, w.Worker)
		}
	}
	return out
}

// Unfair returns the workers whose measured successes are below frac times
// the mean (the plan's fairness warning uses frac = 0.10); starved workers
// are included.
func (r Result) Unfair(frac float64) []int {
	limit := frac * r.MeanWorkerSuccesses()
	var out []int
	for _, w := range r.Workers {
		if float64(w.Successes) < limit || w.Successes == 0 {
			out = append(out, w.Worker)
		}
	}
	return out
}

// P99OverMean returns p99 latency divided by mean latency (0 without
// measured successes).
func (r Result) P99OverMean() float64 {
	if r.Latency.Mean <= 0 {
		return 0
	}
	return float64(r.Latency.P99) / float64(r.Latency.Mean)
}

// MaxOverMean returns the maximum latency divided by the mean (0 without
// measured successes).
func (r Result) MaxOverMean() float64 {
	if r.Latency.Mean <= 0 {
		return 0
	}
	return float64(r.Latency.Max) / float64(r.Latency.Mean)
}

// Limits are the thresholds Judge applies. DefaultLimits holds the plan's
// M3 values; a caller with a stricter local bar (say, MaxAttempts 50) sets
// its own.
type Limits struct {
	// Starvation: a worker with no measured success is a failure (the
	// plan's "per-thread success > 0%", Block merge); false reports it as a
	// warning, for runs that guard something else.
	Starvation bool
	// GaveUp: an operation that gave up (ErrGaveUp: its retry budget ran
	// out) is a failure; false reports it as a warning. The plan's "we must
	// survive contention" makes it a failure by default.
	GaveUp bool
	// MaxAttempts: any operation with this many attempts or more is a
	// failure (the plan's "max attempts < 200", Block merge). 0 disables.
	MaxAttempts int
	// Fairness: a worker under this fraction of the mean successes is a
	// warning (the plan: 0.10). 0 disables.
	Fairness float64
	// P99OverMean: p99 above this multiple of the mean is a warning at M3
	// (the plan: 10). 0 disables.
	P99OverMean float64
	// MaxOverMean: max above this multiple of the mean is a warning (the
	// plan: 100). 0 disables.
	MaxOverMean float64
	// MeanAttempts: mean attempts above this is a warning (the plan: 3).
	// 0 disables.
	MeanAttempts float64
	// RetryRate: a retry rate above this fraction is a warning (the plan:
	// 0.60). 0 disables.
	RetryRate float64
	// HardTail makes the P99OverMean and RetryRate rules failures instead
	// of warnings: the plan's M4+ gates. False at M3.
	HardTail bool
}

// DefaultLimits are the plan's M3 rules ("Latency Distribution",
// "Starvation Detection").
var DefaultLimits = Limits{
	Starvation:   true,
	GaveUp:       true,
	MaxAttempts:  200,
	Fairness:     0.10,
	P99OverMean:  10,
	MaxOverMean:  100,
	MeanAttempts: 3,
	RetryRate:    0.60,
}

// Verdict is Judge's reading of a Result: Failures block a merge (the
// plan's correctness failures and hard gates), Warnings call for
// investigation.
type Verdict struct {
	Failures []string
	Warnings []string
}

// Failed reports whether there is any failure.
func (v Verdict) Failed() bool { return len(v.Failures) > 0 }

// Err returns nil without failures, otherwise an error listing them.
func (v Verdict) Err() error {
	if !v.Failed() {
		return nil
	}
	return errors.New("stress: " + strings.Join(v.Failures, "; "))
}

// String lists the failures and warnings, one per line ("ok" if none).
func (v Verdict) String() string {
	if len(v.Failures)+len(v.Warnings) == 0 {
		return "ok"
	}
	var b strings.Builder
	for _, f := range v.Failures {
		fmt.Fprintf(&b, "FAIL: %s\n", f)
	}
	for _, w := range v.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Judge applies the plan's rules to r under l.
//
// Failures (block merge): a worker panic (with its stack), a stuck worker,
// an operation that returned an error, one that gave up (ErrGaveUp; a
// warning unless l.GaveUp), a starved worker (no measured
// success; a warning unless l.Starvation), an operation with l.MaxAttempts attempts or more, nothing
// measured at all; with l.HardTail also p99 and retry-rate breaches.
// Warnings (investigate): a worker under l.Fairness of the mean, p99 over
// l.P99OverMean × mean, max over l.MaxOverMean × mean, mean attempts over
// l.MeanAttempts, retry rate over l.RetryRate.
//
// The data's own invariants (final value == successes, log length ==
// appends) are the caller's to check.
func (r Result) Judge(l Limits) Verdict {
	var v Verdict
	fail := func(format string, args ...any) { v.Failures = append(v.Failures, fmt.Sprintf(format, args...)) }
	warn := func(format string, args ...any) { v.Warnings = append(v.Warnings, fmt.Sprintf(format, args...)) }
	tail := warn
	if l.HardTail {
		tail = fail
	}

	for _, p := range r.Panics {
		fail("%s", p.String())
	}
	if len(r.Stuck) > 0 {
		fail("workers %v did not stop (deadlock or livelock)", r.Stuck)
	}
	if r.Errors > 0 {
		var first []string
		for _, w := range r.Workers {
			for _, err := range w.FirstErrors {
				if len(first) < 5 {
					first = append(first, fmt.Sprintf("worker %d: %v", w.Worker, err))
				}
			}
		}
		fail("%d operations failed; first: %s", r.Errors, strings.Join(first, " | "))
	}
	if r.GaveUp > 0 {
		giveUp := warn
		if l.GaveUp {
			giveUp = fail
		}
		var first error
		for _, w := range r.Workers {
			if first == nil {
				first = w.FirstGaveUp
			}
		}
		giveUp("%d operations gave up after exhausting their retries; first: %v", r.GaveUp, first)
	}
	if r.Successes == 0 {
		fail("no operation succeeded during the %v measurement", r.Measured)
	} else if s := r.Starved(); len(s) > 0 {
		starve := warn
		if l.Starvation {
			starve = fail
		}
		starve("starvation: workers %v had no success in %v (per-worker successes %v)", s, r.Measured, r.workerSuccesses())
	}
	if l.MaxAttempts > 0 && r.MaxAttempts >= l.MaxAttempts {
		fail("max attempts %d >= %d", r.MaxAttempts, l.MaxAttempts)
	}
	if l.Fairness > 0 && r.Successes > 0 {
		var unfair []int
		for _, w := range r.Unfair(l.Fairness) {
			if r.Workers[w].Successes > 0 { // starved ones already failed
				unfair = append(unfair, w)
			}
		}
		if len(unfair) > 0 {
			warn("fairness: workers %v under %.0f%% of the mean %.0f successes (per-worker %v)",
				unfair, l.Fairness*100, r.MeanWorkerSuccesses(), r.workerSuccesses())
		}
	}
	if r.Latency.Count > 0 {
		if l.P99OverMean > 0 && r.P99OverMean() > l.P99OverMean {
			tail("p99 %v > %.0fx mean %v (%.1fx)", r.Latency.P99, l.P99OverMean, r.Latency.Mean, r.P99OverMean())
		}
		if l.MaxOverMean > 0 && r.MaxOverMean() > l.MaxOverMean {
			warn("max %v > %.0fx mean %v (%.0fx)", r.Latency.Max, l.MaxOverMean, r.Latency.Mean, r.MaxOverMean())
		}
	}
	if l.MeanAttempts > 0 && r.Successes > 0 && r.MeanAttempts() > l.MeanAttempts {
		warn("mean attempts %.2f > %.0f", r.MeanAttempts(), l.MeanAttempts)
	}
	if l.RetryRate > 0 && r.RetryRate() > l.RetryRate {
		tail("retry rate %.0f%% > %.0f%%", r.RetryRate()*100, l.RetryRate*100)
	}
	return v
}

func (r Result) workerSuccesses() []int64 {
	out := make([]int64, len(r.Workers))
	for i, w := range r.Workers {
		out[i] = w.Successes
	}
	return out
}

// Summary renders the headline figures on one line, for t.Logf and reports:
// throughput, attempts, retry rate, latency percentiles and the weakest
// worker.
func (r Result) Summary() string {
	pinned := "unpinned"
	if r.Pinned {
		pinned = "pinned"
	}
	return fmt.Sprintf("%d workers (%s, GOMAXPROCS %d, %d CPUs, CPU share %.0f%%, other load %.2f cores), %v: %.0f ops/s (%.0f/worker), "+
		"attempts mean %.2f max %d, retry %.1f%%, latency mean %v p50 %v p95 %v p99 %v max %v (p99/mean %.1f), "+
		"min worker %d of mean %.0f, %d all-phase successes, %d errors, %d gave up, %d panics",
		len(r.Workers), pinned, r.GOMAXPROCS, r.NumCPU, r.CPUShare()*100, r.OtherLoad(), r.Measured.Round(time.Millisecond),
		r.OpsPerSec(), r.OpsPerSecPerWorker(), r.MeanAttempts(), r.MaxAttempts, r.RetryRate()*100,
		r.Latency.Mean, r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.P99OverMean(),
		r.MinWorkerSuccesses(), r.MeanWorkerSuccesses(), r.AllSuccesses, r.Errors, r.GaveUp, len(r.Panics))
}
