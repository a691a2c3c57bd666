package bench

import (
	"errors"
	"flag"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/substrate-lab/substrate/stress"
)

func init() {
	flag.DurationVar(&ContentionMeasure, "contention.measure", 0,
		"measurement phase of the Tier D contention/ cases (warmup and cooldown a quarter each); "+
			"0 chooses by -benchtime: short (200ms) for a count or under 1s, else the plan's 2s")
	flag.BoolVar(&ContentionPin, "contention.pin", true,
		"pin the workers of contention/ cases to cores when there are enough cores")
}

// planTierD is the plan's Category 11 list, in report order.
var planTierD = []string{
	"contention/statecell/4", "contention/statecell/8",
	"contention/eventlog/4", "contention/eventlog/8",
	"contention/disjoint/2", "contention/disjoint/4", "contention/disjoint/8",
}

func TestContentionCasesMatchPlan(t *testing.T) {
	var names []string
	for _, c := range Cases() {
		if c.Tier != "D" {
			continue
		}
		names = append(names, c.Name)
		if c.Group != "contention" {
			t.Errorf("%s: group %q", c.Name, c.Group)
		}
		wantHard := strings.Contains(c.Name, "disjoint")
		if strings.HasPrefix(c.Gate, "hard>=") != wantHard || !strings.HasSuffix(c.Gate, "x") {
			t.Errorf("%s: gate %q (disjoint cases are the hard gate, same-key ones warnings)", c.Name, c.Gate)
		}
	}
	if !slices.Equal(names, planTierD) {
		t.Errorf("Tier D cases = %v\nwant %v", names, planTierD)
	}
	gates := map[string]string{
		"contention/statecell/4": "warn>=0.25x", "contention/statecell/8": "warn>=0.15x",
		"contention/eventlog/4": "warn>=0.25x", "contention/eventlog/8": "warn>=0.15x",
		"contention/disjoint/2": "hard>=1.8x", "contention/disjoint/4": "hard>=3.2x", "contention/disjoint/8": "hard>=6x",
	}
	for _, c := range Match(nil) {
		if g, ok := gates[c.Name]; ok && c.Gate != g {
			t.Errorf("%s: gate %q, want %q", c.Name, c.Gate, g)
		}
	}
}

func TestContentionShort(t *testing.T) {
	for v, want := range map[string]bool{"1x": true, "100x": true, "100ms": true, "999ms": true, "1s": false, "3s": false} {
		setBenchTime(t, v)
		if got := contentionShort(); got != want {
			t.Errorf("benchtime %s: short = %v, want %v", v, got, want)
		}
	}
}

func TestContentionVerdict(t *testing.T) {
	res := func(gate string, m map[string]float64) CaseResult {
		return CaseResult{Name: "x", Tier: "D", Gate: gate, Figure: Figure{Metrics: m}}
	}
	cases := []struct {
		r    CaseResult
		want string
		fail bool
	}{
		{res("hard>=1.8x", map[string]float64{"gate-judged": 1, "x-1worker": 1.9, "gate-x": 1.8}), "pass", false},
		{res("hard>=1.8x", map[string]float64{"gate-judged": 1, "x-1worker": 1.2, "gate-x": 1.8}), "FAIL (M3 gate >=1.8x, got 1.20x)", true},
		{res("hard>=1.8x", map[string]float64{"gate-judged": 1, "x-1worker": 1.5, "gate-x": 1.8, "machine-x": 1.62}),
			"FAIL (M3 gate >=1.8x, got 1.50x; this machine gave work that shares nothing 1.62x)", true},
		{res("hard>=1.8x", map[string]float64{"gate-judged": 1, "x-1worker": 1.5, "gate-x": 1.8, "machine-x": -1}), "FAIL (M3 gate >=1.8x, got 1.50x)", true},
		{res("hard>=6x", map[string]float64{"gate-judged": 0, "x-1worker": 1.2, "gate-x": 6, "cores": 2, "workers": 8}), "n/a on this machine (2 cores)", false},
		{res("hard>=1.8x", map[string]float64{"gate-judged": 0, "x-1worker": 1.2, "gate-x": 1.8, "cores": 2, "workers": 2, "measure-s": 0.2}), "not judged: 0.2 s window (short run; plan: 2 s)", false},
		{res("warn>=0.25x", map[string]float64{"gate-judged": 1, "x-1worker": 0.2, "gate-x": 0.25}), "warning (0.20x < 0.25x of 1 worker)", false},
		{res("warn>=0.25x", map[string]float64{"gate-judged": 1, "x-1worker": 0.5, "gate-x": 0.25, "p99/mean": 12}), "pass; warning: p99 > 10x mean", false},
		{res("warn>=0.25x", map[string]float64{"gate-judged": 1, "x-1worker": 0.5, "gate-x": 0.25, "starved": 2}), "FAIL (starvation: 2 workers with no success)", true},
		{res("warn>=0.25x", map[string]float64{"gate-judged": 1, "x-1worker": 0.5, "gate-x": 0.25, "gave-up": 3}), "FAIL (3 operations gave up after exhausting their retries)", true},
		{CaseResult{Tier: "D", Figure: Figure{Failed: true}}, "FAILED", false},
	}
	for _, c := range cases {
		got, fail := contentionVerdict(c.r)
		if got != c.want || fail != c.fail {
			t.Errorf("%v: verdict %q, %v; want %q, %v", c.r.Metrics, got, fail, c.want, c.fail)
		}
	}
}

