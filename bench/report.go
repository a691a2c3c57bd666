package bench

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/substrate-lab/substrate/internal/envinfo"
)

// Benchtimes of the report, in testing's -benchtime syntax.
const (
	// DefaultBenchTime is the per-case benchtime of a full report.
	DefaultBenchTime = "1s"
	// QuickBenchTime is the per-case benchtime of a -quick report.
	QuickBenchTime = "100ms"
	// sizeBenchTime is used for cases whose figure is a size (Metric set,
	// peer op "mem"): they measure once per invocation and only idle in
	// their b.Loop, so a single iteration is all they need.
	sizeBenchTime = "1x"
)

// peerOpOf maps a case to the peer operation it is compared with: get ->
// load, put -> store, cas -> cas, bytes per entry -> mem.
var peerOpOf = map[string]string{
	"core_get_hot":           "load",
	"core_put_hot":           "store",
	"core_cas_hot":           "cas",
	"mem_bytes_per_kv_entry": "mem",
}

// investigateAbove is the plan's Tier A0 note: "If >1 µs, investigate data
// structure choice."
const investigateAbove = 1000.0 // ns

// Options configures a report run.
type Options struct {
	// BenchTime is the per-case benchtime in testing's syntax ("1s", "100ms",
	// "100x"). Empty means DefaultBenchTime. Size cases always run "1x".
	BenchTime string
	// Count is how many times each case runs; the report keeps the median of
	// each figure. Values below 1 mean 1.
	Count int
	// Filter selects cases by Name and peers by "Peers/" + PeerCase.Name()
	// (Tier A0 maps) or "PeersB/" + PeerCase.Name() (Tier B KV stores).
	// Nil selects everything.
	Filter *regexp.Regexp
	// WithPeers also runs, for every selected case that has a peer operation
	// (core_get_hot -> load, kvstore_get -> kv_get, kvstore_put -> kv_put
	// and kv_rmw, ...), that operation's peer cases, so that the ratio
	// columns are filled in even when Filter names only cases.
	WithPeers bool
	// Redis, when set, names a Redis server to measure in the same run for
	// the Redis Competitiveness Report. Nil: the report shows the plan's
	// ballpark, labelled as such.
	Redis *RedisConfig
	// JSONPath, when set, receives the whole report as JSON.
	JSONPath string
	// HTMLPath, when set, receives the report as one self-contained HTML
	// page: charts as inline PNG images, and the text report's tables.
	HTMLPath string
	// Latency is the latency pass's budget per operation, in the syntax of
	// BenchTime: a duration ("1s", "100ms") or a sample count ("1000x");
	// "0" skips the pass. Empty follows BenchTime: its duration capped at
	// DefaultLatencyTime, or the same count.
	Latency string
	// Baseline, when set, is a saved run (LoadBaseline) that the report
	// compares this run with, benchstat-style.
	Baseline *Baseline
	// SaveBaseline, when set, names the baseline this run is saved as (see
	// ValidBaselineName), in BaselineDir.
	SaveBaseline string
	// BaselineDir is the directory baselines are saved in; empty means
	// DefaultBaselineDir.
	BaselineDir string
	// Stdout receives the text report; nil means io.Discard.
	Stdout io.Writer
	// Progress receives one line per benchmark as it finishes; nil means
	// io.Discard.
	Progress io.Writer
}

// Figure is one benchmark's result: the median of each figure over Runs
// runs (medians are taken per figure, so they may come from different runs).
type Figure struct {
	// NsPerOp is the time per operation; 0 for size cases, which suppress it.
	NsPerOp float64 `json:"ns_per_op"`
	// AllocsPerOp and BytesPerOp are heap allocations per operation.
	AllocsPerOp float64 `json:"allocs_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op"`
	// Metrics holds the extra figures the body reported with ReportMetric,
	// by unit (e.g. "B/entry", "table-B/entry").
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// N is the iteration count of the last run.
	N int `json:"n"`
	// Runs is the number of runs the medians are taken over.
	Runs int `json:"runs"`
	// NsSamples is ns/op of every run, in order, so the spread is visible.
	NsSamples []float64 `json:"ns_samples,omitempty"`
	// MetricSamples holds every run's value of each extra metric, by unit,
	// in order (the baseline comparison tests them like NsSamples).
	MetricSamples map[string][]float64 `json:"metric_samples,omitempty"`
	// Failed reports that the body failed (b.Fatal, b.Error, or a run with
	// no iterations) in at least one run; the other figures are then not to
	// be trusted.
	Failed bool `json:"failed,omitempty"`
}

