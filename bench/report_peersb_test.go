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

// TestSelectRunsPeersB checks that the Tier B peers follow their cases
// (kvstore_get -> kv_get, kvstore_put -> kv_put and kv_rmw) and -peers=false,
// like the Tier A0 peers.
func TestSelectRunsPeersB(t *testing.T) {
	families := []peerFamily{{prefix: "PeersB/", peers: PeersB(), opsOf: func(c string) []string { return peerBOpsOf[c] }}}
	names := func(plan []runItem) []string {
		var out []string
		for _, it := range plan {
			out = append(out, it.name())
		}
		return out
	}
	put := regexp.MustCompile("^kvstore_put$")
	got := names(selectRuns(Options{Filter: put, WithPeers: true}, Cases(), families))
	want := []string{"kvstore_put"}
	for _, op := range []string{"kv_put", "kv_rmw"} {
		for _, impl := range peerBImpls {
			want = append(want, "PeersB/impl="+impl+"/op="+op)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("plan for ^kvstore_put$ = %v\nwant %v", got, want)
	}
	if got := names(selectRuns(Options{Filter: put}, Cases(), families)); !slices.Equal(got, []string{"kvstore_put"}) {
		t.Errorf("plan for ^kvstore_put$ -peers=false = %v", got)
	}
	only := regexp.MustCompile("^PeersB/impl=buntdb/op=kv_get$")
	if got := names(selectRuns(Options{Filter: only}, Cases(), families)); !slices.Equal(got, []string{"PeersB/impl=buntdb/op=kv_get"}) {
		t.Errorf("plan for one peer = %v", got)
	}
}

// TestMainPeersB runs kvstore_get with two of its Tier B peers through
// m3bench and checks the table, the ratio and the bar line.
func TestMainPeersB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m3.json")
	var out, errOut bytes.Buffer
	args := []string{"-bench", "^kvstore_get$|^PeersB/impl=(substrate|buntdb)/op=kv_get$", "-peers=false",
		"-benchtime", "20x", "-latency", "0", "-json", path}
	if code := Main(args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	text := out.String()
	for _, want := range []string{
		"=== Tier B Peers: embedded transactional KV stores (same run) ===",
		"kv_get", "buntdb", "vs buntdb", "Bars vs buntdb (issue 4; informational here, not gates)",
		"kv_get: ", " of buntdb (bar <= 0.30×) -> ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "=== Latency Distribution") {
		t.Errorf("-latency 0 still ran the latency pass")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.PeersB) != 2 || len(rep.KVPeers) != 1 {
		t.Fatalf("JSON peers_b %+v, kv_peers %+v", rep.PeersB, rep.KVPeers)
	}
	r := rep.KVPeers[0]
	if r.Op != "kv_get" || r.OursFrom != "PeersB/impl=substrate/op=kv_get" || r.Ratios["buntdb"] <= 0 ||
		(r.BarVerdict != "met" && r.BarVerdict != "not met") || r.Bar != 0.30 {
		t.Errorf("kv_get row = %+v", r)
	}
}

// TestKVPeerRowsFallback: without the substrate peer row, the kvstore_get
// case stands in; without buntdb, the bar is n/a.
func TestKVPeerRowsFallback(t *testing.T) {
	rep := &Report{
		Cases: []CaseResult{{Name: "kvstore_get", Tier: "B", Figure: Figure{NsPerOp: 100}}},
		PeersB: []PeerResult{
			{Name: "PeersB/impl=buntdb/op=kv_get", Impl: "buntdb", Op: "kv_get", Figure: Figure{NsPerOp: 400}},
			{Name: "PeersB/impl=badger/op=kv_put", Impl: "badger", Op: "kv_put", Figure: Figure{NsPerOp: 2000}},
		},
	}
	rows := rep.kvPeerRows()
	if len(rows) != 2 {
		t.Fatalf("rows = %+v", rows)
	}
	if r := rows[0]; r.OursFrom != "kvstore_get" || r.Ratios["buntdb"] != 0.25 || r.BarVerdict != "met" {
		t.Errorf("kv_get row = %+v", r)
	}
	if r := rows[1]; r.OursNs != 0 || len(r.Ratios) != 0 || r.BarVerdict != "n/a" {
		t.Errorf("kv_put row = %+v", r)
	}
	var out strings.Builder
	rep.writePeersB(&out)
	for _, want := range []string{"100 ns (kvstore_get)", "kv_get: 0.25× of buntdb (bar <= 0.30×) -> met", "kv_put: bar <= 0.25× of buntdb -> n/a"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestPeersBInterleaved: the stores compared on one Tier B operation are
// measured in turns (a, b, a, b, ...) and each figure is the median of its
// rounds: peerBRounds rounds of a third of the benchtime at -count 1,
// count rounds of the whole benchtime otherwise; the report says so.
func TestPeersBInterleaved(t *testing.T) {
	var calls []string
	peer := func(impl, op string, ns int) PeerCase {
		return PeerCase{Impl: impl, Op: op, Run: func(b *testing.B) {
			b.ReportAllocs()
			if len(calls) == 0 || calls[len(calls)-1] != impl+"/"+op {
				calls = append(calls, impl+"/"+op) // once per testing.Benchmark run, not per b.N probe
			}
			for range b.N {
			}
			b.ReportMetric(float64(ns), "ns/op")
		}}
	}
	peers := []PeerCase{
		peer("substrate", "kv_get", 100), peer("buntdb", "kv_get", 400),
		peer("substrate", "kv_put", 200), peer("buntdb", "kv_put", 1000),
	}
	cases := []Case{
		{Name: "kvstore_get", Tier: "B", Group: "kvstore", Gate: "none", Run: func(b *testing.B) {
			for range b.N {
			}
		}},
		{Name: "kvstore_put", Tier: "B", Group: "kvstore", Gate: "none", Run: func(b *testing.B) {
			for range b.N {
			}
		}},
	}
	for _, count := range []int{1, 2} {
		calls = nil
		var out bytes.Buffer
		rep, err := run(Options{BenchTime: "3x", Count: count, WithPeers: true, Stdout: &out}, cases, nil, peers)
		if err != nil {
			t.Fatal(err)
		}
		rounds, _ := interleavedSchedule("3x", count, peerBRounds) // checked below
		var want []string
		for _, op := range []string{"kv_get", "kv_put"} {
			for range rounds {
				want = append(want, "substrate/"+op, "buntdb/"+op)
			}
		}
		if !slices.Equal(calls, want) {
			t.Errorf("count %d: runs in order %v, want %v", count, calls, want)
		}
		for _, p := range rep.PeersB {
			if p.Figure.Runs != rounds {
				t.Errorf("count %d: %s has %d runs, want %d", count, p.Name, p.Figure.Runs, rounds)
			}
		}
		if len(rep.KVPeers) != 2 || rep.KVPeers[0].Ratios["buntdb"] != 0.25 || rep.KVPeers[1].Ratios["buntdb"] != 0.2 {
			t.Errorf("count %d: ratios %+v", count, rep.KVPeers)
		}
		if !strings.Contains(out.String(), "median of "+strconv.Itoa(rounds)+" rounds in which the stores") {
			t.Errorf("count %d: the report does not say how the figures were taken:\n%s", count, out.String())
		}
	}
	if r, bt := interleavedSchedule("1s", 1, 3); r != 3 || bt != "333.333333ms" {
		t.Errorf("interleavedSchedule(1s, 1, 3) = %d, %q", r, bt)
	}
	if r, bt := interleavedSchedule("1s", 1, 5); r != 5 || bt != "200ms" {
		t.Errorf("interleavedSchedule(1s, 1, 5) = %d, %q", r, bt)
	}
	if r, bt := interleavedSchedule("100x", 1, 3); r != 3 || bt != "100x" {
		t.Errorf("interleavedSchedule(100x, 1, 3) = %d, %q", r, bt)
	}
	if r, bt := interleavedSchedule("1s", 5, 3); r != 5 || bt != "1s" {
		t.Errorf("interleavedSchedule(1s, 5, 3) = %d, %q", r, bt)
	}
}
