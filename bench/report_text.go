package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// WriteText renders the report as the plan-style text report: the
// Environment block with the reference-platform caveat, then the Tier A0
// table with peer ratios, the Tier A1-D tables, the Facade Tax Report, the
// latency distribution, the peer figures (Tier A0 maps, Tier B KV stores),
// the cache-locality and branch tables with the plan's assessments, memory
// overhead, any other cases, the Redis Competitiveness Report, the
// comparison with a baseline, and the list of failures. Sections with no
// results are omitted.
func (rep *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	rep.writeHeader(ew)
	rep.writeCore(ew)
	rep.writeTiers(ew)
	rep.writeFacadeTax(ew)
	rep.writeLatency(ew)
	rep.writePeers(ew)
	rep.writePeersB(ew)
	rep.writeCache(ew)
	rep.writeBranch(ew)
	rep.writeMem(ew)
	rep.writeOther(ew)
	rep.writeRedis(ew)
	rep.writeComparison(ew)
	if len(rep.Failed) > 0 {
		fmt.Fprintf(ew, "\nFAILED: %s\n", strings.Join(rep.Failed, ", "))
		fmt.Fprintf(ew, "  (rerun one with `go test ./bench -run '^$' -bench 'M3/<name>$' -benchtime 1x` to see its message)\n")
	}
	return ew.err
}

// errWriter remembers the first write error so the renderers can ignore it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, nil
}

func (rep *Report) writeHeader(w io.Writer) {
	io.WriteString(w, rep.Env.Format())
	host := "bare metal (no hypervisor bit)"
	if rep.Env.Virtualized {
		host = "a virtual machine"
	}
	fmt.Fprintf(w, "\nReference platform: the plan's gates and Redis comparisons are valid only on the reference platform\n")
	fmt.Fprintf(w, "  (bare-metal Linux, AMD Ryzen 7 5800X3D or equivalent, performance governor, no background load).\n")
	fmt.Fprintf(w, "  This run: %s with %d logical CPUs, governor %s; compare figures within this run only.\n",
		host, rep.Env.NumCPU, orDash(rep.Env.Governor))
	filter := "all"
	if rep.Filter != "" {
		filter = fmt.Sprintf("%q", rep.Filter)
	}
	fmt.Fprintf(w, "Run: benchtime %s per case (size cases %s), count %d (median), selection %s\n",
		rep.BenchTime, sizeBenchTime, rep.Count, filter)
	if rep.Race {
		fmt.Fprintf(w, "WARNING: built with -race; every figure below is meaningless.\n")
	}
}

// casesOf returns the results of one group, in run order.
func (rep *Report) casesOf(group string) []CaseResult {
	var out []CaseResult
	for _, c := range rep.Cases {
		if c.Group == group {
			out = append(out, c)
		}
	}
	return out
}

// ratioImpls are the peers shown as ratio columns (substrate is the
// numerator).
func ratioImpls() []string { return peerImpls[1:] }

func (rep *Report) writeCore(w io.Writer) {
	rows := rep.casesOf("core")
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n=== Tier A0: Core Data Structure ===\n")
	fmt.Fprintf(w, "Observability only (no M3 gate); the plan says investigate above 1 µs.\n")
	tw := newTable(w)
	head := []string{"case", "figure", "allocs/op", "B/op", "plan goal", "our goal"}
	for _, impl := range ratioImpls() {
		head = append(head, "vs "+impl)
	}
	head = append(head, "verdict")
	row(tw, head...)
	for _, c := range rows {
		cells := []string{c.Name, caseFigure(c), fmtCount(c.AllocsPerOp), fmtCount(c.BytesPerOp), fmtGoal(c.PlanGoalNs), fmtGoal(c.OurGoalNs)}
		for _, impl := range ratioImpls() {
			cells = append(cells, ratioCell(c.Ratios, impl))
		}
		cells = append(cells, c.Verdict)
		row(tw, cells...)
	}
	tw.Flush()
	fmt.Fprintf(w, "vs <peer> = ours / peer for the matching op (get -> load, put -> store, cas -> cas); ratio <= 1.0 means we are faster.\n")
	fmt.Fprintf(w, "cas peers: sync.Map.CompareAndSwap; rwmutex_map compares under Lock; xsync has no CAS, so Compute with a comparing callback (nearest equivalent).\n")
}