// Value returns the figure's headline number: ns/op when metric is empty,
// otherwise the named extra metric (0 when absent).
func (f Figure) Value(metric string) float64 {
	if metric == "" {
		return f.NsPerOp
	}
	return f.Metrics[metric]
}

// CaseResult is the outcome of one Case.
type CaseResult struct {
	// Name, Tier, Group, Gate and Metric are copied from the Case.
	Name   string `json:"name"`
	Tier   string `json:"tier"`
	Group  string `json:"group"`
	Gate   string `json:"gate"`
	Metric string `json:"metric,omitempty"`
	// PlanGoalNs and OurGoalNs are the case's goals in nanoseconds, 0 if none.
	PlanGoalNs float64 `json:"plan_goal_ns,omitempty"`
	OurGoalNs  float64 `json:"our_goal_ns,omitempty"`
	Figure
	// Verdict is "ok", "over our goal", "over plan goal", "investigate
	// (>1 µs)" or "FAILED"; Tier A0 has no gate, so none of these blocks
	// anything except FAILED.
	Verdict string `json:"verdict"`
	// GateFailed is true when the case broke a hard gate of the plan (Tier
	// A1 over 3 µs); m3bench -gates exits non-zero then.
	GateFailed bool `json:"gate_failed,omitempty"`
	// PeerOp is the peer operation this case is compared with, if any.
	PeerOp string `json:"peer_op,omitempty"`
	// Ratios maps a peer implementation to ours / peer for PeerOp (ns/op, or
	// the Metric for size cases). A ratio <= 1.0 means we are faster
	// (or smaller). Missing when the peer did not run or failed.
	Ratios map[string]float64 `json:"ratios,omitempty"`
}

// PeerResult is the outcome of one PeerCase.
type PeerResult struct {
	// Name is "Peers/impl=<impl>/op=<op>".
	Name string `json:"name"`
	Impl string `json:"impl"`
	Op   string `json:"op"`
	// Unit names the headline figure: "ns/op", or "B/entry" for op "mem".
	Unit string `json:"unit"`
	Figure
}

// Assessment is one of the plan's pattern checks, e.g. "hot key vs 10k
// uniform >= 2x".
type Assessment struct {
	// Name identifies the check: "cache_hot_vs_uniform_10k",
	// "branch_sequential_vs_random".
	Name string `json:"name"`
	// Value is the measured figure (a ratio, or a percentage for the branch
	// check) and Expect the plan's expectation in the same unit.
	Value  float64 `json:"value"`
	Expect float64 `json:"expect"`
	// Verdict is "ok" or "below plan expectation".
	Verdict string `json:"verdict"`
	// Lines is the text printed for the check: the figure, then notes.
	Lines []string `json:"lines"`
}

// Report is everything a report run measured.
type Report struct {
	// Env is the captured environment of the run.
	Env envinfo.Env `json:"env"`
	// Race reports a -race build, whose figures are meaningless.
	Race bool `json:"race,omitempty"`
	// BenchTime and Count are the run's settings; Filter is the -bench
	// expression ("" for all).
	BenchTime string `json:"benchtime"`
	Count     int    `json:"count"`
	Filter    string `json:"filter,omitempty"`
	// Cases and Peers hold the results in run order.
	Cases []CaseResult `json:"cases"`
	Peers []PeerResult `json:"peers,omitempty"`
	// PeersB holds the Tier B peers (PeersB: embedded transactional KV
	// stores) in run order, and KVPeers their comparison with substrate.
	PeersB  []PeerResult `json:"peers_b,omitempty"`
	KVPeers []KVPeerRow  `json:"kv_peers,omitempty"`
	// Latency holds the latency distribution of every selected operation
	// that has an Op, from the latency pass.
	Latency []LatencyResult `json:"latency,omitempty"`
	// LatencyBudget is the latency pass's budget per operation ("100ms",
	// "1000x"); empty when the pass did not run.
	LatencyBudget string `json:"latency_budget,omitempty"`
	// Assessments holds the cache-locality and branch checks that could be
	// made from the cases that ran.
	Assessments []Assessment `json:"assessments,omitempty"`
	// Failed lists the names of failed benchmarks.
	Failed []string `json:"failed,omitempty"`
	// Redis is what was measured of a real Redis server in the same run
	// (Measured false, with the reason, when none was).
	Redis *RedisResult `json:"redis,omitempty"`
	// Comparison is this run against the baseline named by -baseline, if
	// any.
	Comparison *Comparison `json:"comparison,omitempty"`
}

