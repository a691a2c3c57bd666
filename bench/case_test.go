package bench

import (
	"flag"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// planA0 is the Tier A0 list of M3_BENCHMARK_PLAN.md (Categories 1, 4, 5, 7)
// plus cache_uniform_1m, the beyond-L3 step, in report order.
var planA0 = []string{
	"core_get_hot", "core_put_hot", "core_cas_hot",
	"cache_hot_key", "cache_working_set_8", "cache_working_set_64", "cache_working_set_512",
	"cache_uniform_10k", "cache_uniform_1m",
	"branch_sequential", "branch_strided", "branch_random",
	"mem_bytes_per_kv_entry",
}

func TestCasesMatchPlan(t *testing.T) {
	var a0 []string
	seen := map[string]bool{}
	for _, c := range Cases() {
		if seen[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
		if c.Tier == "A0" {
			a0 = append(a0, c.Name)
		}
	}
	if !slices.Equal(a0, planA0) {
		t.Errorf("Tier A0 cases = %v\nwant %v", a0, planA0)
	}
}

func TestCaseFields(t *testing.T) {
	goals := map[string][2]time.Duration{
		"core_get_hot": {200 * time.Nanosecond, 30 * time.Nanosecond},
		"core_put_hot": {300 * time.Nanosecond, 60 * time.Nanosecond},
		"core_cas_hot": {500 * time.Nanosecond, 60 * time.Nanosecond},
	}
	for _, c := range Cases() {
		if c.Run == nil {
			t.Errorf("%s: nil Run", c.Name)
		}
		if !strings.HasPrefix(c.Name, c.Group+"_") && !(c.Tier == "D" && strings.HasPrefix(c.Name, c.Group+"/")) { // Tier D: the plan's contention/<kind>/<n>
			t.Errorf("%s: group %q is not the name's prefix", c.Name, c.Group)
		}
		if c.Tier == "A0" && c.Gate != "none" {
			t.Errorf("%s: Tier A0 is observability only, gate = %q", c.Name, c.Gate)
		}
		if g, ok := goals[c.Name]; ok {
			if c.PlanGoal != g[0] || c.OurGoal != g[1] {
				t.Errorf("%s: goals %v/%v, want plan %v ours %v", c.Name, c.PlanGoal, c.OurGoal, g[0], g[1])
			}
		} else if c.Tier == "A0" && (c.PlanGoal != 0 || c.OurGoal != 0) {
			t.Errorf("%s: unexpected goals %v/%v", c.Name, c.PlanGoal, c.OurGoal)
		}
		wantMetric := map[string]string{ // size cases and their units
			"mem_bytes_per_kv_entry":   "B/entry",
			"engine_bytes_per_version": "B/version",
			"mem_bytes_per_event":      "B/event",
			"mem_bytes_per_trace":      "B/trace",
			"mem_bytes_per_run":        "B/run",
			"index_amp_ratio_trace":    "written/payload",
			"index_amp_ratio_run":      "written/metadata",
		}[c.Name]
		if c.Metric != wantMetric {
			t.Errorf("%s: Metric = %q, want %q", c.Name, c.Metric, wantMetric)
		}
	}
}

func TestMatch(t *testing.T) {
	if got, want := len(Match(nil)), len(Cases()); got != want {
		t.Errorf("Match(nil) = %d cases, want %d", got, want)
	}
	var names []string
	for _, c := range Match(regexp.MustCompile("core_")) {
		names = append(names, c.Name)
	}
	if want := []string{"core_get_hot", "core_put_hot", "core_cas_hot"}; !slices.Equal(names, want) {
		t.Errorf("Match(core_) = %v, want %v", names, want)
	}
	if got := Match(regexp.MustCompile("^nothing$")); len(got) != 0 {
		t.Errorf("Match(^nothing$) = %d cases", len(got))
	}
}

func TestPeersTable(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Peers() {
		if p.Run == nil {
			t.Errorf("%s: nil Run", p.Name())
		}
		if seen[p.Name()] {
			t.Errorf("duplicate peer %s", p.Name())
		}
		seen[p.Name()] = true
	}
	for _, impl := range []string{"substrate", "xsync_v4", "xsync_v3", "sync.Map", "rwmutex_map"} {
		for _, op := range []string{"load", "store", "cas", "mem"} {
			if name := "impl=" + impl + "/op=" + op; !seen[name] {
				t.Errorf("missing peer %s", name)
			}
		}
	}
	if len(seen) != 20 {
		t.Errorf("%d peers, want 20", len(seen))
	}
}

func TestKeys(t *testing.T) {
	a, b := randomKeys(1000), randomKeys(1000)
	if !slices.Equal(a, b) {
		t.Fatal("randomKeys is not deterministic")
	}
	if !slices.Equal(randomKeys(10), a[:10]) {
		t.Error("randomKeys(10) is not a prefix of randomKeys(1000)")
	}
	s := slices.Clone(a)
	slices.Sort(s)
	if len(slices.Compact(s)) != len(a) {
		t.Error("randomKeys returned duplicates")
	}
	p := shuffled(denseKeys(100))
	if slices.Equal(p, denseKeys(100)) {
		t.Error("shuffled returned the identity")
	}
	slices.Sort(p)
	if !slices.Equal(p, denseKeys(100)) {
		t.Error("shuffled is not a permutation")
	}
}

// setBenchTime sets -test.benchtime for the rest of the test.
func setBenchTime(t *testing.T, v string) {
	t.Helper()
	f := flag.Lookup("test.benchtime")
	saved := f.Value.String()
	if err := f.Value.Set(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Value.Set(saved) })
}

// skipHeavy reports why a case is too slow to smoke-test here, or "".
func skipHeavy(name string) string {
	if name == "cache_uniform_1m" && (testing.Short() || raceEnabled) {
		return "1M-key fixture skipped under -short and -race"
	}
	return ""
}

// TestCasesRunOnce runs every case and peer body once (-benchtime 1x) to
// prove that the fixtures are consistent: no missing key, no failed CAS, a
// memory figure reported. It measures nothing.
func TestCasesRunOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every benchmark body once; skipped under -short")
	}
	setBenchTime(t, "1x")
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			if why := skipHeavy(c.Name); why != "" {
				t.Skip(why)
			}
			fig := measure(c.Run, 1)
			ReleaseFixtures()
			if fig.Failed {
				t.Fatalf("%s failed (rerun with go test -bench 'M3/%s$' -benchtime 1x for the message)", c.Name, c.Name)
			}
			if c.Metric != "" && fig.Value(c.Metric) <= 0 {
				t.Errorf("%s reported %s = %v", c.Name, c.Metric, fig.Value(c.Metric))
			}
		})
	}
	for _, p := range Peers() {
		t.Run("Peers/"+p.Name(), func(t *testing.T) {
			fig := measure(p.Run, 1)
			if fig.Failed {
				t.Fatalf("%s failed", p.Name())
			}
			if p.Op == "mem" && fig.Value("B/entry") <= 0 {
				t.Errorf("%s reported B/entry = %v", p.Name(), fig.Value("B/entry"))
			}
		})
	}
}