// BenchmarkContention is Tier D with b.RunParallel, so that the -cpu flag
// shows scaling directly:
//
//	go test ./bench -run '^$' -bench Contention -cpu 1,2,4,8
//
// Each of the GOMAXPROCS goroutines loops db.Update on the primitive;
// ns/op is wall time per operation over all goroutines, so perfect scaling
// of a disjoint workload halves it from -cpu 1 to -cpu 2, and a same-key
// workload's ns/op shows what contention costs. attempts/op and retry-%
// come from counting the closure's runs. Invariants are checked after the
// loop, as in the contention/ cases.
func BenchmarkContention(b *testing.B) {
	b.Run("op=statecell_transition", func(b *testing.B) { benchContentionParallel(b, "statecell") })
	b.Run("op=eventlog_append", func(b *testing.B) { benchContentionParallel(b, "eventlog") })
	b.Run("op=disjoint_rmw", func(b *testing.B) { benchContentionParallel(b, "disjoint") })
}

// benchContentionParallel runs kind's fixture (newContentionFixture, one
// worker slot per goroutine) under b.RunParallel.
func benchContentionParallel(b *testing.B, kind string) {
	procs := runtime.GOMAXPROCS(0) // b.RunParallel's goroutine count (parallelism 1)
	f := newContentionFixture(b, kind, procs)
	defer f.db.Close()
	var (
		next                    atomic.Int64
		succ, attempts, errored atomic.Int64
		gaveUp                  atomic.Int64
		perWorker               = make([]int64, procs) // successes, written by worker w only
	)
	// One warm-up op per worker slot, outside the timer.
	for w := range procs {
		if _, err := f.op(w); err != nil {
			b.Fatal(err)
		}
		perWorker[w]++
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(next.Add(1)-1) % procs
		var s, a, e, g int64
		for pb.Next() {
			n, err := f.op(w)
			a += int64(n)
			switch {
			case err == nil:
				s++
			case errors.Is(err, stress.ErrGaveUp):
				g++
			default:
				e++
			}
		}
		perWorker[w] += s
		succ.Add(s)
		attempts.Add(a)
		errored.Add(e)
		gaveUp.Add(g)
	})
	b.StopTimer()
	if e := errored.Load(); e > 0 {
		b.Fatalf("%d operations failed", e)
	}
	if err := f.check(resultOf(perWorker)); err != nil {
		b.Fatalf("invariant: %v", err)
	}
	if g := gaveUp.Load(); g > 0 {
		b.Logf("%d operations gave up after exhausting db.Update's retries", g)
	}
	b.ReportMetric(float64(gaveUp.Load()), "gave-up")
	if s := succ.Load(); s > 0 {
		b.ReportMetric(float64(attempts.Load())/float64(s), "attempts/op")
		b.ReportMetric(float64(attempts.Load()-s)/float64(attempts.Load())*100, "retry-%")
	}
}

// resultOf builds the part of a stress.Result that the fixtures' checks
// read: per-worker and total successes.
func resultOf(perWorker []int64) stress.Result {
	r := stress.Result{Workers: make([]stress.WorkerResult, len(perWorker))}
	for w, n := range perWorker {
		r.Workers[w] = stress.WorkerResult{Worker: w, AllSuccesses: n}
		r.AllSuccesses += n
	}
	return r
}

// TestTierDHandoffLine: the Tier D table gives each case's core-to-core
// handoff, with a line explaining it, when the cases measured it, and
// "n/a" without the line when they did not (one core: -1).
func TestTierDHandoffLine(t *testing.T) {
	for _, c := range []struct {
		h    float64
		want bool
	}{{216, true}, {-1, false}} {
		rep := &Report{Cases: []CaseResult{{Name: "contention/statecell/4", Tier: "D", Gate: "warn>=0.25x",
			Figure: Figure{Metrics: map[string]float64{"x-1worker": 0.4, "gate-x": 0.25, "handoff-ns": c.h}}}}}
		var sb strings.Builder
		rep.writeTierD(&sb)
		out := sb.String()
		if got := strings.Contains(out, "216 ns") && strings.Contains(out, "cache-line handoff measured"); got != c.want {
			t.Errorf("handoff-ns %v: figure and line present %v, want %v:\n%s", c.h, got, c.want, out)
		}
	}
}

// TestTierDMachineColumn: a disjoint case's machine-x shows in the Tier D
// table's machine column, with the line explaining it; a failed probe (-1)
// reads "n/a" without the line; a same-key case, which has none, reads "-".
func TestTierDMachineColumn(t *testing.T) {
	for _, c := range []struct {
		x        float64
		cell     string
		withLine bool
	}{{1.62, "1.62×", true}, {-1, "n/a", false}} {
		rep := &Report{Cases: []CaseResult{
			{Name: "contention/statecell/4", Tier: "D", Gate: "warn>=0.25x", Verdict: "pass",
				Figure: Figure{Metrics: map[string]float64{"x-1worker": 0.6, "gate-x": 0.25}}},
			{Name: "contention/disjoint/2", Tier: "D", Gate: "hard>=1.8x", Verdict: "pass",
				Figure: Figure{Metrics: map[string]float64{"x-1worker": 1.9, "gate-x": 1.8, "machine-x": c.x}}},
		}}
		var sb strings.Builder
		rep.writeTierD(&sb)
		out := sb.String()
		var disjoint, same string
		for _, l := range strings.Split(out, "\n") {
			switch {
			case strings.Contains(l, "contention/disjoint/2"):
				disjoint = l
			case strings.Contains(l, "contention/statecell/4"):
				same = l
			}
		}
		if !strings.Contains(disjoint, c.cell) || strings.Contains(out, "register-only arithmetic") != c.withLine {
			t.Errorf("machine-x %v: want %q in the disjoint row and the line %v:\n%s", c.x, c.cell, c.withLine, out)
		}
		if f := strings.Fields(same); len(f) < 2 || f[len(f)-2] != "-" {
			t.Errorf("same-key row has no \"-\" machine cell: %q", same)
		}
	}
}
