package bench

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/substrate-lab/substrate/prims"
)

// Index amplification (plan Category 10, Tier C) and the TraceStore and
// RunIndex memory figures (Category 7, observability only).
//
// index_amp_trace_N_tags is tracestore_record_minimal with N tags (the same
// loop: runTraceRecords): each tag is one more index, an append to the
// tag's list (its tail record rewritten, and every 16th append a sealed
// chunk), so (5_tags - 0_tags) / 5 is the cost of one index. Our goal is
// under 1 µs per index; the OurGoal figures below assume 0.5 µs.
//
// The size cases are measured once per invocation, like the mem_ cases (run
// them with -benchtime 1x; see reportMemFigure):
//
//   - mem_bytes_per_trace (B/trace): growth of the live heap (after full
//     GCs) per trace, recording memTraceRuns x memTracesPerRun traces, 100
//     per transaction: root Thoughts with 64-byte contents, 2 tags each
//     (of a pool of 16), times in order. Bodies and tag strings are built
//     before and kept alive, so only the store's own bytes count: the trace
//     record and version, its copy of the tag slice, the kind and tag list
//     entries, and the count records' share.
//   - mem_bytes_per_run (B/run): the same for memRuns runs created 100 per
//     transaction with 2 tags and 2 metadata entries each (strings built
//     before): the run record and version, its copies of the tag slice and
//     the metadata map, the sequence mapping, and the bitmaps' share.
//   - index_amp_ratio_trace (written/payload): heap bytes allocated
//     (MemStats.TotalAlloc) while recording ampTraces such traces, one per
//     db.Update, divided by their payload bytes; a trace's payload is its
//     content's bytes, 8 for the confidence, its tags' bytes and 8 for its
//     time. Allocations are what the write costs the allocator and the GC,
//     garbage included (map growth, index copies); the retained share is
//     reported too (retained/payload).
//   - index_amp_ratio_run (written/metadata): heap bytes allocated while
//     creating ampRuns such runs, one per db.Update, divided by their
//     metadata bytes: tag bytes plus metadata key and value bytes.

// The sizes of the size cases; a race build (whose figures mean nothing)
// uses a tenth, through raceSized, to keep go test -race ./bench short.
const (
	memTraceRuns    = 100
	memTracesPerRun = 1000
	memRuns         = 10_000
	ampTraces       = 10_000
	ampRuns         = 10_000
)

// raceSized returns n, or n/10 in a race build.
func raceSized(n int) int {
	if raceEnabled {
		return n / 10
	}
	return n
}

func indexAmpCases() []Case {
	tags := func(n int) func(*testing.B) { return func(b *testing.B) { runTraceRecords(b, n) } }
	return []Case{
		{
			Name: "index_amp_trace_0_tags", Tier: "C", Group: "index_amp", Gate: tierCGate,
			PlanGoal: us(15), OurGoal: ns(2500), Run: tags(0),
		},
		{
			Name: "index_amp_trace_1_tag", Tier: "C", Group: "index_amp", Gate: tierCGate,
			PlanGoal: us(18), OurGoal: us(3), Run: tags(1),
		},
		{
			Name: "index_amp_trace_3_tags", Tier: "C", Group: "index_amp", Gate: tierCGate,
			PlanGoal: us(25), OurGoal: us(4), Run: tags(3),
		},
		{
			Name: "index_amp_trace_5_tags", Tier: "C", Group: "index_amp", Gate: tierCGate,
			PlanGoal: us(35), OurGoal: us(5), Run: tags(5),
		},
		{
			Name: "mem_bytes_per_trace", Tier: "C", Group: "mem", Gate: "none",
			Metric: "B/trace", Run: benchMemBytesPerTrace,
		},
		{
			Name: "mem_bytes_per_run", Tier: "C", Group: "mem", Gate: "none",
			Metric: "B/run", Run: benchMemBytesPerRun,
		},
		{
			Name: "index_amp_ratio_trace", Tier: "C", Group: "index_amp", Gate: "none",
			Metric: "written/payload", Run: benchIndexAmpRatioTrace,
		},
		{
			Name: "index_amp_ratio_run", Tier: "C", Group: "index_amp", Gate: "none",
			Metric: "written/metadata", Run: benchIndexAmpRatioRun,
		},
	}
}

