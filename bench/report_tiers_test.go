package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// spin busy-waits d, so a case can be made slower than a gate on purpose.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

func gateCases(a1 time.Duration) []Case {
	return []Case{{
		Name: "engine_fake_op", Tier: "A1", Group: "engine", Gate: "hard<3us",
		PlanGoal: 500 * time.Nanosecond, OurGoal: 80 * time.Nanosecond,
		Run: func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				spin(a1)
			}
		},
	}}
}

// TestGatesExitNonZero breaks the Tier A1 launch gate on purpose (a 5 µs
// operation) and checks that m3bench -gates exits 3, that without -gates it
// exits 0 with the FAIL verdict printed, and that a fast case passes.
func TestGatesExitNonZero(t *testing.T) {
	defer func(f func(Options) (*Report, error)) { runForMain = f }(runForMain)
	for _, tc := range []struct {
		name   string
		op     time.Duration
		args   []string
		want   int
		inText string
	}{
		{"broken gate, -gates", 5 * time.Microsecond, []string{"-gates", "-benchtime", "50x"}, 3, "FAIL (M3 gate <3 µs)"},
		{"broken gate, no -gates", 5 * time.Microsecond, []string{"-benchtime", "50x"}, 0, "FAIL (M3 gate <3 µs)"},
		{"gate met, -gates", 0, []string{"-gates", "-benchtime", "50x"}, 0, "pass"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runForMain = func(o Options) (*Report, error) { return run(o, gateCases(tc.op), nil, nil) }
			var out, errOut bytes.Buffer
			if got := Main(tc.args, &out, &errOut); got != tc.want {
				t.Fatalf("Main(%v) = %d, want %d\nstderr: %s", tc.args, got, tc.want, errOut.String())
			}
			if !strings.Contains(out.String(), "=== Tier A1: Minimal Correctness Wrapper ===") ||
				!strings.Contains(out.String(), tc.inText) {
				t.Errorf("report lacks the A1 table or %q:\n%s", tc.inText, out.String())
			}
		})
	}
}

func TestTierVerdicts(t *testing.T) {
	for _, tc := range []struct {
		r       CaseResult
		want    string
		gateBad bool
	}{
		{CaseResult{Tier: "A1", Gate: "hard<3us", OurGoalNs: 80, Figure: Figure{NsPerOp: 50}}, "pass", false},
		{CaseResult{Tier: "A1", Gate: "hard<3us", OurGoalNs: 80, Figure: Figure{NsPerOp: 120}}, "pass, over our goal", false},
		{CaseResult{Tier: "A1", Gate: "hard<3us", Figure: Figure{NsPerOp: 3000}}, "FAIL (M3 gate <3 µs)", true},
		{CaseResult{Tier: "A1", Gate: "none", Figure: Figure{NsPerOp: 9000}}, "ok (observability)", false},
		{CaseResult{Tier: "B", PlanGoalNs: 5000, Figure: Figure{NsPerOp: 6000}}, "warning (over M3 target)", false},
		{CaseResult{Tier: "B", PlanGoalNs: 5000, Figure: Figure{NsPerOp: 60000}}, "warning: investigate (>50 µs)", false},
		{CaseResult{Tier: "B", PlanGoalNs: 2e6, Figure: Figure{NsPerOp: 300e3}}, "pass", false},
		{CaseResult{Tier: "C", PlanGoalNs: 20000, OurGoalNs: 4000, Figure: Figure{NsPerOp: 5000}}, "pass, over our goal", false},
		{CaseResult{Tier: "A1", Figure: Figure{Failed: true}}, "FAILED", false},
	} {
		got, bad := tierVerdict(tc.r)
		if got != tc.want || bad != tc.gateBad {
			t.Errorf("tierVerdict(%+v) = %q, %v; want %q, %v", tc.r, got, bad, tc.want, tc.gateBad)
		}
	}
}
