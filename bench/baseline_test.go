package bench

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBaselineNames(t *testing.T) {
	for _, ok := range []string{"m3_launch", "v1.2-rc", "A", "2026-11-27", strings.Repeat("x", 100)} {
		if err := ValidBaselineName(ok); err != nil {
			t.Errorf("ValidBaselineName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/b", "../x", "..", ".", ".hidden", `a\b`, "x y", "é", strings.Repeat("x", 101), "/abs"} {
		err := ValidBaselineName(bad)
		if !errors.Is(err, ErrBadBaselineName) {
			t.Errorf("ValidBaselineName(%q) = %v, want ErrBadBaselineName", bad, err)
			continue
		}
		if !strings.Contains(err.Error(), "no path separators") {
			t.Errorf("ValidBaselineName(%q): message %q does not say what is allowed", bad, err)
		}
	}
}

// sampleReport returns a report with three ns/op cases, a size case and a
// peer, whose samples are given.
func sampleReport(get, put, cas []float64) *Report {
	fig := func(xs []float64) Figure {
		return Figure{NsPerOp: median(xs), NsSamples: xs, Runs: len(xs)}
	}
	return &Report{
		BenchTime: "100ms", Count: len(get),
		Cases: []CaseResult{
			{Name: "core_get_hot", Tier: "A0", Group: "core", Figure: fig(get)},
			{Name: "core_put_hot", Tier: "A0", Group: "core", Figure: fig(put)},
			{Name: "core_cas_hot", Tier: "A0", Group: "core", Figure: fig(cas)},
			{Name: "mem_bytes_per_kv_entry", Tier: "A0", Group: "mem", Metric: "B/entry", Figure: Figure{
				Metrics: map[string]float64{"B/entry": 40}, MetricSamples: map[string][]float64{"B/entry": {40, 40, 40, 40, 40}}}},
		},
		PeersB: []PeerResult{{Name: "PeersB/impl=buntdb/op=kv_get", Impl: "buntdb", Op: "kv_get", Unit: "ns/op", Figure: fig(get)}},
	}
}

func TestBaselineRoundTripAndCompare(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "baselines") // created by SaveBaseline
	old := sampleReport(
		[]float64{10.0, 10.2, 9.9, 10.1, 10.0},
		[]float64{20, 21, 19, 20, 22},
		[]float64{30, 31, 29, 30, 32})
	path, err := SaveBaseline(dir, "before", old)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "before.json") {
		t.Errorf("saved to %s", path)
	}
	b, err := LoadBaseline(dir, "before")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "before" || b.SavedAt.IsZero() || len(b.Report.Cases) != 4 ||
		len(b.Report.Cases[0].NsSamples) != 5 || b.Report.Cases[3].MetricSamples["B/entry"][0] != 40 {
		t.Fatalf("loaded baseline = %+v", b)
	}
	if got := ListBaselines(dir); len(got) != 1 || got[0] != "before" {
		t.Errorf("ListBaselines = %v", got)
	}

	// get: clearly slower; put: the same distribution; cas: one run only
	// in the new report; core_branch only new; the peer failed now.
	cur := sampleReport(
		[]float64{20.0, 20.3, 19.8, 20.1, 20.2},
		[]float64{21, 20, 22, 19, 20},
		[]float64{35})
	cur.Cases = append(cur.Cases, CaseResult{Name: "branch_random", Group: "branch", Figure: Figure{NsPerOp: 5, NsSamples: []float64{5}}})
	cur.PeersB[0].Failed = true
	c := Compare(b, cur)
	rows := map[string]ComparisonRow{}
	for _, r := range c.Rows {
		rows[r.Name] = r
	}
	if r := rows["core_get_hot"]; !r.Significant || r.TooFew || r.P > 0.05 || r.Delta != "+101.00%" || r.Old != 10 || r.New != 20.1 {
		t.Errorf("core_get_hot row = %+v", r)
	}
	if r := rows["core_put_hot"]; r.Significant || r.TooFew || r.Delta != "~" {
		t.Errorf("core_put_hot row = %+v", r)
	}
	if r := rows["core_cas_hot"]; r.Significant || !r.TooFew || r.NewN != 1 || r.DeltaPct <= 0 {
		t.Errorf("core_cas_hot row = %+v", r)
	}
	if r := rows["mem_bytes_per_kv_entry"]; r.Unit != "B/entry" || r.Old != 40 || r.New != 40 {
		t.Errorf("mem row = %+v", r)
	}
	if r := rows["PeersB/impl=buntdb/op=kv_get"]; !r.Failed {
		t.Errorf("failed peer row = %+v", r)
	}
	if len(c.OnlyNew) != 1 || c.OnlyNew[0] != "branch_random" || len(c.OnlyOld) != 0 {
		t.Errorf("only new %v, only old %v", c.OnlyNew, c.OnlyOld)
	}
	if c.Geomean == nil || c.Geomean.OldN != 3 || c.MinRuns < 2 || c.Alpha != 0.05 {
		t.Errorf("geomean %+v, min runs %d, alpha %v", c.Geomean, c.MinRuns, c.Alpha)
	}

	// A run narrowed by -bench does not list what its filter left out.
	narrow := sampleReport([]float64{10}, []float64{20}, []float64{30})
	narrow.Cases, narrow.PeersB, narrow.Filter = narrow.Cases[:1], nil, "^core_"
	if n := Compare(b, narrow); strings.Join(n.OnlyOld, ",") != "core_put_hot,core_cas_hot" {
		t.Errorf("narrowed run: only old = %v", n.OnlyOld)
	}
	if got := shortList([]string{"a", "b", "c"}, 2); got != "a, b and 1 more" {
		t.Errorf("shortList = %q", got)
	}

	cur.Comparison = c
	var out strings.Builder
	cur.writeComparison(&out)
	for _, want := range []string{
		`=== Baseline Comparison: this run vs "before" ===`,
		"Mann-Whitney U", "core_get_hot", "+101.00%", "p=0.008 n=5+5",
		"core_put_hot", "~", "(n too small)", "n=5+1: too few runs to test",
		"geomean (ns/op)", "Only in this run: branch_random", "FAILED",
		"rows have too few runs on a side for a significance test",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("comparison lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBaselineErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadBaseline(dir, "missing"); !errors.Is(err, ErrNoBaseline) || !strings.Contains(err.Error(), "none saved yet") {
		t.Errorf("missing baseline: %v", err)
	}
	if _, err := SaveBaseline(dir, "kept", sampleReport([]float64{1}, []float64{1}, []float64{1})); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBaseline(dir, "missing"); !errors.Is(err, ErrNoBaseline) || !strings.Contains(err.Error(), "saved: kept") {
		t.Errorf("missing baseline with one saved: %v", err)
	}
	for name, content := range map[string]string{
		"notjson":  "{not json",
		"wrongfmt": `{"format": "something-else", "report": {"cases": [{"name": "x"}]}}`,
		"empty":    `{"format": "` + baselineFormat + `", "report": {"cases": []}}`,
		"noreport": `{"format": "` + baselineFormat + `"}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadBaseline(dir, name); !errors.Is(err, ErrCorruptBaseline) {
			t.Errorf("%s: %v, want ErrCorruptBaseline", name, err)
		}
	}
	for _, bad := range []string{"../kept", "a/b", ""} {
		if _, err := LoadBaseline(dir, bad); !errors.Is(err, ErrBadBaselineName) {
			t.Errorf("LoadBaseline(%q) = %v", bad, err)
		}
		if _, err := SaveBaseline(dir, bad, &Report{}); !errors.Is(err, ErrBadBaselineName) {
			t.Errorf("SaveBaseline(%q) = %v", bad, err)
		}
	}
}

// TestMainBaselineAndHTML runs m3bench twice on one tiny case: the first
// run saves a baseline and writes the HTML page, the second compares with
// it; then the flag errors.
func TestMainBaselineAndHTML(t *testing.T) {
	t.Chdir(t.TempDir())
	base := []string{"-bench", "^core_get_hot$", "-peers=false", "-benchtime", "20x", "-latency", "20x"}
	var out, errOut bytes.Buffer
	if code := Main(append(base, "-save-baseline", "first", "-html", "m3.html"), &out, &errOut); code != 0 {
		t.Fatalf("save run: exit %d\n%s", code, errOut.String())
	}
	if _, err := os.Stat(filepath.Join(DefaultBaselineDir, "first.json")); err != nil {
		t.Fatalf("baseline not saved: %v", err)
	}
	if !strings.Contains(errOut.String(), `saved baseline "first"`) {
		t.Errorf("no saved-baseline line on stderr:\n%s", errOut.String())
	}
	page, err := os.ReadFile("m3.html")
	if err != nil {
		t.Fatal(err)
	}
	checkSelfContained(t, string(page))
	if !strings.Contains(string(page), "core_get_hot") || !strings.Contains(string(page), "=== Latency Distribution") {
		t.Errorf("HTML page lacks the text report")
	}

	out.Reset()
	errOut.Reset()
	if code := Main(append(base, "-baseline", "first"), &out, &errOut); code != 0 {
		t.Fatalf("compare run: exit %d\n%s", code, errOut.String())
	}
	for _, want := range []string{`=== Baseline Comparison: this run vs "first" ===`, "core_get_hot", "n=1+1: too few runs to test"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("comparison output lacks %q:\n%s", want, out.String())
		}
	}

	if err := os.WriteFile(filepath.Join(DefaultBaselineDir, "broken.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-baseline", "nope"}, 2, "no such baseline \"nope\""},
		{[]string{"-baseline", "../first"}, 2, "bad baseline name"},
		{[]string{"-save-baseline", "a/b"}, 2, "bad baseline name"},
		{[]string{"-baseline", "broken"}, 1, "corrupt baseline"},
		{[]string{"-latency", "soon"}, 2, "bad -latency"},
	} {
		out.Reset()
		errOut.Reset()
		if code := Main(append(base, tc.args...), &out, &errOut); code != tc.code || !strings.Contains(errOut.String(), tc.msg) {
			t.Errorf("Main(%v) = %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), tc.code, tc.msg)
		}
		if out.Len() != 0 {
			t.Errorf("Main(%v) ran the benchmarks before failing:\n%s", tc.args, out.String())
		}
	}
}