// Main is cmd/m3bench: it parses args (without the program name), runs the
// selected cases in-process, prints the report to stdout and progress to
// stderr, and returns the exit code: 0 on success, 1 if a benchmark failed,
// an output file (JSON, HTML, baseline) could not be written or the
// baseline to compare with is corrupt, 2 for bad flags (including a bad
// baseline name or a baseline that does not exist), 3 when -gates is set
// and a hard gate fails. Baselines are checked before anything runs.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("m3bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "short run: "+QuickBenchTime+" per case instead of "+DefaultBenchTime)
	benchRE := fs.String("bench", "", "run only cases (by plan name, e.g. core_) and peers (by Peers/impl=X/op=Y, PeersB/impl=X/op=Y) matching this `regexp`")
	jsonPath := fs.String("json", "", "also write every figure, verdict, ratio and the environment as JSON to this `file`")
	count := fs.Int("count", 1, "run each case `n` times and report the median")
	benchtime := fs.String("benchtime", "", "per-case `benchtime` in go test syntax: a duration (1s, 100ms) or a count (100x); overrides -quick")
	peers := fs.Bool("peers", true, "also run the peer cases the selected cases are compared with")
	redisAddr := fs.String("redis", os.Getenv("REDIS_ADDR"), "measure the Redis server at `HOST:PORT` (loopback) in the same run for the Redis Competitiveness Report; default $REDIS_ADDR")
	htmlPath := fs.String("html", "", "also write the report as one self-contained HTML page with charts to this `file`")
	latency := fs.String("latency", "", "`budget` per operation of the latency pass (HDR percentiles of the Tier A and B operations): a duration (1s, 100ms) or a sample count (1000x); 0 skips it (default: the benchtime, capped at "+DefaultLatencyTime.String()+")")
	saveBaseline := fs.String("save-baseline", "", "save this run's figures as baseline `NAME` in "+DefaultBaselineDir+" (letters, digits, '.', '_', '-')")
	baseline := fs.String("baseline", "", "compare this run with the baseline `NAME` saved earlier by -save-baseline (benchstat-style: old, new, delta, p-value)")
	gates := fs.Bool("gates", false, "exit 3 when a hard gate of the plan fails: Tier A1 >= 3 µs; Tier D starvation, operations that gave up, disjoint scaling under the minimum (judged with a core per worker and a window of at least 1 s)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: m3bench [flags]\n\nRuns the M3 benchmark suite in-process and prints the report.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "m3bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *count < 1 {
		fmt.Fprintf(stderr, "m3bench: -count must be at least 1, got %d\n", *count)
		return 2
	}
	opts := Options{
		BenchTime: DefaultBenchTime, Count: *count, WithPeers: *peers,
		JSONPath: *jsonPath, HTMLPath: *htmlPath, Latency: *latency,
		Stdout: stdout, Progress: stderr,
	}
	if *saveBaseline != "" {
		if err := ValidBaselineName(*saveBaseline); err != nil {
			fmt.Fprintf(stderr, "m3bench: -save-baseline: %v\n", err)
			return 2
		}
		opts.SaveBaseline = *saveBaseline
	}
	if *baseline != "" {
		b, err := LoadBaseline(DefaultBaselineDir, *baseline)
		if err != nil {
			fmt.Fprintf(stderr, "m3bench: -baseline: %v\n", err)
			if errors.Is(err, ErrBadBaselineName) || errors.Is(err, ErrNoBaseline) {
				return 2
			}
			return 1
		}
		opts.Baseline = b
	}
	if *quick {
		opts.BenchTime = QuickBenchTime
	}
	if *redisAddr != "" {
		opts.Redis = &RedisConfig{Addr: *redisAddr, PerMode: time.Second}
		if *quick {
			opts.Redis.PerMode = 200 * time.Millisecond
		}
	}
	if *benchtime != "" {
		opts.BenchTime = *benchtime
	}
	if *benchRE != "" {
		re, err := regexp.Compile(*benchRE)
		if err != nil {
			fmt.Fprintf(stderr, "m3bench: bad -bench regexp: %v\n", err)
			return 2
		}
		opts.Filter = re
	}
	rep, err := runForMain(opts)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "m3bench: %v\n", err)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "m3bench: %v\n", err)
		return 1
	case len(rep.Failed) > 0:
		fmt.Fprintf(stderr, "m3bench: %d benchmark(s) FAILED: %v\n", len(rep.Failed), rep.Failed)
		return 1
	}
	if *gates {
		if f := rep.GateFailures(); len(f) > 0 {
			fmt.Fprintf(stderr, "m3bench: %d hard gate(s) broken:\n", len(f))
			for _, g := range f {
				fmt.Fprintf(stderr, "  %s\n", g)
			}
			return 3
		}
		fmt.Fprintf(stderr, "m3bench: all hard gates pass\n")
	}
	return 0
}

