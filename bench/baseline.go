package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/perf/benchmath"
)

// Baselines (the plan's "Running Benchmarks": --save-baseline NAME, then
// --baseline NAME): a run saved as JSON with every per-run sample, and a
// later run compared with it benchstat-style: medians, the change, and
// the Mann-Whitney U test of golang.org/x/perf/benchmath (what benchstat
// uses), "~" when the change is not significant.

// DefaultBaselineDir is where m3bench saves baselines, relative to the
// working directory.
const DefaultBaselineDir = ".m3bench/baselines"

// baselineFormat identifies a baseline file and its layout version.
const baselineFormat = "m3bench-baseline/1"

// Errors of the baseline functions, for errors.Is.
var (
	// ErrBadBaselineName: the name is empty, too long, or has a character
	// outside letters, digits, '.', '_' and '-' (such as a path separator).
	ErrBadBaselineName = errors.New("bad baseline name")
	// ErrNoBaseline: no baseline of that name has been saved.
	ErrNoBaseline = errors.New("no such baseline")
	// ErrCorruptBaseline: the file is not a baseline m3bench can read.
	ErrCorruptBaseline = errors.New("corrupt baseline")
)

// baselineNameRE is what ValidBaselineName accepts.
var baselineNameRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$`)

// ValidBaselineName reports whether name can name a baseline: 1 to 100
// letters, digits, '.', '_' or '-', not starting with '.', so that it is
// one plain file name in the baseline directory (no path separators, no
// "..").
func ValidBaselineName(name string) error {
	if !baselineNameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use 1 to 100 letters, digits, '.', '_' or '-', not starting with '.' (no path separators)", ErrBadBaselineName, name)
	}
	return nil
}

// Baseline is a saved run: the whole report, with per-run samples
// (Figure.NsSamples, Figure.MetricSamples).
type Baseline struct {
	// Format is baselineFormat.
	Format string `json:"format"`
	// Name is the name it was saved under; SavedAt when.
	Name    string    `json:"name"`
	SavedAt time.Time `json:"saved_at"`
	// Report is the run, without its own comparison.
	Report *Report `json:"report"`
}

// baselinePath returns dir/name.json after checking name.
func baselinePath(dir, name string) (string, error) {
	if err := ValidBaselineName(name); err != nil {
		return "", err
	}
	return filepath.Join(dir, name+".json"), nil
}

// SaveBaseline writes rep as baseline name in dir (created if missing),
// replacing any baseline of that name, and returns the file's path. The
// file is written to a temporary name and renamed, so an interrupted save
// leaves the old baseline intact.
func SaveBaseline(dir, name string, rep *Report) (string, error) {
	path, err := baselinePath(dir, name)
	if err != nil {
		return "", err
	}
	if rep == nil {
		return "", errors.New("save baseline: no report")
	}
	r := *rep
	r.Comparison = nil
	data, err := json.MarshalIndent(Baseline{Format: baselineFormat, Name: name, SavedAt: time.Now().UTC(), Report: &r}, "", "  ")
	if err != nil {
		return "", fmt.Errorf("save baseline %q: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("save baseline %q: %w", name, err)
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("save baseline %q: %w", name, err)
	}
	_, werr := tmp.Write(append(data, '\n'))
	cerr := tmp.Close()
	merr := os.Chmod(tmp.Name(), 0o644) // CreateTemp makes it 0600
	if err := errors.Join(werr, cerr, merr); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("save baseline %q: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("save baseline %q: %w", name, err)
	}
	return path, nil
}

// LoadBaseline reads baseline name from dir. Its errors wrap
// ErrBadBaselineName, ErrNoBaseline (the message lists the baselines that
// exist) or ErrCorruptBaseline, or are I/O errors.
func LoadBaseline(dir, name string) (*Baseline, error) {
	path, err := baselinePath(dir, name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		have := "none saved yet"
		if names := ListBaselines(dir); len(names) > 0 {
			have = "saved: " + strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("%w %q in %s (%s); save one with -save-baseline %s", ErrNoBaseline, name, dir, have, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read baseline %q: %w", name, err)
	}
	var b Baseline
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%w %q (%s): not valid JSON: %v", ErrCorruptBaseline, name, path, err)
	}
	switch {
	case b.Format != baselineFormat:
		return nil, fmt.Errorf("%w %q (%s): format %q, want %q", ErrCorruptBaseline, name, path, b.Format, baselineFormat)
	case b.Report == nil || len(b.Report.Cases)+len(b.Report.Peers)+len(b.Report.PeersB) == 0:
		return nil, fmt.Errorf("%w %q (%s): holds no results", ErrCorruptBaseline, name, path)
	}
	return &b, nil
}

// ListBaselines returns the names of the baselines saved in dir, sorted;
// none when dir does not exist.
func ListBaselines(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() && ValidBaselineName(name) == nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Comparison is a run compared with a baseline, benchstat-style.
type Comparison struct {
	// Baseline is the baseline's name, SavedAt when it was saved.
	Baseline string    `json:"baseline"`
	SavedAt  time.Time `json:"saved_at"`
	// OldBenchTime, OldCount and OldEnv describe the baseline run
	// (OldEnv is envinfo's one-line form).
	OldBenchTime string `json:"old_benchtime"`
	OldCount     int    `json:"old_count"`
	OldEnv       string `json:"old_env"`
	// Alpha is the significance level; MinRuns the runs per side the
	// U-test needs to be able to report a difference at Alpha.
	Alpha   float64 `json:"alpha"`
	MinRuns int     `json:"min_runs"`
	// Rows holds one row per benchmark in both runs, in this run's order.
	Rows []ComparisonRow `json:"rows"`
	// OnlyOld and OnlyNew list benchmarks in only one of the runs.
	OnlyOld []string `json:"only_old,omitempty"`
	OnlyNew []string `json:"only_new,omitempty"`
	// Geomean compares the geometric means of the ns/op rows (no test).
	Geomean *ComparisonRow `json:"geomean,omitempty"`
	// Notes are differences between the two runs' settings or machines
	// that make the comparison less meaningful.
	Notes []string `json:"notes,omitempty"`
}

// ComparisonRow is one benchmark in both runs.
type ComparisonRow struct {
	// Name is the benchmark (case name or "Peers/..."), Unit its figure.
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Old and New are the medians of each run's samples; OldN and NewN the
	// sample counts.
	Old  float64 `json:"old"`
	New  float64 `json:"new"`
	OldN int     `json:"old_n"`
	NewN int     `json:"new_n"`
	// DeltaPct is (New/Old - 1) × 100, whatever the significance.
	DeltaPct float64 `json:"delta_pct"`
	// P is the Mann-Whitney U p-value (1 when the test could not run).
	P float64 `json:"p"`
	// Significant: P <= Alpha. TooFew: with these sample counts no p-value
	// can reach Alpha, so the test says nothing (count 1, say).
	Significant bool `json:"significant"`
	TooFew      bool `json:"too_few"`
	// Delta is benchstat's cell: "+2.94%", or "~" when not significant.
	Delta string `json:"delta"`
	// Failed reports that either run's benchmark failed: no comparison.
	Failed bool `json:"failed,omitempty"`
}

// sampled is one benchmark's samples in a report.
type sampled struct {
	name, unit string
	values     []float64
	failed     bool
}

// samplesOf returns the fig's samples of the figure unit ("ns/op" or a
// metric), falling back to the median alone for reports without samples.
func samplesOf(fig Figure, unit string) []float64 {
	if unit == "ns/op" {
		if len(fig.NsSamples) > 0 {
			return fig.NsSamples
		}
		if fig.NsPerOp > 0 {
			return []float64{fig.NsPerOp}
		}
		return nil
	}
	if xs := fig.MetricSamples[unit]; len(xs) > 0 {
		return xs
	}
	if v, ok := fig.Metrics[unit]; ok {
		return []float64{v}
	}
	return nil
}

// benchmarks lists every benchmark of rep with its headline samples.
func (rep *Report) benchmarks() []sampled {
	var out []sampled
	for _, c := range rep.Cases {
		unit := "ns/op"
		if c.Metric != "" {
			unit = c.Metric
		}
		out = append(out, sampled{c.Name, unit, samplesOf(c.Figure, unit), c.Failed})
	}
	for _, ps := range [][]PeerResult{rep.Peers, rep.PeersB} {
		for _, p := range ps {
			unit := p.Unit
			if unit == "" {
				unit = "ns/op"
			}
			out = append(out, sampled{p.Name, unit, samplesOf(p.Figure, unit), p.Failed})
		}
	}
	return out
}

// minP returns the smallest p-value the U-test can give for samples of n1
// and n2 values: that of two samples with no overlap.
func minP(n1, n2 int) float64 {
	if n1 < 1 || n2 < 1 {
		return 1
	}
	a, b := make([]float64, n1), make([]float64, n2)
	for i := range a {
		a[i] = float64(i)
	}
	for i := range b {
		b[i] = float64(n1 + i)
	}
	return benchmath.AssumeNothing.Compare(benchmath.NewSample(a, &benchmath.DefaultThresholds), benchmath.NewSample(b, &benchmath.DefaultThresholds)).P
}

// minRuns returns the fewest runs per side for which the U-test can reach
// alpha.
func minRuns(alpha float64) int {
	for n := 1; n <= 50; n++ {
		if minP(n, n) <= alpha {
			return n
		}
	}
	return 50
}

// Compare compares rep with the baseline: for every benchmark in both, the
// medians, the change and the U-test's p-value.
func Compare(base *Baseline, rep *Report) *Comparison {
	old := base.Report
	thr := benchmath.DefaultThresholds
	cmp := &Comparison{
		Baseline: base.Name, SavedAt: base.SavedAt,
		OldBenchTime: old.BenchTime, OldCount: old.Count, OldEnv: old.Env.Short(),
		Alpha: thr.CompareAlpha, MinRuns: minRuns(thr.CompareAlpha),
	}
	oldBy := map[string]sampled{}
	for _, s := range old.benchmarks() {
		oldBy[s.name] = s
	}
	seen := map[string]bool{}
	var logOld, logNew float64
	geoN := 0
	for _, s := range rep.benchmarks() {
		o, ok := oldBy[s.name]
		if !ok {
			cmp.OnlyNew = append(cmp.OnlyNew, s.name)
			continue
		}
		seen[s.name] = true
		if o.unit != s.unit {
			cmp.Notes = append(cmp.Notes, fmt.Sprintf("%s: unit changed from %s to %s; not compared", s.name, o.unit, s.unit))
			continue
		}
		r := ComparisonRow{Name: s.name, Unit: s.unit, OldN: len(o.values), NewN: len(s.values), P: 1}
		if o.failed || s.failed || len(o.values) == 0 || len(s.values) == 0 {
			r.Failed, r.Delta = true, "FAILED"
			cmp.Rows = append(cmp.Rows, r)
			continue
		}
		s1, s2 := benchmath.NewSample(o.values, &thr), benchmath.NewSample(s.values, &thr)
		r.Old = benchmath.AssumeNothing.Summary(s1, 0.95).Center
		r.New = benchmath.AssumeNothing.Summary(s2, 0.95).Center
		c := benchmath.AssumeNothing.Compare(s1, s2)
		r.P = c.P
		r.Significant = c.P <= c.Alpha
		r.TooFew = !r.Significant && minP(len(o.values), len(s.values)) > c.Alpha
		r.Delta = c.FormatDelta(r.Old, r.New)
		if r.Old != 0 {
			r.DeltaPct = (r.New/r.Old - 1) * 100
		}
		if s.unit == "ns/op" && r.Old > 0 && r.New > 0 {
			logOld += math.Log(r.Old)
			logNew += math.Log(r.New)
			geoN++
		}
		cmp.Rows = append(cmp.Rows, r)
	}
	// A run narrowed by -bench lists only the baseline's benchmarks that
	// its filter would have selected.
	var filter *regexp.Regexp
	if rep.Filter != "" {
		filter, _ = regexp.Compile(rep.Filter)
	}
	for _, s := range old.benchmarks() {
		if !seen[s.name] && (filter == nil || filter.MatchString(s.name)) {
			cmp.OnlyOld = append(cmp.OnlyOld, s.name)
		}
	}
	if geoN > 0 {
		g := ComparisonRow{Name: "geomean", Unit: "ns/op", Old: math.Exp(logOld / float64(geoN)), New: math.Exp(logNew / float64(geoN)), OldN: geoN, NewN: geoN}
		g.DeltaPct = (g.New/g.Old - 1) * 100
		g.Delta = fmt.Sprintf("%+.2f%%", g.DeltaPct)
		cmp.Geomean = &g
	}
	cmp.Notes = append(cmp.Notes, settingNotes(old, rep)...)
	return cmp
}

// settingNotes lists what differs between the runs' settings and machines.
func settingNotes(old, cur *Report) []string {
	var out []string
	diff := func(what, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s differs: baseline %s, this run %s", what, orDash(a), orDash(b)))
		}
	}
	diff("CPU", old.Env.CPU, cur.Env.CPU)
	diff("Go version", old.Env.GoVersion, cur.Env.GoVersion)
	diff("GOMAXPROCS", fmt.Sprint(old.Env.GOMAXPROCS), fmt.Sprint(cur.Env.GOMAXPROCS))
	diff("build flags", old.Env.BuildFlags, cur.Env.BuildFlags)
	diff("benchtime", old.BenchTime, cur.BenchTime)
	if old.Race != cur.Race {
		out = append(out, "one of the runs was built with -race: its figures are meaningless")
	}
	return out
}

// fmtValue formats a figure in its unit: times as fmtNs, others as "12.3
// B/entry".
func fmtValue(v float64, unit string) string {
	if unit == "ns/op" {
		return fmtNs(v)
	}
	return fmt.Sprintf("%.4g %s", v, unit)
}

// writeComparison prints the baseline comparison, benchstat-style.
func (rep *Report) writeComparison(w io.Writer) {
	c := rep.Comparison
	if c == nil {
		return
	}
	fmt.Fprintf(w, "\n=== Baseline Comparison: this run vs %q ===\n", c.Baseline)
	fmt.Fprintf(w, "Baseline saved %s: benchtime %s, count %d; %s\n", c.SavedAt.Format(time.RFC3339), c.OldBenchTime, c.OldCount, c.OldEnv)
	fmt.Fprintf(w, "This run: benchtime %s, count %d.\n", rep.BenchTime, rep.Count)
	fmt.Fprintf(w, "old/new are medians over each run's samples; delta is new/old - 1, \"~\" when not significant; p is the\n")
	fmt.Fprintf(w, "Mann-Whitney U test (golang.org/x/perf/benchmath, as benchstat) at alpha %g. It needs >= %d runs per side\n", c.Alpha, c.MinRuns)
	fmt.Fprintf(w, "(-count %d) to find any difference; rows with fewer show the raw change marked \"(n too small)\".\n", c.MinRuns)
	tw := newTable(w)
	row(tw, "benchmark", "old", "new", "delta", "p-value")
	tooFew := 0
	for _, r := range c.Rows {
		if r.Failed {
			row(tw, r.Name, "-", "-", "FAILED", "in one of the runs")
			continue
		}
		delta, p := r.Delta, fmt.Sprintf("p=%.3f n=%d+%d", r.P, r.OldN, r.NewN)
		if r.TooFew {
			tooFew++
			delta = fmt.Sprintf("%+.2f%% (n too small)", r.DeltaPct)
			p = fmt.Sprintf("n=%d+%d: too few runs to test", r.OldN, r.NewN)
		}
		row(tw, r.Name, fmtValue(r.Old, r.Unit), fmtValue(r.New, r.Unit), delta, p)
	}
	if g := c.Geomean; g != nil {
		row(tw, "geomean (ns/op)", fmtNs(g.Old), fmtNs(g.New), g.Delta, fmt.Sprintf("over %d rows, not tested", g.OldN))
	}
	tw.Flush()
	if tooFew > 0 {
		fmt.Fprintf(w, "%d of %d rows have too few runs on a side for a significance test (baseline count %d, this run %d):\n",
			tooFew, len(c.Rows), c.OldCount, rep.Count)
		fmt.Fprintf(w, "their delta compares medians of so few runs that noise cannot be told from change.\n")
		fmt.Fprintf(w, "Save and compare with -count %d or more on both sides.\n", max(c.MinRuns, 6))
	}
	if len(c.OnlyOld) > 0 {
		fmt.Fprintf(w, "Only in the baseline: %s\n", shortList(c.OnlyOld, 12))
	}
	if len(c.OnlyNew) > 0 {
		fmt.Fprintf(w, "Only in this run: %s\n", shortList(c.OnlyNew, 12))
	}
	for _, n := range c.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
}

// shortList joins names, the first n of them and a count of the rest.
func shortList(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
