package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/substrate-lab/substrate/prims"
)

// TraceStore cases (plan Tier C, Categories 8 and 10) and the four-primitive
// transaction of Category 9 (Tier B). Same honesty rules as the Tier B
// cases: runs, tags, bodies (already boxed in the Body interface) and times
// are generated before the timer, the db.Update/db.View closure is built
// once, a warm-up pass runs first, results go to sink, and a failed
// transaction or a wrong result fails the benchmark.
//
// State growth. Every Record appends a trace, so the record cases grow
// their runs. Record is O(1) in the run's length (append-only lists; the
// time index needs no write when times arrive in order, as they do here),
// and the growth is bounded: every traceResetEvery iterations the timer
// stops and every run is deleted and registered again (RunIndex.Delete +
// Create with the same ID), so IDs, and therefore the trace and index keys,
// are reused and the stores stop growing.

const (
	// traceRuns is the number of runs the record cases cycle over.
	traceRuns = 1000
	// traceResetEvery is the number of timed Records between resets.
	traceResetEvery = 1 << 16
	// traceContentSize is the length of every Thought's content.
	traceContentSize = 64
	// queryRuns runs of queryTraces traces over the six kinds back
	// tracestore_query_by_type.
	queryRuns   = 16
	queryTraces = 1000
	// treeRuns runs holding one 13-node tree each back tracestore_get_tree.
	treeRuns = 100
)

func tracestoreCases() []Case {
	return []Case{
		{
			Name: "tracestore_record_minimal", Tier: "C", Group: "tracestore", Gate: tierCGate,
			PlanGoal: us(20), OurGoal: ns(2500), Run: benchTraceRecordMinimal,
		},
		{
			Name: "tracestore_record_3_tags", Tier: "C", Group: "tracestore", Gate: tierCGate,
			PlanGoal: us(40), OurGoal: us(4), Run: benchTraceRecord3Tags,
		},
		{
			// Setup: 16 runs, each holding 1,000 traces spread round-robin
			// over the 6 kinds (166 or 167 per kind); each query returns
			// one kind of one run.
			Name: "tracestore_query_by_type", Tier: "C", Group: "tracestore", Gate: tierCGate,
			PlanGoal: us(200), OurGoal: us(40), Run: benchTraceQueryByType,
		},
		{
			// 13 nodes: root, 3 children, 9 grandchildren.
			Name: "tracestore_get_tree", Tier: "C", Group: "tracestore", Gate: tierCGate,
			PlanGoal: us(150), OurGoal: us(10), Run: benchTraceGetTree,
		},
	}
}

// crossAllCases is cross_txn_all_primitives (plan Category 9, Tier B).
func crossAllCases() []Case {
	return []Case{{
		Name: "cross_txn_all_primitives", Tier: "B", Group: "cross", Gate: tierBGate,
		PlanGoal: 40 * time.Microsecond, OurGoal: 5 * time.Microsecond, Run: benchCrossAllPrimitives,
	}}
}

// tierCGate names the plan's Tier C rule: a warning above the M3 target,
// no hard block.
const tierCGate = "warn>M3 target"

// traceBodies returns n Thought bodies with distinct 64-byte contents,
// boxed once (storing a struct in an interface allocates).
func traceBodies(n int) []prims.Body {
	keys := randomKeys(n)
	out := make([]prims.Body, n)
	for i := range out {
		c := make([]byte, traceContentSize)
		for j := range c {
			c[j] = 'a' + byte(keys[i]>>(j%8*8))%26
		}
		out[i] = prims.Thought{Content: string(c), Confidence: 0.5}
	}
	return out
}

// traceTagSets returns n tag sets of k tags each, drawn from a pool of 16
// tags ("tag-00" ...), k distinct tags per set.
func traceTagSets(n, k int) [][]string {
	if k == 0 {
		return [][]string{nil}
	}
	pool := make([]string, 16)
	for i := range pool {
		pool[i] = fmt.Sprintf("tag-%02d", i)
	}
	out := make([][]string, n)
	for i := range out {
		for j := range k {
			out[i] = append(out[i], pool[(i+j*5)%len(pool)])
		}
	}
	return out
}

// traceEpoch is the time of the first benchmark trace.
var traceEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// traceRecordFixture is a DB whose traceRuns runs are registered in the
// RunIndex (so that reset can delete their traces), with bodies and tag
// sets generated.
type traceRecordFixture struct {
	db     *prims.DB
	traces *prims.TraceStore
	runs   []prims.RunID
	bodies []prims.Body
	tags   [][]string
}