// usageError is an error in the options (bad benchtime, empty selection):
// Main turns it into exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// runForMain is the run Main performs; tests replace it to break a gate on
// purpose.
var runForMain = Run

// Run runs the cases and peers (Peers, PeersB) selected by opts with
// testing.Benchmark, then the latency pass over the selected cases that
// have an Op, writes the text report to opts.Stdout and, if asked, the
// JSON and HTML files and the baseline, and returns the report. A failed
// benchmark is recorded in the report (Failed), not returned as an error;
// errors are bad options and I/O.
func Run(opts Options) (*Report, error) {
	return run(opts, Cases(), Peers(), PeersB())
}

// run is Run over explicit case and peer lists, so tests can inject cases.
func run(opts Options, cases []Case, peers, peersB []PeerCase) (*Report, error) {
	if opts.BenchTime == "" {
		opts.BenchTime = DefaultBenchTime
	}
	if opts.Count < 1 {
		opts.Count = 1
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.SaveBaseline != "" {
		if err := ValidBaselineName(opts.SaveBaseline); err != nil {
			return nil, usageError{err.Error()}
		}
	}
	lat, err := latencyBudgetFor(opts.Latency, opts.BenchTime)
	if err != nil {
		return nil, usageError{err.Error()}
	}

	// testing.Benchmark reads the -test.benchtime flag; register the
	// testing flags (a no-op inside a test binary) and restore the caller's
	// benchtime afterwards.
	testing.Init()
	btFlag := flag.Lookup("test.benchtime")
	if btFlag == nil {
		return nil, errors.New("testing flags not registered: test.benchtime missing")
	}
	saved := btFlag.Value.String()
	defer func() { _ = btFlag.Value.Set(saved) }()
	if err := btFlag.Value.Set(opts.BenchTime); err != nil {
		return nil, usageError{fmt.Sprintf("bad benchtime %q: %v", opts.BenchTime, err)}
	}

	families := []peerFamily{
		{prefix: "Peers/", peers: peers, opsOf: func(c string) []string {
			if op, ok := peerOpOf[c]; ok {
				return []string{op}
			}
			return nil
		}},
		{prefix: "PeersB/", peers: peersB, opsOf: func(c string) []string { return peerBOpsOf[c] }},
	}
	plan := selectRuns(opts, cases, families)
	if len(plan) == 0 {
		return nil, usageError{fmt.Sprintf("no benchmark matches -bench %q", filterString(opts.Filter))}
	}

	rep := &Report{
		Env:       envinfo.Capture(),
		Race:      raceEnabled,
		BenchTime: opts.BenchTime,
		Count:     opts.Count,
		Filter:    filterString(opts.Filter),
	}
	record := func(i int, item runItem, fig Figure) {
		fmt.Fprintf(opts.Progress, "[%d/%d] %s  %s\n", i+1, len(plan), item.name(), progressFigure(item, fig))
		switch {
		case item.c != nil:
			rep.Cases = append(rep.Cases, caseResult(*item.c, fig))
		case item.family == "PeersB/":
			p := item.p
			rep.PeersB = append(rep.PeersB, PeerResult{Name: item.name(), Impl: p.Impl, Op: p.Op, Unit: "ns/op", Figure: fig})
		default:
			p := item.p
			unit := "ns/op"
			if p.Op == "mem" {
				unit = "B/entry"
			}
			rep.Peers = append(rep.Peers, PeerResult{Name: item.name(), Impl: p.Impl, Op: p.Op, Unit: unit, Figure: fig})
		}
		if fig.Failed {
			rep.Failed = append(rep.Failed, item.name())
		}
	}
	// laddered holds the figures of Facade Tax cases measured with their
	// ladder ahead of their place in the plan (see ladderGroup).
	laddered := map[string]Figure{}
	for i := 0; i < len(plan); {
		item := plan[i]
		if fig, ok := laddered[item.name()]; ok {
			record(i, item, fig)
			i++
			continue
		}
		if group := peerBGroup(plan[i:]); len(group) > 0 {
			// The stores compared on one Tier B operation, measured in
			// interleaved rounds (see peerBRounds).
			figs, err := measureTurns(btFlag, opts, group, peerBRounds)
			if err != nil {
				return nil, err
			}
			for k, fig := range figs {
				record(i+k, group[k], fig)
			}
			i += len(group)
			continue
		}
		if group := ladderGroup(plan, item); len(group) > 1 {
			// The layers of one Facade Tax ladder, measured in
			// interleaved rounds; each is recorded at its own place.
			figs, err := measureTurns(btFlag, opts, group, ladderRounds)
			if err != nil {
				return nil, err
			}
			for k, fig := range figs {
				laddered[group[k].name()] = fig
			}
			continue // the head of the loop records item
		}
		bt := opts.BenchTime
		if item.isSize() {
			bt = sizeBenchTime
		}
		if err := btFlag.Value.Set(bt); err != nil {
			return nil, err
		}
		fig := measure(item.run(), opts.Count)
		ReleaseFixtures()
		record(i, item, fig)
		i++
	}
	rep.fillRatios()
	rep.KVPeers = rep.kvPeerRows()
	rep.assess()
	if !lat.off() {
		rep.LatencyBudget = lat.String()
		if err := btFlag.Value.Set("1x"); err != nil {
			return nil, err
		}
		rep.Latency = runLatency(plan, lat, opts.Progress)
		for _, l := range rep.Latency {
			if l.Failed {
				rep.Failed = append(rep.Failed, "latency/"+l.Name)
			}
		}
	}
	if opts.Redis != nil {
		res := MeasureRedis(*opts.Redis, func(l string) { fmt.Fprintln(opts.Progress, l) })
		rep.Redis = &res
	}
	if opts.Baseline != nil {
		rep.Comparison = Compare(opts.Baseline, rep)
	}

	if err := rep.WriteText(opts.Stdout); err != nil {
		return rep, err
	}
	if opts.JSONPath != "" {
		if err := rep.writeJSON(opts.JSONPath); err != nil {
			return rep, err
		}
	}
	if opts.HTMLPath != "" {
		if err := rep.writeHTMLFile(opts.HTMLPath); err != nil {
			return rep, err
		}
	}
	if opts.SaveBaseline != "" {
		dir := opts.BaselineDir
		if dir == "" {
			dir = DefaultBaselineDir
		}
		path, err := SaveBaseline(dir, opts.SaveBaseline, rep)
		if err != nil {
			return rep, err
		}
		fmt.Fprintf(opts.Progress, "saved baseline %q to %s\n", opts.SaveBaseline, path)
	}
	return rep, nil
}

// runItem is one entry of the run plan: a case, or a peer of a family
// ("Peers/" for Tier A0, "PeersB/" for Tier B).
type runItem struct {
	c      *Case
	p      *PeerCase
	family string
}

func (it runItem) name() string {
	if it.c != nil {
		return it.c.Name
	}
	return it.family + it.p.Name()
}

func (it runItem) run() func(*testing.B) {
	if it.c != nil {
		return it.c.Run
	}
	return it.p.Run
}

// isSize reports a case whose figure is a size, measured once per
// invocation.
func (it runItem) isSize() bool {
	if it.c != nil {
		return it.c.Metric != ""
	}
	return it.p.Op == "mem"
}

// peerFamily is one peer table: its name prefix in -bench ("Peers/",
// "PeersB/"), its peers, and the peer operations each case is compared
// with.
type peerFamily struct {
	prefix string
	peers  []PeerCase
	opsOf  func(caseName string) []string
}

// peerBOpsOf maps the Tier B cases to the PeersB operations they are
// compared with: kvstore_put also brings the read-modify-write peers, the
// other write the bars of issue 4 name.
var peerBOpsOf = map[string][]string{
	"kvstore_get": {"kv_get"},
	"kvstore_put": {"kv_put", "kv_rmw"},
}

// selectRuns orders the work: each selected case, followed directly by the
// not-yet-run peers of its operations in every family (so that a case and
// the peers it is compared with run close together in time, under the same
// machine state), then any remaining selected peers. A case's peers run
// when opts.WithPeers is set or when they match the filter themselves.
func selectRuns(opts Options, cases []Case, families []peerFamily) []runItem {
	match := func(name string) bool { return opts.Filter == nil || opts.Filter.MatchString(name) }
	done := make([][]bool, len(families))
	for f := range families {
		done[f] = make([]bool, len(families[f].peers))
	}
	var plan []runItem
	for i := range cases {
		c := &cases[i]
		if !match(c.Name) {
			continue
		}
		plan = append(plan, runItem{c: c})
		for f, fam := range families {
			for _, op := range fam.opsOf(c.Name) {
				for j := range fam.peers {
					p := &fam.peers[j]
					if !done[f][j] && p.Op == op && (opts.WithPeers || match(fam.prefix+p.Name())) {
						done[f][j] = true
						plan = append(plan, runItem{p: p, family: fam.prefix})
					}
				}
			}
		}
	}
	for f, fam := range families {
		for j := range fam.peers {
			if !done[f][j] && match(fam.prefix+fam.peers[j].Name()) {
				plan = append(plan, runItem{p: &fam.peers[j], family: fam.prefix})
			}
		}
	}
	return plan
}

func filterString(re *regexp.Regexp) string {
	if re == nil {
		return ""
	}
	return re.String()
}

// measure runs body count times with testing.Benchmark under the current
// benchtime and returns the medians. A body that fails makes
// testing.Benchmark return N == 0 when it fails in the first round, but a
// result with N > 0 when it fails in a later round, so failure is also
// caught with b.Failed in a deferred check (b.Fatal exits through
// runtime.Goexit, which runs deferred calls).
func measure(body func(*testing.B), count int) Figure {
	var s sampler
	for range count {
		s.run(body)
	}
	return s.figure()
}

// peerBRounds and ladderRounds are how many rounds, of benchtime/rounds
// each, the cases whose ratios are bars take turns in when the report runs
// with a count of 1 (with -count N: N rounds of the full benchtime): the
// stores compared on one Tier B operation (issue 4's bars against buntdb)
// and the layers of one Facade Tax ladder (issue 3's A1/A0 bars). One case
// measured right after another rode the host's drift between them: in
// three full reports of one session (2026-11-28, 2-core VM) substrate's
// put moved 213-264 ns and buntdb's 840 ns-1.4 µs, so that the put ratio
// read 0.19x, 0.21x and 0.29x; and in six back-to-back runs of the GET and
// PUT ladders (2026-11-28, Intel Xeon VM, before the ladders took turns)
// engine_get_direct read 38-70 ns and the GET A1/A0 ratio 3.7-8.5x.
// Taking turns puts each case in every phase of the host, and the median
// drops a round that one case spent in a slow phase alone. Ladders take
// five rounds: with three, the twelfth session's end report read
// engine_put_direct at 165 ns (a slow phase over two of its rounds) where
// its own engine_put_noalloc read 114 ns and three standalone ladders
// 117-126 ns; a ladder's fixtures (10,000-key stores) are cheap to build
// five times. The Tier B peers keep three: every round builds a buntdb, a
// go-memdb and a badger store.
const (
	peerBRounds  = 3
	ladderRounds = 5
)

// peerBGroup returns the PeersB items at the head of plan that measure one
// operation (consecutive in the plan: selectRuns puts a family's peers of
// one operation together), or nil if plan does not start with one.
func peerBGroup(plan []runItem) []runItem {
	if len(plan) == 0 || plan[0].family != "PeersB/" || plan[0].isSize() {
		return nil
	}
	n := 1
	for n < len(plan) && plan[n].family == "PeersB/" && plan[n].p.Op == plan[0].p.Op {
		n++
	}
	return plan[:n]
}

// ladderGroup returns the cases of plan on item's Facade Tax ladder
// (facadeLadders: the A0, A1 and B cases of one operation), in ladder
// order, when item is one of them; nil otherwise. The ratios between them
// are bars, so the report measures a ladder's cases in interleaved rounds
// when it reaches the first of them.
func ladderGroup(plan []runItem, item runItem) []runItem {
	if item.c == nil {
		return nil
	}
	for _, l := range facadeLadders {
		if !slices.Contains(l.layers[:], item.c.Name) {
			continue
		}
		var group []runItem
		for _, name := range l.layers {
			for _, it := range plan {
				if it.c != nil && it.c.Name == name {
					group = append(group, it)
					break
				}
			}
		}
		return group
	}
	return nil
}

// interleavedSchedule returns the rounds and the benchtime per round of a
// group measured in turns: count rounds of benchtime when count > 1, else
// rounds rounds of a rounds-th of a duration benchtime (an iteration
// count, "Nx", is kept whole in each round).
func interleavedSchedule(benchtime string, count, rounds int) (int, string) {
	if count > 1 {
		return count, benchtime
	}
	if d, err := time.ParseDuration(benchtime); err == nil && d > 0 {
		return rounds, (d / time.Duration(rounds)).String()
	}
	return rounds, benchtime
}

// measureTurns measures group in interleaved rounds under the schedule
// interleavedSchedule gives for opts and rounds (setting testing's
// benchtime flag), then drops the fixtures the cases kept.
func measureTurns(btFlag *flag.Flag, opts Options, group []runItem, rounds int) ([]Figure, error) {
	rounds, bt := interleavedSchedule(opts.BenchTime, opts.Count, rounds)
	if err := btFlag.Value.Set(bt); err != nil {
		return nil, err
	}
	figs := measureInterleaved(group, rounds)
	ReleaseFixtures()
	return figs, nil
}

// measureInterleaved runs the items round-robin, rounds times (item 0, 1,
// ..., then again), and returns each item's Figure: the medians over its
// rounds, as measure gives.
func measureInterleaved(items []runItem, rounds int) []Figure {
	ss := make([]sampler, len(items))
	for range rounds {
		for k, it := range items {
			ss[k].run(it.run())
		}
	}
	figs := make([]Figure, len(items))
	for k := range ss {
		figs[k] = ss[k].figure()
	}
	return figs
}

// sampler collects the runs of one benchmark (testing.Benchmark, one per
// run call) and summarizes them as a Figure.
type sampler struct {
	nsOp, allocs, bytes []float64
	extra               map[string][]float64
	fig                 Figure
}

// run runs body once with testing.Benchmark and records the result.
func (s *sampler) run(body func(*testing.B)) {
	var failed atomic.Bool
	r := testing.Benchmark(func(b *testing.B) {
		defer func() {
			if b.Failed() {
				failed.Store(true)
			}
		}()
		body(b)
	})
	s.fig.Runs++
	if r.N <= 0 || failed.Load() {
		s.fig.Failed = true
		return
	}
	s.fig.N = r.N
	n := float64(r.N)
	v, ok := r.Extra["ns/op"]
	if !ok {
		v = float64(r.T.Nanoseconds()) / n
	}
	s.nsOp = append(s.nsOp, v)
	s.allocs = append(s.allocs, float64(r.MemAllocs)/n)
	s.bytes = append(s.bytes, float64(r.MemBytes)/n)
	for unit, x := range r.Extra {
		if unit != "ns/op" {
			if s.extra == nil {
				s.extra = map[string][]float64{}
			}
			s.extra[unit] = append(s.extra[unit], x)
		}
	}
}

// figure returns the medians of the runs so far.
func (s *sampler) figure() Figure {
	fig := s.fig
	fig.NsSamples = s.nsOp
	fig.NsPerOp = median(s.nsOp)
	fig.AllocsPerOp = median(s.allocs)
	fig.BytesPerOp = median(s.bytes)
	for unit, xs := range s.extra {
		if fig.Metrics == nil {
			fig.Metrics = map[string]float64{}
			fig.MetricSamples = map[string][]float64{}
		}
		fig.Metrics[unit] = median(xs)
		fig.MetricSamples[unit] = xs
	}
	return fig
}

// median returns the median of xs (the mean of the middle two for an even
// count), 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func caseResult(c Case, fig Figure) CaseResult {
	r := CaseResult{
		Name: c.Name, Tier: c.Tier, Group: c.Group, Gate: c.Gate, Metric: c.Metric,
		PlanGoalNs: float64(c.PlanGoal.Nanoseconds()),
		OurGoalNs:  float64(c.OurGoal.Nanoseconds()),
		Figure:     fig,
		PeerOp:     peerOpOf[c.Name],
	}
	r.Verdict, r.GateFailed = tierVerdict(r)
	return r
}

