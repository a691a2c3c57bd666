package bench

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The latency pass (plan "Latency Distribution": mean, p95, p99, max, and
// the phase-gated p99 rules). Every selected case with an Op gets its
// fixture built again, a warm-up, and then a timed loop that records each
// operation's latency in an HDR histogram. Operations under
// latencyBatchBelow cannot be timed one by one (a timestamp pair costs tens
// of nanoseconds), so they are timed latencyBatch at a time and each sample
// is the batch's per-operation mean; the report says which rows are
// batched, and that their percentiles are of batch means.

// DefaultLatencyTime is the longest the latency pass spends on one
// operation when its budget follows a duration benchtime.
const DefaultLatencyTime = time.Second

const (
	// latencyBatchBelow is the per-operation time under which operations
	// are timed in batches.
	latencyBatchBelow = 100 * time.Nanosecond
	// latencyBatch is the number of operations per timestamp pair for
	// batched rows.
	latencyBatch = 64
	// latencyWarmOps is the warm-up: this many operations (two passes over
	// the 10,000-entry fixtures, so that version-node pools reach their
	// steady state, as in the benchmark bodies), or latencyWarmMax, or a
	// quarter of a duration budget, whichever ends first.
	latencyWarmOps = 20_000
	latencyWarmMax = 250 * time.Millisecond
	// The histogram records picoseconds (batch means of a few nanoseconds
	// keep their fraction) from 1 ps to 10 s, to 3 significant digits.
	histLowestPs  = 1
	histHighestPs = 10_000_000_000_000
	histDigits    = 3
	// p99OverMeanWarn and maxOverMeanWarn are the plan's p99 rules (M3:
	// warning and investigate, not a gate).
	p99OverMeanWarn = 10
	maxOverMeanWarn = 100
)

// LatencyResult is the latency distribution of one operation: the
// statistics of its HDR histogram, in nanoseconds per operation.
type LatencyResult struct {
	// Name and Tier are the case's.
	Name string `json:"name"`
	Tier string `json:"tier"`
	// Batched reports that the operation was timed Batch operations per
	// timestamp pair (it took under latencyBatchBelow), each sample being
	// the batch's per-operation mean; Batch is 1 otherwise.
	Batched bool `json:"batched"`
	Batch   int  `json:"batch"`
	// Samples is the number of values recorded (batches, for batched
	// rows); Ops the number of operations timed.
	Samples int64 `json:"samples"`
	Ops     int64 `json:"ops"`
	// MeanNs, P50Ns, P95Ns, P99Ns and MaxNs are the histogram's mean,
	// percentiles and maximum.
	MeanNs float64 `json:"mean_ns"`
	P50Ns  float64 `json:"p50_ns"`
	P95Ns  float64 `json:"p95_ns"`
	P99Ns  float64 `json:"p99_ns"`
	MaxNs  float64 `json:"max_ns"`
	// TimerNs is the measured time of an empty sample (the clock reads
	// around nothing), included in every sample (divided by Batch in
	// batched rows); not subtracted.
	TimerNs float64 `json:"timer_ns"`
	// Clamped counts samples above the histogram's range (10 s), recorded
	// as its maximum.
	Clamped int64 `json:"clamped,omitempty"`
	// Verdict applies the plan's p99 rules: "ok", or warnings for p99 > 10×
	// mean and max > 100× mean (investigate; not gates in M3).
	Verdict string `json:"verdict"`
	// Failed reports that the fixture or the operations failed (a miss, a
	// failed commit); the figures are then not to be trusted.
	Failed bool `json:"failed,omitempty"`
}

// latencyBudget is the latency pass's budget per operation: a duration, a
// sample count, or neither (the pass is off).
type latencyBudget struct {
	d time.Duration
	n int64
}

func (l latencyBudget) off() bool { return l.d <= 0 && l.n <= 0 }

func (l latencyBudget) String() string {
	switch {
	case l.n > 0:
		return fmt.Sprintf("%dx", l.n)
	case l.d > 0:
		return l.d.String()
	}
	return "0"
}

// latencyBudgetFor parses the latency spec (Options.Latency); empty follows
// benchtime: its count, or its duration capped at DefaultLatencyTime.
func latencyBudgetFor(spec, benchtime string) (latencyBudget, error) {
	if spec == "" {
		l, err := parseBudget(benchtime)
		if err != nil || l.off() {
			return latencyBudget{}, fmt.Errorf("bad benchtime %q: want a duration (1s, 100ms) or a count (100x)", benchtime)
		}
		if l.d > DefaultLatencyTime {
			l.d = DefaultLatencyTime
		}
		return l, nil
	}
	l, err := parseBudget(spec)
	if err != nil {
		return latencyBudget{}, fmt.Errorf("bad -latency %q: want a duration (100ms), a sample count (1000x) or 0 to skip the pass", spec)
	}
	return l, nil
}

// parseBudget reads "0", "Nx" (N >= 1) or a positive duration.
func parseBudget(s string) (latencyBudget, error) {
	if s == "0" {
		return latencyBudget{}, nil
	}
	if n, ok := strings.CutSuffix(s, "x"); ok {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil || v < 1 {
			return latencyBudget{}, fmt.Errorf("bad count %q", s)
		}
		return latencyBudget{n: v}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return latencyBudget{}, fmt.Errorf("bad duration %q", s)
	}
	return latencyBudget{d: d}, nil
}

// runLatency runs the latency pass over the plan's cases that have an Op,
// in plan order, printing a progress line for each. The caller sets the
// benchtime to 1x (measureLatency runs its body once).
func runLatency(plan []runItem, lb latencyBudget, progress io.Writer) []LatencyResult {
	var todo []*Case
	for _, it := range plan {
		if it.c != nil && it.c.Op != nil {
			todo = append(todo, it.c)
		}
	}
	var out []LatencyResult
	for i, c := range todo {
		r := measureLatency(c, lb)
		ReleaseFixtures()
		fig := "FAILED"
		if !r.Failed {
			fig = fmt.Sprintf("mean %s  p50 %s  p99 %s  max %s  (%s)", fmtNs(r.MeanNs), fmtNs(r.P50Ns), fmtNs(r.P99Ns), fmtNs(r.MaxNs), r.timing())
		}
		fmt.Fprintf(progress, "[latency %d/%d] %s  %s\n", i+1, len(todo), c.Name, fig)
		out = append(out, r)
	}
	return out
}

// measureLatency builds c's fixture through c.Op inside testing.Benchmark
// (the fixtures take a *testing.B, and a b.Fatal in them must end only this
// measurement), samples the operation for the budget, and calls done.
// The body measures on its first call only; with -test.benchtime 1x there
// is no other.
func measureLatency(c *Case, lb latencyBudget) LatencyResult {
	res := LatencyResult{Name: c.Name, Tier: c.Tier}
	var (
		failed, ran atomic.Bool
	)
	r := testing.Benchmark(func(b *testing.B) {
		if ran.Swap(true) {
			return
		}
		defer func() {
			if b.Failed() {
				failed.Store(true)
			}
		}()
		op, done := c.Op(b)
		runtime.GC() // the fixture's garbage is not the operations' cost
		s := sampleLatency(op, lb)
		s.Name, s.Tier = c.Name, c.Tier
		res = s
		if done != nil {
			done()
		}
	})
	if r.N <= 0 || failed.Load() || res.Samples == 0 {
		return LatencyResult{Name: c.Name, Tier: c.Tier, Failed: true, Verdict: "FAILED"}
	}
	return res
}

// timerOverhead returns the mean in ns of an empty sample: the time
// time.Since(t0) reports with nothing between it and t0 := time.Now(),
// which is what every sample of the pass includes beside the operations.
func timerOverhead() float64 {
	const n = 10_000
	var acc time.Duration
	for range n {
		t0 := time.Now()
		acc += time.Since(t0)
	}
	return float64(acc.Nanoseconds()) / n
}

// sampleLatency warms op up, decides whether to batch it, then records its
// latency into an HDR histogram for the budget and summarizes it.
func sampleLatency(op func(), lb latencyBudget) LatencyResult {
	res := LatencyResult{Batch: 1, TimerNs: timerOverhead()}

	warmMax := latencyWarmMax
	if lb.d > 0 {
		warmMax = min(warmMax, lb.d/4)
	}
	warmStart := time.Now()
	var warmOps int64
	var warmEl time.Duration
	for warmOps < latencyWarmOps {
		for range 64 {
			op()
		}
		warmOps += 64
		if warmEl = time.Since(warmStart); warmEl >= warmMax {
			break
		}
	}
	if time.Duration(warmEl.Nanoseconds()/warmOps) < latencyBatchBelow {
		res.Batched, res.Batch = true, latencyBatch
	}

	h := hdrhistogram.New(histLowestPs, histHighestPs, histDigits)
	batch := res.Batch
	start := time.Now()
	for {
		t0 := time.Now()
		for range batch {
			op()
		}
		el := time.Since(t0)
		ps := el.Nanoseconds() * 1000 / int64(batch)
		switch {
		case ps < histLowestPs:
			ps = histLowestPs
		case ps > histHighestPs:
			ps = histHighestPs
			res.Clamped++
		}
		_ = h.RecordValue(ps) // in range by construction
		res.Samples++
		res.Ops += int64(batch)
		if lb.n > 0 {
			if res.Samples >= lb.n {
				break
			}
		} else if t0.Add(el).Sub(start) >= lb.d {
			break
		}
	}
	res.MeanNs = h.Mean() / 1000
	res.P50Ns = float64(h.ValueAtQuantile(50)) / 1000
	res.P95Ns = float64(h.ValueAtQuantile(95)) / 1000
	res.P99Ns = float64(h.ValueAtQuantile(99)) / 1000
	res.MaxNs = float64(h.Max()) / 1000
	res.Verdict = latencyVerdict(res)
	return res
}

// latencyVerdict applies the plan's p99 rules for M3: p99 > 10× mean and
// max > 100× mean are warnings ("investigate"), never failures.
func latencyVerdict(r LatencyResult) string {
	if r.Failed {
		return "FAILED"
	}
	if r.MeanNs <= 0 {
		return "ok"
	}
	var w []string
	if r.P99Ns > p99OverMeanWarn*r.MeanNs {
		w = append(w, "p99 > 10× mean")
	}
	if r.MaxNs > maxOverMeanWarn*r.MeanNs {
		w = append(w, "max > 100× mean")
	}
	if len(w) == 0 {
		return "ok"
	}
	return "warning: " + strings.Join(w, ", ") + " (investigate)"
}

// timing says how a row was timed: "single op" or "batch ×64".
func (r LatencyResult) timing() string {
	if r.Batched {
		return fmt.Sprintf("batch ×%d", r.Batch)
	}
	return "single op"
}

// writeLatency prints the plan's "Latency Distribution" table.
func (rep *Report) writeLatency(w io.Writer) {
	if len(rep.Latency) == 0 {
		return
	}
	fmt.Fprintf(w, "\n=== Latency Distribution (HDR histogram) ===\n")
	fmt.Fprintf(w, "Per operation, after a warm-up: mean, p50, p95, p99 and max from an HDR histogram (3 significant digits),\n")
	fmt.Fprintf(w, "budget %s per operation. Operations under %s are timed in batches of %d per timestamp pair\n",
		rep.LatencyBudget, fmtNs(float64(latencyBatchBelow.Nanoseconds())), latencyBatch)
	fmt.Fprintf(w, "(timing \"batch ×%d\"): each sample is a batch's per-op mean, so their percentiles are of %d-op means and\n", latencyBatch, latencyBatch)
	fmt.Fprintf(w, "hide single-op outliers. Every sample includes the clock reads around it (timer: an empty sample's time,\n")
	fmt.Fprintf(w, "not subtracted; /%d in batched rows).\n", latencyBatch)
	fmt.Fprintf(w, "p99 rules (plan, M3): p99 > 10× mean and max > 100× mean are warnings to investigate, not gates.\n")
	tw := newTable(w)
	row(tw, "operation", "tier", "timing", "samples", "mean", "p50", "p95", "p99", "max", "p99/mean", "max/mean", "timer", "verdict")
	for _, r := range rep.Latency {
		if r.Failed {
			row(tw, r.Name, r.Tier, "-", "-", "FAILED", "-", "-", "-", "-", "-", "-", "-", "FAILED")
			continue
		}
		p99m, maxm := "-", "-"
		if r.MeanNs > 0 {
			p99m = fmt.Sprintf("%.1f", r.P99Ns/r.MeanNs)
			maxm = fmt.Sprintf("%.0f", r.MaxNs/r.MeanNs)
		}
		row(tw, r.Name, r.Tier, r.timing(), fmtSamples(r.Samples), fmtNs(r.MeanNs), fmtNs(r.P50Ns), fmtNs(r.P95Ns),
			fmtNs(r.P99Ns), fmtNs(r.MaxNs), p99m, maxm, fmtNs(r.TimerNs), r.Verdict)
	}
	tw.Flush()
	fmt.Fprintf(w, "max is a single sample: on a shared machine, preemption and GC pauses decide it; p99 is the figure to watch.\n")
	if rep.Race {
		fmt.Fprintf(w, "(-race build: the latencies above are meaningless.)\n")
	}
}

// fmtSamples formats a sample count as 950, 12.3k, 4.56M.
func fmtSamples(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e4:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return strconv.FormatInt(n, 10)
}