// reportSize finishes a size case as reportMemFigure does, with the
// figure under unit and any extra figures.
func reportSize(b *testing.B, unit string, v float64, extra map[string]float64) {
	for b.Loop() {
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(v, unit)
	for u, x := range extra {
		b.ReportMetric(x, u)
	}
}

// heapNow returns the live heap after two full GCs.
func heapNow() (live, total uint64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.TotalAlloc
}

// sizedTrace is a benchmark trace with its payload size.
type sizedTrace struct {
	tr      prims.Trace
	payload int
}

// sizedTraces returns n traces as the size cases record them.
func sizedTraces(n int) []sizedTrace {
	bodies := traceBodies(n)
	tags := traceTagSets(16, 2)
	out := make([]sizedTrace, n)
	for i := range out {
		tr := prims.Trace{Time: traceEpoch.Add(time.Duration(i) * time.Millisecond), Tags: tags[i%len(tags)], Body: bodies[i]}
		p := len(bodies[i].(prims.Thought).Content) + 8 + 8
		for _, t := range tr.Tags {
			p += len(t)
		}
		out[i] = sizedTrace{tr, p}
	}
	return out
}

// benchMemBytesPerTrace reports B/trace; see the file comment.
func benchMemBytesPerTrace(b *testing.B) {
	b.ReportAllocs()
	db := openBenchDB(b)
	traces := db.Traces()
	runs := benchRuns(raceSized(memTraceRuns))
	ts := sizedTraces(memTracesPerRun)
	before, _ := heapNow()
	for _, run := range runs {
		for lo := 0; lo < memTracesPerRun; lo += 100 {
			err := db.Update(func(tx *prims.Tx) error {
				for _, t := range ts[lo : lo+100] {
					if _, err := traces.Record(tx, run, t.tr); err != nil {
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
	after, _ := heapNow()
	n := 0
	_ = db.View(func(tx *prims.Tx) error {
		for _, run := range runs {
			n += traces.Len(tx, run)
		}
		return nil
	})
	if n != len(runs)*memTracesPerRun {
		b.Fatalf("runs hold %d traces, want %d", n, len(runs)*memTracesPerRun)
	}
	runtime.KeepAlive(ts)
	reportSize(b, "B/trace", (float64(after)-float64(before))/float64(n), nil)
}

// benchIndexAmpRatioTrace reports written/payload; see the file comment.
func benchIndexAmpRatioTrace(b *testing.B) {
	b.ReportAllocs()
	db := openBenchDB(b)
	traces := db.Traces()
	runs := benchRuns(100)
	ts := sizedTraces(raceSized(ampTraces))
	var (
		run prims.RunID
		tr  prims.Trace
	)
	record := func(tx *prims.Tx) error {
		_, err := traces.Record(tx, run, tr)
		return err
	}
	payload := 0
	live0, total0 := heapNow()
	for i, t := range ts {
		run, tr = runs[i%len(runs)], t.tr
		if err := db.Update(record); err != nil {
			b.Fatal(err)
		}
		payload += t.payload
	}
	live1, total1 := heapNow()
	runtime.KeepAlive(ts)
	reportSize(b, "written/payload", float64(total1-total0)/float64(payload), map[string]float64{
		"retained/payload": (float64(live1) - float64(live0)) / float64(payload),
		"payload-B/trace":  float64(payload) / float64(len(ts)),
	})
}

// sizedRuns returns n RunOptions as the size cases create them, with their
// metadata bytes.
func sizedRuns(n int) ([]prims.RunOptions, int) {
	tags := traceTagSets(16, 2)
	opts := make([]prims.RunOptions, n)
	bytes := 0
	for i := range opts {
		o := prims.RunOptions{
			Tags: tags[i%len(tags)],
			Metadata: map[string]string{
				"model": fmt.Sprintf("model-%04d", i%100),
				"owner": fmt.Sprintf("agent-%06d", i),
			},
		}
		for _, t := range o.Tags {
			bytes += len(t)
		}
		for k, v := range o.Metadata {
			bytes += len(k) + len(v)
		}
		opts[i] = o
	}
	return opts, bytes
}

// benchMemBytesPerRun reports B/run; see the file comment.
func benchMemBytesPerRun(b *testing.B) {
	b.ReportAllocs()
	db := openBenchDB(b)
	runs := db.Runs()
	opts, _ := sizedRuns(raceSized(memRuns))
	before, _ := heapNow()
	for lo := 0; lo < len(opts); lo += 100 {
		err := db.Update(func(tx *prims.Tx) error {
			for _, o := range opts[lo : lo+100] {
				if _, err := runs.Create(tx, o); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	after, _ := heapNow()
	var n int
	_ = db.View(func(tx *prims.Tx) error {
		ids, _ := runs.QueryByStatus(tx, prims.Active)
		n = len(ids)
		return nil
	})
	if n != len(opts) {
		b.Fatalf("%d runs active, want %d", n, len(opts))
	}
	runtime.KeepAlive(opts)
	reportSize(b, "B/run", (float64(after)-float64(before))/float64(n), nil)
}

// benchIndexAmpRatioRun reports written/metadata; see the file comment.
func benchIndexAmpRatioRun(b *testing.B) {
	b.ReportAllocs()
	db := openBenchDB(b)
	runs := db.Runs()
	opts, metaBytes := sizedRuns(raceSized(ampRuns))
	var o prims.RunOptions
	create := func(tx *prims.Tx) error {
		_, err := runs.Create(tx, o)
		return err
	}
	live0, total0 := heapNow()
	for _, o = range opts {
		if err := db.Update(create); err != nil {
			b.Fatal(err)
		}
	}
	live1, total1 := heapNow()
	runtime.KeepAlive(opts)
	reportSize(b, "written/metadata", float64(total1-total0)/float64(metaBytes), map[string]float64{
		"retained/metadata": (float64(live1) - float64(live0)) / float64(metaBytes),
		"metadata-B/run":    float64(metaBytes) / float64(len(opts)),
	})
}