// verdict applies the plan's Tier A0 rule: no gate; investigate above 1 µs.
// Below that, a case is compared with the plan's goal and then ours. Size
// cases have no timing verdict.
func verdict(r CaseResult) string {
	switch {
	case r.Failed:
		return "FAILED"
	case r.Metric != "":
		return "ok (observability)"
	case r.NsPerOp > investigateAbove:
		return "investigate (>1 µs)"
	case r.PlanGoalNs > 0 && r.NsPerOp > r.PlanGoalNs:
		return "over plan goal"
	case r.OurGoalNs > 0 && r.NsPerOp > r.OurGoalNs:
		return "over our goal"
	}
	return "ok"
}

// peer returns the result of impl's op, if it ran and did not fail.
func (rep *Report) peer(impl, op string) (PeerResult, bool) {
	for _, p := range rep.Peers {
		if p.Impl == impl && p.Op == op && !p.Failed {
			return p, true
		}
	}
	return PeerResult{}, false
}

// caseByName returns the named case result, if it ran and did not fail.
func (rep *Report) caseByName(name string) (CaseResult, bool) {
	for _, c := range rep.Cases {
		if c.Name == name && !c.Failed {
			return c, true
		}
	}
	return CaseResult{}, false
}

// fillRatios sets ours / peer for every case with a peer operation.
func (rep *Report) fillRatios() {
	for i := range rep.Cases {
		c := &rep.Cases[i]
		if c.PeerOp == "" || c.Failed {
			continue
		}
		ours := c.Value(c.Metric)
		for _, impl := range peerImpls {
			if impl == "substrate" {
				continue
			}
			p, ok := rep.peer(impl, c.PeerOp)
			if !ok {
				continue
			}
			if theirs := p.Value(c.Metric); ours > 0 && theirs > 0 {
				if c.Ratios == nil {
					c.Ratios = map[string]float64{}
				}
				c.Ratios[impl] = ours / theirs
			}
		}
	}
}

