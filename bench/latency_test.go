package bench

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLatencyBudget(t *testing.T) {
	for _, tc := range []struct{ spec, bt, want string }{
		{"", "1s", "1s"},
		{"", "5s", DefaultLatencyTime.String()},
		{"", "100ms", "100ms"},
		{"", "100x", "100x"},
		{"0", "1s", "0"},
		{"250ms", "1x", "250ms"},
		{"1000x", "1s", "1000x"},
	} {
		l, err := latencyBudgetFor(tc.spec, tc.bt)
		if err != nil || l.String() != tc.want {
			t.Errorf("latencyBudgetFor(%q, %q) = %v, %v; want %s", tc.spec, tc.bt, l, err, tc.want)
		}
	}
	for _, bad := range []string{"soon", "-1s", "0x", "x", "1.5x"} {
		if _, err := latencyBudgetFor(bad, "1s"); err == nil || !strings.Contains(err.Error(), "bad -latency") {
			t.Errorf("latencyBudgetFor(%q) = %v, want an error", bad, err)
		}
	}
	if _, err := latencyBudgetFor("", "bogus"); err == nil {
		t.Error("a bad benchtime gave no error")
	}
}

// checkPercentiles fails t unless r's figures are ordered and positive.
func checkPercentiles(t *testing.T, r LatencyResult) {
	t.Helper()
	if r.Failed || r.Samples <= 0 || r.MeanNs <= 0 || r.P50Ns <= 0 ||
		r.P50Ns > r.P95Ns || r.P95Ns > r.P99Ns || r.P99Ns > r.MaxNs || r.MeanNs > r.MaxNs {
		t.Errorf("%s: bad distribution %+v", r.Name, r)
	}
	if r.Ops != r.Samples*int64(r.Batch) || r.TimerNs <= 0 || r.Verdict == "" {
		t.Errorf("%s: ops %d, samples %d, batch %d, timer %v, verdict %q", r.Name, r.Ops, r.Samples, r.Batch, r.TimerNs, r.Verdict)
	}
}

// TestLatencyBatching times a trivial operation (batched) and a 2 µs one
// (single), by count and by duration.
func TestLatencyBatching(t *testing.T) {
	setBenchTime(t, "1x")
	var n uint64
	fast := &Case{Name: "core_fake_fast", Tier: "A0", Op: func(b *testing.B) (func(), func()) {
		return func() { n++ }, nil
	}}
	slow := &Case{Name: "kvstore_fake_slow", Tier: "B", Op: func(b *testing.B) (func(), func()) {
		return func() { spin(2 * time.Microsecond) }, nil
	}}
	r := measureLatency(fast, latencyBudget{n: 300})
	checkPercentiles(t, r)
	if !r.Batched || r.Batch != latencyBatch || r.Samples != 300 || r.Name != "core_fake_fast" || r.Tier != "A0" {
		t.Errorf("fast op: %+v", r)
	}
	r = measureLatency(slow, latencyBudget{d: 20 * time.Millisecond})
	checkPercentiles(t, r)
	if r.Batched || r.Batch != 1 || r.P50Ns < 2000 {
		t.Errorf("slow op: %+v", r)
	}
}

func TestLatencyFailures(t *testing.T) {
	setBenchTime(t, "1x")
	for _, c := range []*Case{
		{Name: "fixture_fails", Op: func(b *testing.B) (func(), func()) {
			b.Fatal("no fixture")
			return nil, nil
		}},
		{Name: "done_fails", Op: func(b *testing.B) (func(), func()) {
			return func() {}, func() { b.Fatal("bad ops") }
		}},
	} {
		if r := measureLatency(c, latencyBudget{n: 10}); !r.Failed || r.Verdict != "FAILED" {
			t.Errorf("%s: %+v, want Failed", c.Name, r)
		}
	}
}

func TestLatencyVerdict(t *testing.T) {
	for _, tc := range []struct {
		r    LatencyResult
		want string
	}{
		{LatencyResult{MeanNs: 100, P99Ns: 500, MaxNs: 5000}, "ok"},
		{LatencyResult{MeanNs: 100, P99Ns: 1500, MaxNs: 5000}, "warning: p99 > 10× mean (investigate)"},
		{LatencyResult{MeanNs: 100, P99Ns: 1500, MaxNs: 20000}, "warning: p99 > 10× mean, max > 100× mean (investigate)"},
		{LatencyResult{Failed: true}, "FAILED"},
	} {
		if got := latencyVerdict(tc.r); got != tc.want {
			t.Errorf("latencyVerdict(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}

// TestLatencyOpsCover checks that the operations the plan's latency table
// needs have an Op, and that every Op names a registered case.
func TestLatencyOpsCover(t *testing.T) {
	byName := map[string]Case{}
	for _, c := range Cases() {
		byName[c.Name] = c
	}
	for name := range latencyOps {
		if _, ok := byName[name]; !ok {
			t.Errorf("latencyOps names %q, which is not a case", name)
		}
	}
	for _, name := range []string{
		"core_get_hot", "core_put_hot", "core_cas_hot", "engine_get_direct", "engine_put_direct",
		"kvstore_get", "kvstore_put", "statecell_cas", "statecell_transition", "eventlog_append", "cross_txn_kv_event",
	} {
		if byName[name].Op == nil {
			t.Errorf("%s has no Op", name)
		}
	}
}

// TestLatencyRealOps runs the latency pass over a few real operations of
// each tier (a short count each) through run, and checks the rows and the
// text table.
func TestLatencyRealOps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four fixtures; skipped under -short")
	}
	names := []string{"core_get_hot", "engine_put_direct", "kvstore_get", "cross_txn_kv_event"}
	var cases []Case
	for _, c := range Cases() {
		if slices.Contains(names, c.Name) {
			cases = append(cases, c)
		}
	}
	var out strings.Builder
	rep, err := run(Options{BenchTime: "1x", Latency: "200x", Stdout: &out}, cases, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Latency) != len(names) || rep.LatencyBudget != "200x" {
		t.Fatalf("latency rows %+v, budget %q", rep.Latency, rep.LatencyBudget)
	}
	for _, r := range rep.Latency {
		checkPercentiles(t, r)
		if r.Samples != 200 {
			t.Errorf("%s: %d samples, want 200", r.Name, r.Samples)
		}
		if r.Name == "core_get_hot" && !raceEnabled && !r.Batched {
			t.Errorf("core_get_hot (a few ns) was not batched: %+v", r)
		}
		if r.Name == "cross_txn_kv_event" && r.Batched {
			t.Errorf("cross_txn_kv_event (microseconds) was batched: %+v", r)
		}
	}
	for _, want := range []string{"=== Latency Distribution (HDR histogram) ===", "batches of 64", "single op", "p99/mean", "cross_txn_kv_event"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if !raceEnabled && !strings.Contains(out.String(), "batch ×64") {
		t.Errorf("no batched row in the table:\n%s", out.String())
	}
}
