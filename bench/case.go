package bench

import (
	"regexp"
	"testing"
	"time"
)

// Case is one named benchmark of the M3 plan.
type Case struct {
	// Name is the plan's exact benchmark name, e.g. "core_get_hot".
	Name string
	// Tier is the plan's tier: "A0" (core data structure), later "A1", "B", ...
	Tier string
	// Group is the family the case belongs to and the prefix of its name:
	// "core", "cache", "branch", "mem".
	Group string
	// PlanGoal is the plan's asymptotic goal or M3 target for the case, 0 if
	// the plan gives none.
	PlanGoal time.Duration
	// OurGoal is Substrate's own (tighter) goal, 0 if none.
	OurGoal time.Duration
	// Gate is the plan's gate for the case: "none" for Tier A0, which is
	// observability only.
	Gate string
	// Metric is the ReportMetric unit that carries the figure for cases that
	// are not per-op timings (memory cases: "B/entry"); empty for ns/op cases.
	Metric string
	// Run is the benchmark body. It builds its own fixture outside the timer.
	Run func(b *testing.B)
	// Op, when set, builds the case's fixture (the same one Run uses) and
	// returns one operation of the case as a closure, for the latency pass
	// (latency.go), which times single operations, or batches of fast ones,
	// into an HDR histogram. done, which may be nil, is called once after
	// the pass and fails b if the operations went wrong (a miss, a failed
	// commit), like the checks at the end of Run. Nil: the case has no
	// latency row. Ops are attached by name in latency_ops.go.
	Op func(b *testing.B) (op func(), done func())
}

// us returns n microseconds: shorthand for the PlanGoal and OurGoal columns
// of the case tables.
func us(n int) time.Duration { return time.Duration(n) * time.Microsecond }

// ns returns n nanoseconds: shorthand for the PlanGoal and OurGoal columns
// of the case tables.
func ns(n int) time.Duration { return time.Duration(n) * time.Nanosecond }

// groups lists, in report order, the functions that contribute cases. Each
// group lives in its own file (core.go, cache.go, branch.go, mem.go,
// engine.go); a new
// tier adds its group here.
var groups = []func() []Case{
	coreCases,
	cacheCases,
	branchCases,
	memCases,
	engineCases, // Tier A1 (engine.go)
	kvstoreCases, statecellCases, eventlogCases, crossCases,
	crossAllCases, tracestoreCases, runindexCases, indexAmpCases, // cross_txn_all_primitives, Tier C
	contentionCases, // Tier D (contention.go)
}

// Cases returns every registered case in report order (core, cache, branch,
// mem). The slice is freshly built; callers may modify it.
func Cases() []Case {
	var out []Case
	for _, g := range groups {
		out = append(out, g()...)
	}
	attachLatencyOps(out)
	return out
}

// Match returns the cases whose Name matches re, in report order. A nil re
// matches every case.
func Match(re *regexp.Regexp) []Case {
	var out []Case
	for _, c := range Cases() {
		if re == nil || re.MatchString(c.Name) {
			out = append(out, c)
		}
	}
	return out
}