// assess makes the plan's cache-locality and branch-predictor checks from
// the cases that ran.
func (rep *Report) assess() {
	rep.Assessments = nil
	if hot, ok := rep.caseByName("cache_hot_key"); ok && hot.NsPerOp > 0 {
		if uni, ok := rep.caseByName("cache_uniform_10k"); ok {
			ratio := uni.NsPerOp / hot.NsPerOp
			a := Assessment{Name: "cache_hot_vs_uniform_10k", Value: ratio, Expect: 2, Verdict: "ok"}
			if ratio < 2 {
				a.Verdict = "below plan expectation"
			}
			a.Lines = append(a.Lines, fmt.Sprintf("hot key vs 10k uniform: %s (plan expects ≥2×) -> %s", fmtRatio(ratio), a.Verdict))
			a.Lines = append(a.Lines, rep.residencyNote()...)
			if big, ok := rep.caseByName("cache_uniform_1m"); ok {
				a.Lines = append(a.Lines, fmt.Sprintf("beyond-L3 step: cache_uniform_1m %s = %s hot key, %s 10k uniform",
					fmtNs(big.NsPerOp), fmtRatio(big.NsPerOp/hot.NsPerOp), fmtRatio(big.NsPerOp/uni.NsPerOp)))
			} else {
				a.Lines = append(a.Lines, "beyond-L3 step: cache_uniform_1m did not run")
			}
			rep.Assessments = append(rep.Assessments, a)
		}
	}
	if seq, ok := rep.caseByName("branch_sequential"); ok && seq.NsPerOp > 0 {
		if rnd, ok := rep.caseByName("branch_random"); ok {
			pct := (rnd.NsPerOp/seq.NsPerOp - 1) * 100
			a := Assessment{Name: "branch_sequential_vs_random", Value: pct, Expect: 20, Verdict: "ok"}
			if pct < 20 {
				a.Verdict = "below plan expectation"
			}
			word, mag := "faster", pct
			if pct < 0 {
				word, mag = "slower", -pct
			}
			a.Lines = append(a.Lines,
				fmt.Sprintf("sequential vs random: sequential is %.0f%% %s (plan expects ≥20%%) -> %s", mag, word, a.Verdict),
				"note: the map hashes keys, so sequential keys are not sequential memory; this measures the predictability",
				"      of the probe loop and key comparisons, and a small gap is expected for a hashed table.")
			rep.Assessments = append(rep.Assessments, a)
		}
	}
}