func newTraceRecordFixture(b *testing.B, tags int) *traceRecordFixture {
	f := &traceRecordFixture{
		db:     openBenchDB(b),
		runs:   benchRuns(traceRuns),
		bodies: traceBodies(256),
		tags:   traceTagSets(64, tags),
	}
	f.traces = f.db.Traces()
	err := f.db.Update(func(tx *prims.Tx) error {
		for _, run := range f.runs {
			if _, err := f.db.Runs().Create(tx, prims.RunOptions{ID: run}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// reset deletes every run (and so its traces) and registers it again.
func (f *traceRecordFixture) reset(b *testing.B) {
	for _, run := range f.runs {
		err := f.db.Update(func(tx *prims.Tx) error {
			if err := f.db.Runs().Delete(tx, run); err != nil {
				return err
			}
			_, err := f.db.Runs().Create(tx, prims.RunOptions{ID: run})
			return err
		})
		if err != nil {
			b.Fatalf("reset: %v", err)
		}
	}
}

// runTraceRecords is the timed loop of the record cases: one db.Update
// with one Record per iteration, runs cycling, times increasing by 1 µs per
// trace (in order: the common case), a warm-up pass over every run first,
// and a reset every traceResetEvery iterations with the timer stopped. The
// traces recorded must all be there at the end.
func runTraceRecords(b *testing.B, tags int) {
	f := newTraceRecordFixture(b, tags)
	b.ReportAllocs()
	var (
		run prims.RunID
		tr  prims.Trace
	)
	record := func(tx *prims.Tx) error {
		_, err := f.traces.Record(tx, run, tr)
		return err
	}
	failures := 0
	step := func(i int) {
		run = f.runs[i%len(f.runs)]
		tr = prims.Trace{Time: traceEpoch.Add(time.Duration(i) * time.Microsecond), Tags: f.tags[i%len(f.tags)], Body: f.bodies[i%len(f.bodies)]}
		if f.db.Update(record) != nil {
			failures++
		}
	}
	for i := range f.runs {
		step(i)
	}
	f.reset(b)
	b.ResetTimer()
	since := 0
	for i := range b.N {
		if since == traceResetEvery {
			b.StopTimer()
			f.reset(b)
			since = 0
			b.StartTimer()
		}
		step(i)
		since++
	}
	b.StopTimer()
	if failures != 0 {
		b.Fatalf("%d Records failed; single-goroutine Records never conflict", failures)
	}
	total := 0
	_ = f.db.View(func(tx *prims.Tx) error {
		for _, r := range f.runs {
			total += f.traces.Len(tx, r)
		}
		return nil
	})
	if total != since {
		b.Fatalf("runs hold %d traces after %d Records since the last reset", total, since)
	}
}

// benchTraceRecordMinimal: db.Update + Record of a root Thought (64-byte
// content) without tags into one of 1,000 runs: the trace and two indexes
// (kind, and time, which needs no write when times arrive in order): three
// records written (the trace, the run's head, the kind list's tail).
func benchTraceRecordMinimal(b *testing.B) { runTraceRecords(b, 0) }

// benchTraceRecord3Tags: as tracestore_record_minimal with 3 tags (from a
// pool of 16): five indexes, six records written (three tag-list tails
// more); Record copies the tag slice (one allocation).
func benchTraceRecord3Tags(b *testing.B) { runTraceRecords(b, 3) }

// benchTraceQueryByType: db.View + QueryByType returning one kind of one
// run (166 or 167 traces of 1,000; see the Case), cycling over the 16 runs
// x 6 kinds in a shuffled order. The traces are recorded round-robin over
// the kinds, 100 per transaction, with 1 tag each. The result is a fresh
// []Trace (one allocation, plus one for the tag copies).
func benchTraceQueryByType(b *testing.B) {
	db := openBenchDB(b)
	traces := db.Traces()
	runs := benchRuns(queryRuns)
	kinds := []prims.Body{
		prims.ToolCall{Tool: "search", Arguments: map[string]any{"q": "x"}, Result: "ok", Duration: time.Millisecond},
		prims.Decision{Question: "q", Options: []string{"a", "b"}, Chosen: "a"},
		prims.Query{Kind: "vector", Text: "x", ResultCount: 3},
		prims.Thought{Content: "hmm", Confidence: 0.5},
		prims.ErrorTrace{Kind: "timeout", Message: "slow", Recoverable: true},
		prims.Custom{Name: "note", Data: 1},
	}
	tags := traceTagSets(16, 1)
	for _, run := range runs {
		for lo := 0; lo < queryTraces; lo += 100 {
			err := db.Update(func(tx *prims.Tx) error {
				for i := lo; i < lo+100; i++ {
					tr := prims.Trace{Time: traceEpoch.Add(time.Duration(i) * time.Second), Tags: tags[i%len(tags)], Body: kinds[i%len(kinds)]}
					if _, err := traces.Record(tx, run, tr); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	type q struct {
		run  prims.RunID
		kind prims.Kind
		want int
	}
	var qs []q
	for _, i := range shuffled(denseKeys(queryRuns * len(kinds))) {
		k := int(i) % len(kinds)
		want := queryTraces / len(kinds)
		if k < queryTraces%len(kinds) {
			want++
		}
		qs = append(qs, q{runs[int(i)/len(kinds)], prims.Kind(k + 1), want})
	}
	b.ReportAllocs()
	var (
		cur q
		got []prims.Trace
		err error
	)
	query := func(tx *prims.Tx) error {
		got, err = traces.QueryByType(tx, cur.run, cur.kind)
		return err
	}
	bad := 0
	var sum uint64
	for _, c := range qs {
		cur = c
		if db.View(query) != nil || len(got) != c.want {
			bad++
		}
	}
	if bad != 0 {
		b.Fatalf("warm-up: %d of %d queries wrong", bad, len(qs))
	}
	b.ResetTimer()
	j := 0
	for range b.N {
		cur = qs[j]
		if db.View(query) != nil || len(got) != cur.want {
			bad++
		}
		sum += uint64(len(got))
		j++
		if j == len(qs) {
			j = 0
		}
	}
	b.StopTimer()
	sink = sum
	if bad != 0 {
		b.Fatalf("%d of %d queries failed or returned a wrong count", bad, b.N)
	}
}

// benchTraceGetTree: db.View + Tree of a 13-node tree (root, 3 children, 9
// grandchildren; 1 tag each), cycling over 100 runs that hold one tree each
// in a shuffled order. Tree reads the root, the 13 children lists and the
// 12 children, and allocates the nested result (4 Children slices and one
// block of tag copies).
func benchTraceGetTree(b *testing.B) {
	db := openBenchDB(b)
	traces := db.Traces()
	runs := benchRuns(treeRuns)
	bodies := traceBodies(13)
	tags := traceTagSets(13, 1)
	for _, run := range runs {
		err := db.Update(func(tx *prims.Tx) error {
			// IDs: root 1; children 2-4; grandchildren 5-13, 3 per child.
			for i := range 13 {
				var parent prims.TraceID
				switch {
				case i >= 4:
					parent = prims.TraceID(2 + (i-4)/3)
				case i >= 1:
					parent = 1
				}
				tr := prims.Trace{Parent: parent, Time: traceEpoch.Add(time.Duration(i) * time.Second), Tags: tags[i], Body: bodies[i]}
				if _, err := traces.Record(tx, run, tr); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	order := shuffled(denseKeys(len(runs)))
	b.ReportAllocs()
	var (
		run  prims.RunID
		tree prims.TraceTree
		ok   bool
	)
	get := func(tx *prims.Tx) error {
		tree, ok = traces.Tree(tx, run, 1)
		return nil
	}
	bad := 0
	var sum uint64
	for _, i := range order {
		run = runs[i]
		if db.View(get) != nil || !ok || tree.Size() != 13 {
			bad++
		}
	}
	if bad != 0 {
		b.Fatalf("warm-up: %d of %d trees wrong", bad, len(order))
	}
	b.ResetTimer()
	j := 0
	for range b.N {
		run = runs[order[j]]
		if db.View(get) != nil || !ok || len(tree.Children) != 3 {
			bad++
		}
		sum += uint64(len(tree.Children[0].Children))
		j++
		if j == len(order) {
			j = 0
		}
	}
	b.StopTimer()
	sink = sum
	if bad != 0 {
		b.Fatalf("%d of %d trees missing or wrong", bad, b.N)
	}
}

// benchCrossAllPrimitives: one db.Update that puts an existing KV entry,
// appends a 64-byte event, transitions the run's state cell (+1) and
// records a root Thought trace (64-byte content, no tags) in the same run:
// four primitives, one atomic commit. The fixture is cross_txn_kv_event's
// (100 runs, 100 KV entries each, a log and a cell per run), cycling over
// the shuffled entries. The event log and the trace list of each run grow
// by one entry per iteration (both O(1) per append, as in
// eventlog_append).
func benchCrossAllPrimitives(b *testing.B) {
	f := newCrossFixture(b)
	traces := f.db.Traces()
	bodies := traceBodies(256)
	inc := func(s uint64) (uint64, error) { return s + 1, nil }
	var (
		op   kvOp
		n    int
		tick time.Duration // trace times only increase (runUpdates restarts n after its warm-up)
	)
	runUpdates(b, f.db, f.ops, 1, &op, nil, &n, func(tx *prims.Tx) error {
		if err := f.kv.Put(tx, op.run, op.key, uint64(n)); err != nil {
			return err
		}
		if _, err := f.log.Append(tx, op.run, "step", f.payloads[n%len(f.payloads)]); err != nil {
			return err
		}
		if _, err := f.cells.Transition(tx, op.run, "step", inc); err != nil {
			return err
		}
		tick += time.Microsecond
		tr := prims.Trace{Time: traceEpoch.Add(tick), Body: bodies[n%len(bodies)]}
		_, err := traces.Record(tx, op.run, tr)
		return err
	})
}
