package bench

import (
	"runtime"
	"testing"
	"time"

	"github.com/substrate-lab/substrate/prims"
)

// EventLog cases (plan Category 8) and its memory figure (Category 7).
// Payloads are 64-byte []byte values generated before the timer (a []byte
// payload is hashed as it is: no codec).

const (
	// eventPayloadSize is the payload of every benchmark event.
	eventPayloadSize = 64
	// eventAppendRuns is the number of runs eventlog_append cycles over.
	eventAppendRuns = 1000
	// eventReadRuns x eventReadPerRun events back eventlog_read and
	// eventlog_read_range/100 (10,000 events, the usual key count).
	eventReadRuns   = 100
	eventReadPerRun = 100
	// eventVerifyRuns logs of eventVerifyLen events back
	// eventlog_verify_chain/1000.
	eventVerifyRuns = 4
	eventVerifyLen  = 1000
	// memEventRuns x memEventsPerRun events are measured by
	// mem_bytes_per_event.
	memEventRuns    = 100
	memEventsPerRun = 1000
)

func eventlogCases() []Case {
	return []Case{
		{
			Name: "eventlog_append", Tier: "B", Group: "eventlog", Gate: tierBGate,
			PlanGoal: us(10), OurGoal: ns(1500), Run: benchEventAppend,
		},
		{
			Name: "eventlog_read", Tier: "B", Group: "eventlog", Gate: tierBGate,
			PlanGoal: us(5), OurGoal: ns(200), Run: benchEventRead,
		},
		{
			Name: "eventlog_read_range/100", Tier: "B", Group: "eventlog", Gate: tierBGate,
			PlanGoal: us(100), OurGoal: us(15), Run: benchEventReadRange,
		},
		{
			Name: "eventlog_verify_chain/1000", Tier: "B", Group: "eventlog", Gate: tierBGate,
			PlanGoal: 2 * time.Millisecond, OurGoal: us(500), Run: benchEventVerifyChain,
		},
		{
			// A size, observability only (plan Category 7).
			Name: "mem_bytes_per_event", Tier: "B", Group: "mem", Gate: "none",
			Metric: "B/event", Run: benchMemBytesPerEvent,
		},
	}
}

// eventPayloads returns n distinct payloads of eventPayloadSize bytes.
func eventPayloads(n int) [][]byte {
	keys := randomKeys(n)
	out := make([][]byte, n)
	for i := range out {
		p := make([]byte, eventPayloadSize)
		for j := range p {
			p[j] = byte(keys[i] >> (8 * (j % 8)))
		}
		out[i] = p
	}
	return out
}

