package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestMainCoreGetHot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m3.json")
	var out, errOut bytes.Buffer
	code := Main([]string{"-bench", "^core_get_hot$", "-benchtime", "100x", "-json", path}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit code %d\nstderr:\n%s", code, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"=== Environment ===",
		"Reference platform:",
		"=== Tier A0: Core Data Structure ===",
		"core_get_hot",
		"<200 ns", "<30 ns",
		"=== Peers (same 10,000 keys, same loop) ===",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(errOut.String(), "core_get_hot") || !strings.Contains(errOut.String(), "[1/6]") {
		t.Errorf("progress lines missing:\n%s", errOut.String())
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, data)
	}
	if len(rep.Cases) != 1 || rep.Cases[0].Name != "core_get_hot" {
		t.Fatalf("JSON cases = %+v", rep.Cases)
	}
	c := rep.Cases[0]
	if c.NsPerOp <= 0 || c.N != 100 || c.PlanGoalNs != 200 || c.OurGoalNs != 30 || c.PeerOp != "load" || c.Verdict == "" {
		t.Errorf("core_get_hot row = %+v", c)
	}
	if len(rep.Peers) != 5 {
		t.Errorf("%d peers ran, want the 5 load peers", len(rep.Peers))
	}
	for _, impl := range ratioImpls() {
		if c.Ratios[impl] <= 0 {
			t.Errorf("no ratio to %s: %v", impl, c.Ratios)
		}
	}
	if rep.Env.GoVersion == "" || rep.BenchTime != "100x" {
		t.Errorf("env/settings missing: %+v", rep)
	}
}

func TestMainBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-count", "0"},
		{"-bench", "("},
		{"-bench", "^no_such_case$", "-peers=false"},
		{"-benchtime", "bogus", "-bench", "^core_get_hot$"},
		{"-nope"},
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(args, &out, &errOut); code != 2 {
			t.Errorf("Main(%q) = %d, want 2; stderr: %s", args, code, errOut.String())
		}
		if errOut.Len() == 0 {
			t.Errorf("Main(%q): no message on stderr", args)
		}
	}
}

// TestRunReportsFailures checks both ways a body can fail: in the first
// round (testing.Benchmark returns N == 0) and in a later round (N > 0, so
// only the deferred b.Failed check sees it).
func TestRunReportsFailures(t *testing.T) {
	cases := []Case{
		{Name: "core_fail_first", Tier: "A0", Group: "core", Gate: "none", Run: func(b *testing.B) {
			b.ReportAllocs()
			b.Fatal("boom")
		}},
		{Name: "core_fail_later", Tier: "A0", Group: "core", Gate: "none", Run: func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
			}
			if b.N > 1 {
				b.Fatal("boom")
			}
		}},
		{Name: "core_fine", Tier: "A0", Group: "core", Gate: "none", Run: func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
			}
		}},
	}
	var out bytes.Buffer
	rep, err := run(Options{BenchTime: "10x", Stdout: &out}, cases, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"core_fail_first", "core_fail_later"}; strings.Join(rep.Failed, ",") != strings.Join(want, ",") {
		t.Errorf("Failed = %v, want %v", rep.Failed, want)
	}
	if rep.Cases[2].Failed || rep.Cases[2].Verdict == "FAILED" {
		t.Errorf("core_fine = %+v", rep.Cases[2])
	}
	if !strings.Contains(out.String(), "FAILED") {
		t.Errorf("report does not show FAILED:\n%s", out.String())
	}
}

func TestAssessments(t *testing.T) {
	rep := &Report{Cases: []CaseResult{
		{Name: "cache_hot_key", Group: "cache", Figure: Figure{NsPerOp: 10}},
		{Name: "cache_uniform_10k", Group: "cache", Figure: Figure{NsPerOp: 15}},
		{Name: "cache_uniform_1m", Group: "cache", Figure: Figure{NsPerOp: 150}},
		{Name: "branch_sequential", Group: "branch", Figure: Figure{NsPerOp: 10}},
		{Name: "branch_random", Group: "branch", Figure: Figure{NsPerOp: 13}},
	}}
	rep.assess()
	if len(rep.Assessments) != 2 {
		t.Fatalf("assessments = %+v", rep.Assessments)
	}
	cache, branch := rep.Assessments[0], rep.Assessments[1]
	if cache.Value != 1.5 || cache.Verdict != "below plan expectation" ||
		!strings.Contains(cache.Lines[0], "hot key vs 10k uniform: 1.50× (plan expects ≥2×)") ||
		!strings.Contains(strings.Join(cache.Lines, "\n"), "cache_uniform_1m 150 ns = 15.00× hot key") {
		t.Errorf("cache assessment = %+v", cache)
	}
	if branch.Verdict != "ok" || !strings.Contains(branch.Lines[0], "sequential is 30% faster (plan expects ≥20%)") {
		t.Errorf("branch assessment = %+v", branch)
	}
}