// facadeLadders are the plan's Facade Tax rows: the same operation at
// Tier A0 (data structure), A1 (correctness wrapper) and B (facade). The
// report measures the cases of one ladder in interleaved rounds
// (ladderGroup), since the ratios between them are bars.
var facadeLadders = []struct {
	op     string
	layers [3]string // A0, A1, B
}{
	{"GET", [3]string{"core_get_hot", "engine_get_direct", "kvstore_get"}},
	{"PUT", [3]string{"core_put_hot", "engine_put_direct", "kvstore_put"}},
}

// ladderRuns returns the most runs behind a figure of a Facade Tax case
// (the rounds its ladder took turns in), 0 if none ran.
func (rep *Report) ladderRuns() int {
	n := 0
	for _, l := range facadeLadders {
		for _, name := range l.layers {
			if c, ok := rep.caseByName(name); ok {
				n = max(n, c.Runs)
			}
		}
	}
	return n
}

// writeFacadeTax prints the plan's "Facade Tax Report" for the layers that
// ran, with the plan's thresholds: A1/A0 > 20x means the transaction layer
// has a problem, B/A1 > 10x means the facade has one.
func (rep *Report) writeFacadeTax(w io.Writer) {
	ran := false
	for _, l := range facadeLadders {
		for _, name := range l.layers {
			if _, ok := rep.caseByName(name); ok {
				ran = true
			}
		}
	}
	if !ran {
		return
	}
	fmt.Fprintf(w, "\n=== Facade Tax Report ===\n")
	if runs := rep.ladderRuns(); runs > 1 {
		fmt.Fprintf(w, "Each figure is the median of %d rounds in which the layers of an operation took turns, so that a\n", runs)
		fmt.Fprintf(w, "ratio does not ride the host's drift between one layer's run and the next's.\n")
	}
	tiers := [3]string{"A0", "A1", "B "}
	var notes []string
	for _, l := range facadeLadders {
		var layerNs [3]float64
		for i, name := range l.layers {
			if c, ok := rep.caseByName(name); ok {
				layerNs[i] = c.NsPerOp
			}
		}
		fmt.Fprintf(w, "%s operation:\n", l.op)
		tw := newTable(w)
		for i, name := range l.layers {
			label := fmt.Sprintf("%s (%s):", tiers[i], name)
			if layerNs[i] <= 0 {
				row(tw, label, "not measured in this run")
				continue
			}
			var over []string
			if i == 2 && layerNs[1] > 0 {
				over = append(over, fmtRatio(layerNs[2]/layerNs[1])+" over A1")
			}
			if i > 0 && layerNs[0] > 0 {
				over = append(over, fmtRatio(layerNs[i]/layerNs[0])+" over A0")
			}
			rel := "(baseline)"
			if i > 0 {
				rel = "(" + orDash(strings.Join(over, ", ")) + ")"
			}
			row(tw, label, fmtNs(layerNs[i]), rel)
		}
		tw.Flush()
		if layerNs[0] > 0 && layerNs[1] > 0 {
			r := layerNs[1] / layerNs[0]
			verdict := "transaction overhead acceptable"
			if r > 20 {
				verdict = "over 20×: the transaction layer has a problem"
			}
			notes = append(notes, fmt.Sprintf("%s A1/A0 ratio %s: %s", l.op, fmtRatio(r), verdict))
		}
		if layerNs[1] > 0 && layerNs[2] > 0 {
			r := layerNs[2] / layerNs[1]
			verdict := "facade overhead acceptable"
			if r > 10 {
				verdict = "over 10×: the facade has a problem"
			}
			notes = append(notes, fmt.Sprintf("%s B/A1 ratio %s: %s", l.op, fmtRatio(r), verdict))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "Assessment:\n")
		for _, n := range notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
}

func (rep *Report) writePeers(w io.Writer) {
	if len(rep.Peers) == 0 {
		return
	}
	fmt.Fprintf(w, "\n=== Peers (same 10,000 keys, same loop) ===\n")
	tw := newTable(w)
	row(tw, append([]string{"op"}, peerImpls...)...)
	for _, op := range peerOps {
		cells := []string{op}
		seen := false
		for _, impl := range peerImpls {
			cell := "-"
			for _, p := range rep.Peers {
				if p.Impl == impl && p.Op == op {
					cell, seen = peerFigure(p), true
				}
			}
			cells = append(cells, cell)
		}
		if seen {
			row(tw, cells...)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "Figures: ns/op (allocs/op); mem is live heap B/entry. The substrate column reruns the core bodies:\n")
	fmt.Fprintf(w, "its distance from the Tier A0 figures is this machine's run-to-run noise.\n")
}

func (rep *Report) writeCache(w io.Writer) {
	rows := rep.casesOf("cache")
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n=== Cache Locality (Tier A0) ===\n")
	hot, hotOK := rep.caseByName("cache_hot_key")
	tw := newTable(w)
	row(tw, "case", "figure", "allocs/op", "vs hot key", "verdict")
	for _, c := range rows {
		vs := "-"
		if hotOK && hot.NsPerOp > 0 && !c.Failed {
			vs = fmtRatio(c.NsPerOp / hot.NsPerOp)
		}
		row(tw, c.Name, caseFigure(c), fmtCount(c.AllocsPerOp), vs, c.Verdict)
	}
	tw.Flush()
	rep.writeAssessments(w, "cache_")
}

func (rep *Report) writeBranch(w io.Writer) {
	rows := rep.casesOf("branch")
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n=== Branch Predictor (Tier A0) ===\n")
	patterns := map[string]string{
		"branch_sequential": "0,1,2,... over 10k dense keys",
		"branch_strided":    "0,8,16,... over 80k dense keys",
		"branch_random":     "permutation of the 10k keys",
	}
	rnd, rndOK := rep.caseByName("branch_random")
	tw := newTable(w)
	row(tw, "case", "pattern", "figure", "allocs/op", "vs random", "verdict")
	for _, c := range rows {
		vs := "-"
		if rndOK && rnd.NsPerOp > 0 && !c.Failed {
			vs = fmtRatio(c.NsPerOp / rnd.NsPerOp)
		}
		row(tw, c.Name, orDash(patterns[c.Name]), caseFigure(c), fmtCount(c.AllocsPerOp), vs, c.Verdict)
	}
	tw.Flush()
	rep.writeAssessments(w, "branch_")
}

func (rep *Report) writeAssessments(w io.Writer, prefix string) {
	first := true
	for _, a := range rep.Assessments {
		if !strings.HasPrefix(a.Name, prefix) {
			continue
		}
		if first {
			fmt.Fprintf(w, "Assessment:\n")
			first = false
		}
		for _, l := range a.Lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}

func (rep *Report) writeMem(w io.Writer) {
	rows := rep.casesOf("mem")
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n=== Memory Overhead (Tier A0) ===\n")
	fmt.Fprintf(w, "Observability only (no M3 gate): live heap per entry after %d uint64 -> uint64 inserts, no presize.\n", memEntries)
	tw := newTable(w)
	row(tw, "impl", "case", "B/entry", "table-B/entry", "ours / peer")
	for _, c := range rows {
		table := "-"
		if v, ok := c.Metrics["table-B/entry"]; ok {
			table = fmt.Sprintf("%.1f", v)
			if v == 0 {
				table = "0 (MemStats not implemented)"
			}
		}
		ours := "FAILED"
		if !c.Failed {
			ours = fmt.Sprintf("%.1f", c.Value(c.Metric))
		}
		row(tw, "substrate", c.Name, ours, table, "1.00× (ours)")
		if c.PeerOp == "" {
			continue
		}
		for _, impl := range ratioImpls() {
			p, ok := rep.peer(impl, c.PeerOp)
			if !ok {
				continue
			}
			row(tw, impl, "Peers/"+PeerCase{Impl: impl, Op: c.PeerOp}.Name(), fmt.Sprintf("%.1f", p.Value("B/entry")), "-", ratioCell(c.Ratios, impl))
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "table-B/entry is the map's own MemStats accounting; ours / peer <= 1.0 means we are smaller.\n")
}

// writeOther prints cases of groups this report does not know yet (later
// tiers), so nothing that ran is hidden.
func (rep *Report) writeOther(w io.Writer) {
	known := map[string]bool{"core": true, "cache": true, "branch": true, "mem": true}
	var rows []CaseResult
	for _, c := range rep.Cases {
		if !known[c.Group] && c.Tier != "A1" && c.Tier != "B" && c.Tier != "C" && c.Tier != "D" {
			rows = append(rows, c)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n=== Other cases ===\n")
	tw := newTable(w)
	row(tw, "case", "tier", "figure", "allocs/op", "plan goal", "our goal", "gate", "verdict")
	for _, c := range rows {
		row(tw, c.Name, c.Tier, caseFigure(c), fmtCount(c.AllocsPerOp), fmtGoal(c.PlanGoalNs), fmtGoal(c.OurGoalNs), c.Gate, c.Verdict)
	}
	tw.Flush()
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
}

func row(tw *tabwriter.Writer, cells ...string) {
	fmt.Fprintln(tw, "  "+strings.Join(cells, "\t"))
}

// caseFigure is the headline figure of a case: its time, or its metric for
// size cases, or FAILED.
func caseFigure(c CaseResult) string {
	if c.Failed {
		return "FAILED"
	}
	if c.Metric != "" {
		return fmt.Sprintf("%.1f %s", c.Value(c.Metric), c.Metric)
	}
	return fmtNs(c.NsPerOp)
}

func peerFigure(p PeerResult) string {
	if p.Failed {
		return "FAILED"
	}
	if p.Op == "mem" {
		return fmt.Sprintf("%.1f B/entry", p.Value("B/entry"))
	}
	return fmt.Sprintf("%s (%s)", fmtNs(p.NsPerOp), fmtCount(p.AllocsPerOp))
}

// progressFigure is the short figure printed on the progress line.
func progressFigure(it runItem, f Figure) string {
	switch {
	case f.Failed:
		return "FAILED"
	case it.isSize():
		unit := "B/entry" // peers' mem cases
		if it.c != nil {
			unit = it.c.Metric // B/entry, B/event, B/trace, B/run
		}
		return fmt.Sprintf("%.1f %s", f.Metrics[unit], unit)
	}
	return fmt.Sprintf("%s, %s allocs/op", fmtNs(f.NsPerOp), fmtCount(f.AllocsPerOp))
}

func ratioCell(ratios map[string]float64, impl string) string {
	r, ok := ratios[impl]
	if !ok {
		return "-"
	}
	return fmtRatio(r)
}

// fmtNs formats a duration given in nanoseconds the way the plan does: ns
// below 1 µs (one decimal below 100 ns), µs below 1 ms and ms below 1 s with
// one decimal, seconds above. Zero or less prints "-".
func fmtNs(nanos float64) string {
	switch {
	case nanos <= 0 || math.IsNaN(nanos):
		return "-"
	case nanos < 100:
		return fmt.Sprintf("%.1f ns", nanos)
	case nanos < 1e3:
		return fmt.Sprintf("%.0f ns", nanos)
	case nanos < 1e6:
		return fmt.Sprintf("%.1f µs", nanos/1e3)
	case nanos < 1e9:
		return fmt.Sprintf("%.1f ms", nanos/1e6)
	}
	return fmt.Sprintf("%.2f s", nanos/1e9)
}

// fmtGoal formats a goal as the plan's "<200 ns", or "-" for none.
func fmtGoal(nanos float64) string {
	if nanos <= 0 {
		return "-"
	}
	if nanos < 1e3 && nanos == math.Trunc(nanos) {
		return fmt.Sprintf("<%.0f ns", nanos) // goals are whole: "<30 ns", not "<30.0 ns"
	}
	return "<" + fmtNs(nanos)
}

// fmtRatio formats a ratio as "1.23×".
func fmtRatio(r float64) string { return fmt.Sprintf("%.2f×", r) }

// fmtCount formats a per-op count: whole numbers without decimals.
func fmtCount(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// fmtBytes formats a byte count with a binary unit.
func fmtBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