func newEventLog(b *testing.B, db *prims.DB) *prims.EventLog[[]byte] {
	l, err := prims.NewEventLog[[]byte](db, "events")
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// fillEvents appends perRun events to every run, one transaction of up to
// 100 appends at a time, payloads cycling over payloads.
func fillEvents(b *testing.B, db *prims.DB, l *prims.EventLog[[]byte], runs []prims.RunID, perRun int, payloads [][]byte) {
	p := 0
	for _, run := range runs {
		for lo := 0; lo < perRun; lo += 100 {
			err := db.Update(func(tx *prims.Tx) error {
				for range min(100, perRun-lo) {
					if _, err := l.Append(tx, run, "step", payloads[p%len(payloads)]); err != nil {
						return err
					}
					p++
				}
				return nil
			})
			if err != nil {
				b.Fatalf("fill: %v", err)
			}
		}
	}
}

// benchEventAppend: db.Update + EventLog.Append of a 64-byte payload to one
// of 1,000 runs (cycling), + commit: the head read and write, the SHA-256
// chain hash, a new event record. Every append creates a record, so the
// store grows by b.N events (its growth is part of the figure, as for any
// log). The log lengths must equal the appends made.
func benchEventAppend(b *testing.B) {
	db := openBenchDB(b)
	l := newEventLog(b, db)
	runs := benchRuns(eventAppendRuns)
	payloads := eventPayloads(256)
	b.ReportAllocs()
	var (
		run     prims.RunID
		payload []byte
	)
	appendOne := func(tx *prims.Tx) error {
		_, err := l.Append(tx, run, "step", payload)
		return err
	}
	failures := 0
	for i := range runs { // warm-up: one event per run
		run, payload = runs[i], payloads[i%len(payloads)]
		if db.Update(appendOne) != nil {
			failures++
		}
	}
	b.ResetTimer()
	r := 0
	for i := range b.N {
		run, payload = runs[r], payloads[i%len(payloads)]
		if db.Update(appendOne) != nil {
			failures++
		}
		r++
		if r == len(runs) {
			r = 0
		}
	}
	b.StopTimer()
	if failures != 0 {
		b.Fatalf("%d appends failed; single-goroutine appends never conflict", failures)
	}
	var total uint64
	_ = db.View(func(tx *prims.Tx) error {
		for _, run := range runs {
			total += l.Len(tx, run)
		}
		return nil
	})
	if want := uint64(len(runs) + b.N); total != want {
		b.Fatalf("logs hold %d events after %d appends", total, want)
	}
}

// eventReadFixture is 100 runs of 100 events each.
func eventReadFixture(b *testing.B) (*prims.DB, *prims.EventLog[[]byte], []prims.RunID) {
	db := openBenchDB(b)
	l := newEventLog(b, db)
	runs := benchRuns(eventReadRuns)
	fillEvents(b, db, l, runs, eventReadPerRun, eventPayloads(256))
	return db, l, runs
}

// benchEventRead: db.View + EventLog.Read of one present event, cycling
// over the 10,000 events in a shuffled order.
func benchEventRead(b *testing.B) {
	db, l, runs := eventReadFixture(b)
	order := shuffled(denseKeys(len(runs) * eventReadPerRun))
	b.ReportAllocs()
	var (
		run prims.RunID
		seq uint64
		e   prims.Event[[]byte]
		ok  bool
		sum uint64
	)
	read := func(tx *prims.Tx) error {
		e, ok = l.Read(tx, run, seq)
		return nil
	}
	bad := 0
	one := func(j uint64) {
		run, seq = runs[j/eventReadPerRun], j%eventReadPerRun
		if db.View(read) != nil || !ok || e.Seq != seq {
			bad++
		}
		sum += uint64(len(e.Payload))
	}
	for _, j := range order {
		one(j)
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		one(order[i])
		i++
		if i == len(order) {
			i = 0
		}
	}
	b.StopTimer()
	sink = sum
	if bad != 0 {
		b.Fatalf("%d reads missed a present event", bad)
	}
}

// benchEventReadRange: db.View + EventLog.ReadRange(run, 0, 100) of a
// 100-event log: a head read, 100 point reads and the result slice (one
// allocation of 100 events, the caller's).
func benchEventReadRange(b *testing.B) {
	db, l, runs := eventReadFixture(b)
	b.ReportAllocs()
	var (
		run prims.RunID
		es  []prims.Event[[]byte]
		sum uint64
	)
	readRange := func(tx *prims.Tx) error {
		var err error
		es, err = l.ReadRange(tx, run, 0, eventReadPerRun)
		return err
	}
	bad := 0
	for _, r := range runs {
		run = r
		if db.View(readRange) != nil || len(es) != eventReadPerRun {
			bad++
		}
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		run = runs[i]
		if db.View(readRange) != nil || len(es) != eventReadPerRun {
			bad++
		}
		sum += es[len(es)-1].Seq
		i++
		if i == len(runs) {
			i = 0
		}
	}
	b.StopTimer()
	sink = sum
	if bad != 0 {
		b.Fatalf("%d ranges came back short", bad)
	}
}

// benchEventVerifyChain: db.View + EventLog.VerifyChain of a 1,000-event
// log: 1,000 point reads, re-encodings and SHA-256 hashes.
func benchEventVerifyChain(b *testing.B) {
	db := openBenchDB(b)
	l := newEventLog(b, db)
	runs := benchRuns(eventVerifyRuns)
	fillEvents(b, db, l, runs, eventVerifyLen, eventPayloads(256))
	b.ReportAllocs()
	var (
		run prims.RunID
		res prims.ChainResult
	)
	verify := func(tx *prims.Tx) error {
		var err error
		res, err = l.VerifyChain(tx, run)
		return err
	}
	bad := 0
	for _, r := range runs {
		run = r
		if db.View(verify) != nil || !res.Valid || res.Length != eventVerifyLen {
			bad++
		}
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		run = runs[i]
		if db.View(verify) != nil || !res.Valid || res.Length != eventVerifyLen {
			bad++
		}
		i++
		if i == len(runs) {
			i = 0
		}
	}
	b.StopTimer()
	if bad != 0 {
		b.Fatalf("%d verifications failed", bad)
	}
}

// benchMemBytesPerEvent reports the live heap per event (B/event): 100 runs
// of 1,000 events with 64-byte payloads, appended 100 per transaction; the
// live-heap growth (after full GCs) over the appends, divided by the event
// count. The payloads are allocated before the first reading and kept
// alive, so the figure is the log's own overhead: the event value (type,
// timestamp, two hashes, the payload's slice header), its version node and
// record, the map slot, and the run heads. A size, measured once per
// invocation (run with -benchtime 1x; see reportMemFigure).
func benchMemBytesPerEvent(b *testing.B) {
	b.ReportAllocs()
	db := openBenchDB(b)
	l := newEventLog(b, db)
	runs := benchRuns(memEventRuns)
	payloads := eventPayloads(memEventRuns * memEventsPerRun)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	fillEvents(b, db, l, runs, memEventsPerRun, payloads)
	runtime.GC()
	runtime.ReadMemStats(&after)
	events := float64(memEventRuns * memEventsPerRun)
	perEvent := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / events
	var n uint64
	_ = db.View(func(tx *prims.Tx) error {
		for _, run := range runs {
			n += l.Len(tx, run)
		}
		return nil
	})
	if n != memEventRuns*memEventsPerRun {
		b.Fatalf("logs hold %d events, want %d", n, memEventRuns*memEventsPerRun)
	}
	runtime.KeepAlive(payloads)
	for b.Loop() {
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(perEvent, "B/event")
}