func TestResidencyNote(t *testing.T) {
	for _, tc := range []struct {
		l2, l3, want string
		bPerEntry    float64
	}{
		{"1 MiB", "n/a", "cache-resident", 40},
		{"256 KiB", "n/a", "beyond this CPU's caches", 40},
		{"n/a", "n/a", "cache sizes unknown", 40},
		{"512 KiB", "32 MiB", "cache-resident", 0},
	} {
		rep := &Report{}
		rep.Env.L2, rep.Env.L3 = tc.l2, tc.l3
		if tc.bPerEntry > 0 {
			rep.Cases = []CaseResult{{Name: "mem_bytes_per_kv_entry", Metric: "B/entry",
				Figure: Figure{Metrics: map[string]float64{"B/entry": tc.bPerEntry}}}}
		}
		if got := strings.Join(rep.residencyNote(), " "); !strings.Contains(got, tc.want) {
			t.Errorf("L2 %s L3 %s %v B/entry: note %q lacks %q", tc.l2, tc.l3, tc.bPerEntry, got, tc.want)
		}
	}
	if got := parseSize("1 MiB"); got != 1<<20 {
		t.Errorf("parseSize(1 MiB) = %d", got)
	}
	if got := parseSize("n/a"); got != 0 {
		t.Errorf("parseSize(n/a) = %d", got)
	}
}

func TestFacadeTax(t *testing.T) {
	rep := &Report{Cases: []CaseResult{
		{Name: "core_get_hot", Group: "core", Figure: Figure{NsPerOp: 100}},
		{Name: "engine_get_direct", Group: "engine", Figure: Figure{NsPerOp: 2500}},
		{Name: "kvstore_get", Group: "kvstore", Figure: Figure{NsPerOp: 5000}},
	}}
	var out strings.Builder
	rep.writeFacadeTax(&out)
	for _, want := range []string{
		"=== Facade Tax Report ===",
		"A0 (core_get_hot):", "(baseline)",
		"A1 (engine_get_direct):", "2.5 µs", "(25.00× over A0)",
		"B  (kvstore_get):", "(2.00× over A1, 50.00× over A0)",
		"GET A1/A0 ratio 25.00×: over 20×: the transaction layer has a problem",
		"GET B/A1 ratio 2.00×: facade overhead acceptable",
		"A0 (core_put_hot):", "not measured in this run",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("facade tax lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		ns   float64
		want string
	}{
		{0, "-"}, {11.44, "11.4 ns"}, {180, "180 ns"}, {999.4, "999 ns"},
		{1200, "1.2 µs"}, {3e6 / 2, "1.5 ms"}, {2.5e9, "2.50 s"},
	} {
		if got := fmtNs(tc.ns); got != tc.want {
			t.Errorf("fmtNs(%v) = %q, want %q", tc.ns, got, tc.want)
		}
	}
	for goal, want := range map[float64]string{200: "<200 ns", 30: "<30 ns", 0: "-", 3000: "<3.0 µs"} {
		if got := fmtGoal(goal); got != want {
			t.Errorf("fmtGoal(%v) = %q, want %q", goal, got, want)
		}
	}
	if got := fmtRatio(1.234); got != "1.23×" {
		t.Errorf("fmtRatio = %q", got)
	}
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median = %v", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median = %v", got)
	}
	// Progress lines of size cases print the case's own unit and figure
	// (they printed every size as "0.0 B/entry" from the wrong metric).
	ev := runItem{c: &Case{Name: "mem_bytes_per_event", Metric: "B/event"}}
	if got := progressFigure(ev, Figure{Metrics: map[string]float64{"B/event": 171.1}}); got != "171.1 B/event" {
		t.Errorf("progress of a B/event case = %q", got)
	}
	peer := runItem{p: &PeerCase{Op: "mem"}, family: "Peers/"}
	if got := progressFigure(peer, Figure{Metrics: map[string]float64{"B/entry": 38.9}}); got != "38.9 B/entry" {
		t.Errorf("progress of a peer mem case = %q", got)
	}
}

