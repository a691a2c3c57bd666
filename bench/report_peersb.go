package bench

import (
	"fmt"
	"io"
)

// The Tier B peer table: the KV facade against embedded Go stores with
// transactions (PeersB in kvstore.go), measured in the same run.

// kvBars are issue 4's bars for substrate against buntdb in the same run
// (ours / buntdb, at most): informational in the report, not gates.
var kvBars = map[string]float64{"kv_get": 0.30, "kv_put": 0.25, "kv_rmw": 0.30}

// kvCaseOf is the Tier B case whose body the substrate row of a PeersB
// operation runs: its figure stands in when the substrate row did not run.
var kvCaseOf = map[string]string{"kv_get": "kvstore_get", "kv_put": "kvstore_put"}

// KVPeerRow compares substrate with the Tier B peers on one operation.
type KVPeerRow struct {
	// Op is the PeersB operation: kv_get, kv_put or kv_rmw.
	Op string `json:"op"`
	// OursNs is substrate's ns/op and OursFrom the benchmark it comes
	// from: the substrate peer row, or the matching kvstore_* case when
	// that row did not run; 0 and "" when neither ran.
	OursNs   float64 `json:"ours_ns"`
	OursFrom string  `json:"ours_from,omitempty"`
	// PeerNs holds each peer's ns/op, Ratios ours / peer (<= 1.0: we are
	// faster), for the peers that ran and did not fail.
	PeerNs map[string]float64 `json:"peer_ns,omitempty"`
	Ratios map[string]float64 `json:"ratios,omitempty"`
	// Bar is issue 4's bar for ours / buntdb (0 if none); BarVerdict is
	// "met", "not met" or "n/a" (buntdb or substrate missing).
	Bar        float64 `json:"bar,omitempty"`
	BarVerdict string  `json:"bar_verdict,omitempty"`
}

// peerBRuns returns the number of runs behind the PeersB figures (the
// most of any row), 0 if none ran.
func (rep *Report) peerBRuns() int {
	n := 0
	for _, p := range rep.PeersB {
		n = max(n, p.Figure.Runs)
	}
	return n
}

// peerB returns the result of impl's PeersB op, if it ran and did not fail.
func (rep *Report) peerB(impl, op string) (PeerResult, bool) {
	for _, p := range rep.PeersB {
		if p.Impl == impl && p.Op == op && !p.Failed {
			return p, true
		}
	}
	return PeerResult{}, false
}

// kvPeerRows compares substrate with every PeersB peer, per operation that
// ran.
func (rep *Report) kvPeerRows() []KVPeerRow {
	var out []KVPeerRow
	for _, op := range peerBOps {
		ran := false
		for _, p := range rep.PeersB {
			ran = ran || p.Op == op
		}
		if !ran {
			continue
		}
		r := KVPeerRow{Op: op, BarVerdict: "n/a"}
		if p, ok := rep.peerB("substrate", op); ok && p.NsPerOp > 0 {
			r.OursNs, r.OursFrom = p.NsPerOp, p.Name
		} else if c, ok := rep.caseByName(kvCaseOf[op]); ok && c.NsPerOp > 0 {
			r.OursNs, r.OursFrom = c.NsPerOp, c.Name
		}
		for _, impl := range peerBImpls[1:] {
			p, ok := rep.peerB(impl, op)
			if !ok || p.NsPerOp <= 0 {
				continue
			}
			if r.PeerNs == nil {
				r.PeerNs, r.Ratios = map[string]float64{}, map[string]float64{}
			}
			r.PeerNs[impl] = p.NsPerOp
			if r.OursNs > 0 {
				r.Ratios[impl] = r.OursNs / p.NsPerOp
			}
		}
		if bar, ok := kvBars[op]; ok {
			r.Bar = bar
			if ratio, ok := r.Ratios["buntdb"]; ok {
				r.BarVerdict = "met"
				if ratio > bar {
					r.BarVerdict = "not met"
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// writePeersB prints the Tier B peer table: every implementation's figure
// per operation, substrate's ratio to each, and issue 4's bars.
func (rep *Report) writePeersB(w io.Writer) {
	rows := rep.kvPeerRows()
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n=== Tier B Peers: embedded transactional KV stores (same run) ===\n")
	fmt.Fprintf(w, "The same 10,000 entries (100 runs × 100 keys) in the same shuffled order, each store through its own\n")
	fmt.Fprintf(w, "transactions: buntdb (in memory, View/Update), go-memdb (immutable radix trees), badger v4 (in memory).\n")
	if runs := rep.peerBRuns(); runs > 1 {
		fmt.Fprintf(w, "Each figure is the median of %d rounds in which the stores of an operation took turns, so that a\n", runs)
		fmt.Fprintf(w, "ratio does not ride the host's drift between one store's run and the next's.\n")
	}
	tw := newTable(w)
	head := []string{"op"}
	head = append(head, peerBImpls...)
	for _, impl := range peerBImpls[1:] {
		head = append(head, "vs "+impl)
	}
	row(tw, head...)
	for _, r := range rows {
		cells := []string{r.Op}
		for _, impl := range peerBImpls {
			cell := "-"
			for _, p := range rep.PeersB {
				if p.Impl == impl && p.Op == r.Op {
					cell = peerFigure(p)
				}
			}
			if impl == "substrate" && cell == "-" && r.OursFrom != "" {
				cell = fmtNs(r.OursNs) + " (" + r.OursFrom + ")"
			}
			cells = append(cells, cell)
		}
		for _, impl := range peerBImpls[1:] {
			cells = append(cells, ratioCell(r.Ratios, impl))
		}
		row(tw, cells...)
	}
	tw.Flush()
	fmt.Fprintf(w, "Figures: ns/op (allocs/op); vs <peer> = substrate / peer, <= 1.0 means we are faster.\n")
	fmt.Fprintf(w, "Bars vs buntdb (issue 4; informational here, not gates): get <= %s, put <= %s, read-modify-write <= %s.\n",
		fmtRatio(kvBars["kv_get"]), fmtRatio(kvBars["kv_put"]), fmtRatio(kvBars["kv_rmw"]))
	for _, r := range rows {
		if r.Bar == 0 {
			continue
		}
		if r.BarVerdict == "n/a" {
			fmt.Fprintf(w, "  %s: bar <= %s of buntdb -> n/a (substrate or buntdb did not run)\n", r.Op, fmtRatio(r.Bar))
			continue
		}
		fmt.Fprintf(w, "  %s: %s of buntdb (bar <= %s) -> %s\n", r.Op, fmtRatio(r.Ratios["buntdb"]), fmtRatio(r.Bar), r.BarVerdict)
	}
}