// residencyNote explains the hot-key/10k ratio: the plan's table calls 10k
// keys "main memory", which holds only when the 10k-entry table is larger
// than the last-level cache. The footprint is estimated from
// mem_bytes_per_kv_entry when it ran (100k entries, so only approximate for
// a presized 10k table) and compared with the cache sizes envinfo captured.
func (rep *Report) residencyNote() []string {
	footprint, known := 0.0, false
	text := "a few hundred KiB (estimate; mem_bytes_per_kv_entry did not run)"
	if mem, ok := rep.caseByName("mem_bytes_per_kv_entry"); ok && mem.Value(mem.Metric) > 0 {
		footprint, known = mem.Value(mem.Metric)*10_000, true
		text = "about " + fmtBytes(footprint)
	}
	llc := max(parseSize(rep.Env.L2), parseSize(rep.Env.L3))
	caches := fmt.Sprintf("L2 %s, L3 %s", orDash(rep.Env.L2), orDash(rep.Env.L3))
	switch {
	case llc > 0 && (!known || footprint < float64(llc)):
		return []string{
			fmt.Sprintf("note: 10k entries are %s of table, within this CPU's caches (%s): the 10k set is", text, caches),
			"      cache-resident, not memory-bound as the plan's table assumes, so this ratio measures L1 against",
			"      L2/L3 and a value under 2× alone says little about cache-friendliness; see the 1M step below.",
		}
	case llc > 0:
		return []string{fmt.Sprintf("note: 10k entries are %s of table, beyond this CPU's caches (%s): memory-bound, as the plan assumes.", text, caches)}
	}
	return []string{fmt.Sprintf("note: 10k entries are %s of table; cache sizes unknown (%s), so whether the 10k set is cache-resident is not known.", text, caches)}
}

// parseSize reads envinfo's cache sizes ("48 KiB", "1 MiB", "32 MiB") as
// bytes; 0 for "n/a" or anything unreadable.
func parseSize(s string) int64 {
	var n float64
	var unit string
	if _, err := fmt.Sscanf(s, "%g %s", &n, &unit); err != nil || n <= 0 {
		return 0
	}
	mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
	return int64(n * mult)
}

func (rep *Report) writeJSON(path string) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}