// The closing assessment names the cases whose hard gate failed, whatever
// their tier.
func TestAssessmentNamesFailedGates(t *testing.T) {
	rep := &Report{Cases: []CaseResult{
		{Name: "engine_get_direct", Group: "engine", Tier: "A1", Figure: Figure{NsPerOp: 60}, Verdict: "pass"},
		{Name: "contention/disjoint/2", Group: "contention", Tier: "D", Verdict: "FAIL (M3 gate >=1.8x, got 1.53x)", GateFailed: true},
	}}
	var out strings.Builder
	rep.writeRedisTiers(&out, false)
	want := "Assessment: NOT ACCEPTABLE for M3: a hard gate failed (contention/disjoint/2: FAIL (M3 gate >=1.8x, got 1.53x))."
	if !strings.Contains(out.String(), want) {
		t.Errorf("assessment lacks %q:\n%s", want, out.String())
	}
	rep.Cases[1].GateFailed, rep.Cases[1].Verdict = false, "pass"
	out.Reset()
	rep.writeRedisTiers(&out, false)
	if !strings.Contains(out.String(), "Assessment: ACCEPTABLE for M3") {
		t.Errorf("assessment of a passing run:\n%s", out.String())
	}
}

// TestFacadeLaddersInterleaved: the cases of one Facade Tax ladder (A0, A1
// and B of an operation) are measured in turns when the report reaches the
// first of them, each figure the median of its rounds, and recorded at its
// own place in the plan; a case of no ladder, or a ladder with one case in
// the plan, runs as before; the report says how the figures were taken.
func TestFacadeLaddersInterleaved(t *testing.T) {
	var calls []string
	mk := func(name, tier string, ns int) Case {
		return Case{Name: name, Tier: tier, Group: "test", Gate: "none", Run: func(b *testing.B) {
			if len(calls) == 0 || calls[len(calls)-1] != name {
				calls = append(calls, name) // once per testing.Benchmark run, not per b.N probe
			}
			for range b.N {
			}
			b.ReportMetric(float64(ns), "ns/op")
		}}
	}
	cases := []Case{
		mk("core_get_hot", "A0", 10), mk("core_put_hot", "A0", 20), mk("other", "A0", 5),
		mk("engine_get_direct", "A1", 50), mk("engine_put_direct", "A1", 160), mk("kvstore_get", "B", 100),
	}
	for _, count := range []int{1, 2} {
		calls = nil
		var out bytes.Buffer
		rep, err := run(Options{BenchTime: "3x", Count: count, Stdout: &out}, cases, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		rounds, _ := interleavedSchedule("3x", count, ladderRounds) // checked in TestPeersBInterleaved
		var want []string
		for range rounds {
			want = append(want, "core_get_hot", "engine_get_direct", "kvstore_get")
		}
		for range rounds {
			want = append(want, "core_put_hot", "engine_put_direct")
		}
		want = append(want, "other") // count runs in a row: one entry in calls
		if !slices.Equal(calls, want) {
			t.Errorf("count %d: runs in order %v, want %v", count, calls, want)
		}
		var got []string
		for _, c := range rep.Cases {
			got = append(got, c.Name)
			wantRuns := rounds
			if c.Name == "other" {
				wantRuns = count
			}
			if c.Runs != wantRuns {
				t.Errorf("count %d: %s has %d runs, want %d", count, c.Name, c.Runs, wantRuns)
			}
		}
		if names := []string{"core_get_hot", "core_put_hot", "other", "engine_get_direct", "engine_put_direct", "kvstore_get"}; !slices.Equal(got, names) {
			t.Errorf("count %d: cases recorded in order %v, want the plan's %v", count, got, names)
		}
		for _, w := range []string{"(5.00× over A0)", "(8.00× over A0)", "median of " + strconv.Itoa(rounds) + " rounds in which the layers"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("count %d: report lacks %q:\n%s", count, w, out.String())
			}
		}
	}

	// One case of a ladder in the plan: measured alone, count times.
	calls = nil
	rep, err := run(Options{BenchTime: "3x", Count: 1, Filter: regexp.MustCompile("^engine_get_direct$"), Stdout: new(bytes.Buffer)}, cases, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(calls, []string{"engine_get_direct"}) || len(rep.Cases) != 1 || rep.Cases[0].Runs != 1 {
		t.Errorf("a lone ladder case: runs %v, cases %+v", calls, rep.Cases)
	}
}
