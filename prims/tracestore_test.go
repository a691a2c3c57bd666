package prims

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/substrate-lab/substrate/mvcc"
	"github.com/substrate-lab/substrate/txn"
)

// traceIDs returns the IDs of ts.
func traceIDs(ts []Trace) []TraceID {
	var out []TraceID
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func tids(n ...TraceID) []TraceID { return n }

var traceEpoch = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func tAt(sec int) time.Time { return traceEpoch.Add(time.Duration(sec) * time.Second) }

func TestKindAndBodies(t *testing.T) {
	bodies := []Body{ToolCall{Tool: "x"}, Decision{}, Query{}, Thought{}, ErrorTrace{}, Custom{Name: "c"}}
	names := []string{"tool_call", "decision", "query", "thought", "error", "custom"}
	for i, b := range bodies {
		k := b.TraceKind()
		if int(k) != i+1 || !k.Valid() || k.String() != names[i] {
			t.Errorf("%T: kind %d %q valid=%v", b, k, k, k.Valid())
		}
		if (Trace{Body: b}).Kind() != k {
			t.Errorf("Trace.Kind of %T", b)
		}
	}
	for _, k := range []Kind{0, 7, 255} {
		if k.Valid() || k.String() != fmt.Sprintf("Kind(%d)", k) {
			t.Errorf("invalid kind %d: valid=%v %q", k, k.Valid(), k)
		}
	}
	if (Trace{}).Kind() != 0 {
		t.Error("Trace without body has a kind")
	}
	tree := TraceTree{Children: []TraceTree{{}, {Children: []TraceTree{{}}}}}
	if tree.Size() != 4 {
		t.Errorf("Size = %d", tree.Size())
	}
}

func TestTraceRecordGet(t *testing.T) {
	db := openDB(t)
	traces := db.Traces()
	if db.Traces() != traces {
		t.Fatal("Traces() is not one store per DB")
	}
	run, other := NewRunID(), NewRunID()
	args := map[string]any{"q": "weather"}
	in := []Trace{
		{Time: tAt(1), Tags: []string{"a", "b", "a"}, Body: ToolCall{Tool: "search", Arguments: args, Result: 3, Duration: time.Millisecond}},
		{Parent: 1, Time: tAt(2), Body: &Decision{Question: "q?", Options: []string{"x", "y"}, Chosen: "y", Reasoning: "r"}},
		{Parent: 1, Time: tAt(3), Tags: []string{"b"}, Body: Query{Kind: "vector", Text: "t", ResultCount: 4}},
		{Parent: 3, Time: tAt(4), Body: Thought{Content: "hmm", Confidence: 0.5}},
		{Time: tAt(5), Body: &ErrorTrace{Kind: "timeout", Message: "m", Recoverable: true}},
		{Body: Custom{Name: "n", Data: []int{1}}}, // zero time: now
	}
	tags0 := in[0].Tags
	before := time.Now()
	mustUpdate(t, db, func(tx *Tx) error {
		for i, tr := range in {
			tr.ID = 99 // ignored
			id, err := traces.Record(tx, run, tr)
			if err != nil {
				return err
			}
			if id != TraceID(i+1) {
				t.Errorf("trace %d got ID %d", i, id)
			}
		}
		// Another run numbers from 1 too.
		if id, err := traces.Record(tx, other, Trace{Body: Thought{}}); id != 1 || err != nil {
			t.Errorf("other run: %d, %v", id, err)
		}
		// Read-your-writes.
		if got, ok := traces.Get(tx, run, 2); !ok || got.Parent != 1 {
			t.Errorf("Get in the writing tx: %+v %v", got, ok)
		}
		return nil
	})
	after := time.Now()
	tags0[0] = "mutated" // the store copied the tags
	mustView(t, db, func(tx *Tx) error {
		if n := traces.Len(tx, run); n != len(in) {
			t.Errorf("Len = %d", n)
		}
		for i, tr := range in {
			got, ok := traces.Get(tx, run, TraceID(i+1))
			if !ok {
				t.Fatalf("trace %d missing", i+1)
			}
			want := tr
			want.ID = TraceID(i + 1)
			switch b := tr.Body.(type) { // pointers are stored as values
			case *Decision:
				want.Body = *b
			case *ErrorTrace:
				want.Body = *b
			}
			if i == 0 {
				want.Tags = []string{"a", "b"} // duplicates dropped
			}
			if i == 5 {
				if got.Time.Before(before.Round(0).Truncate(time.Microsecond)) || got.Time.After(after) {
					t.Errorf("zero time became %v, not now (%v..%v)", got.Time, before, after)
				}
				want.Time = got.Time
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("trace %d:\n got %+v\nwant %+v", i+1, got, want)
			}
		}
		// Tags out are copies.
		got, _ := traces.Get(tx, run, 1)
		got.Tags[0] = "x"
		if again, _ := traces.Get(tx, run, 1); again.Tags[0] != "a" {
			t.Error("Get's Tags alias the store")
		}
		for _, id := range []TraceID{0, 7} {
			if _, ok := traces.Get(tx, run, id); ok {
				t.Errorf("Get(%d) found", id)
			}
		}
		if _, ok := traces.Get(tx, RunID{}, 1); ok {
			t.Error("Get(zero run) found")
		}
		if _, ok := traces.Get(tx, NewRunID(), 1); ok {
			t.Error("Get(unknown run) found")
		}
		return nil
	})
}

func TestTraceRecordErrors(t *testing.T) {
	db := openDB(t)
	traces := db.Traces()
	run := NewRunID()
	ok := Trace{Body: Thought{Content: "ok"}}
	tx := db.Begin()
	defer tx.Rollback()
	for _, c := range []struct {
		what   string
		run    RunID
		tr     Trace
		target error
	}{
		{"zero run", RunID{}, ok, ErrInvalid},
		{"nil body", run, Trace{}, ErrInvalid},
		{"nil *ToolCall", run, Trace{Body: (*ToolCall)(nil)}, ErrInvalid},
		{"nil *Thought", run, Trace{Body: (*Thought)(nil)}, ErrInvalid},
		{"empty tool", run, Trace{Body: ToolCall{}}, ErrInvalid},
		{"empty tool via pointer", run, Trace{Body: &ToolCall{}}, ErrInvalid},
		{"empty custom name", run, Trace{Body: Custom{}}, ErrInvalid},
		{"empty tag", run, Trace{Tags: []string{"a", ""}, Body: Thought{}}, ErrInvalid},
		{"time too early", run, Trace{Time: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), Body: Thought{}}, ErrInvalid},
		{"time too late", run, Trace{Time: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), Body: Thought{}}, ErrInvalid},
		{"missing parent", run, Trace{Parent: 1, Body: Thought{}}, ErrNotFound},
	} {
		id, err := traces.Record(tx, c.run, c.tr)
		if id != 0 {
			t.Errorf("%s: id %d", c.what, id)
		}
		wantErr(t, c.what, err, c.target)
	}
	// The failures wrote nothing and did not poison tx.
	if id, err := traces.Record(tx, run, ok); id != 1 || err != nil {
		t.Fatalf("Record after failures: %d, %v", id, err)
	}
	if _, err := traces.Record(tx, run, Trace{Parent: 2, Body: Thought{}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("parent 2 of a run with 1 trace: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	_, err := traces.Record(tx, run, ok)
	wantErr(t, "Record on a committed tx", err, ErrTxDone)
	_, err = traces.Record(nil, run, ok)
	wantErr(t, "Record(nil tx)", err, ErrInvalid)
	other := openDB(t)
	otx := other.Begin()
	_, err = traces.Record(otx, run, ok)
	wantErr(t, "Record with a foreign tx", err, ErrInvalid)
	otx.Rollback()
	mustView(t, db, func(tx *Tx) error {
		_, err := traces.Record(tx, run, ok)
		wantErr(t, "Record in View", err, ErrReadOnly)
		_, err = traces.QueryByType(tx, run, 0)
		wantErr(t, "QueryByType(0)", err, ErrInvalid)
		_, err = traces.QueryByType(tx, RunID{}, KindThought)
		wantErr(t, "QueryByType(zero run)", err, ErrInvalid)
		_, err = traces.QueryByTag(tx, run, "")
		wantErr(t, "QueryByTag(empty)", err, ErrInvalid)
		_, err = traces.Children(tx, run, 0)
		wantErr(t, "Children(0)", err, ErrInvalid)
		_, err = traces.Children(tx, run, 2)
		wantErr(t, "Children(missing)", err, ErrNotFound)
		_, err = traces.QueryByTime(tx, run, tAt(2), tAt(1))
		wantErr(t, "QueryByTime(from > to)", err, ErrInvalid)
		if n := traces.Len(tx, run); n != 1 {
			t.Errorf("Len = %d after one good Record", n)
		}
		return nil
	})
	_, err = traces.QueryByTag(tx, run, "a")
	wantErr(t, "QueryByTag on a committed tx", err, ErrTxDone)
	var nilStore *DB
	_, err = nilStore.Traces().Record(db.Begin(), run, ok)
	wantErr(t, "Record on a nil DB's store", err, ErrInvalid)
	db.Close()
	tx2 := db.Begin()
	_, err = traces.Record(tx2, run, ok)
	wantErr(t, "Record after Close", err, ErrClosed)
	_, err = traces.QueryByType(tx2, run, KindThought)
	wantErr(t, "QueryByType after Close", err, ErrClosed)
}

func TestTraceQueries(t *testing.T) {
	db := openDB(t)
	traces := db.Traces()
	run, other := NewRunID(), NewRunID()
	mustUpdate(t, db, func(tx *Tx) error {
		rec := func(r RunID, parent TraceID, tags []string, b Body) {
			if _, err := traces.Record(tx, r, Trace{Parent: parent, Tags: tags, Body: b}); err != nil {
				t.Fatal(err)
			}
		}
		rec(run, 0, []string{"step"}, ToolCall{Tool: "a"})      // 1
		rec(run, 1, nil, Thought{})                             // 2
		rec(run, 1, []string{"step", "x"}, ToolCall{Tool: "b"}) // 3
		rec(run, 0, []string{"x"}, Decision{})                  // 4
		rec(run, 3, []string{"step"}, ToolCall{Tool: "c"})      // 5
		rec(run, 1, nil, Thought{})                             // 6
		rec(other, 0, []string{"step"}, ToolCall{Tool: "z"})
		return nil
	})
	check := func(tx *Tx) {
		for _, c := range []struct {
			what string
			get  func() ([]Trace, error)
			want []TraceID
		}{
			{"type tool_call", func() ([]Trace, error) { return traces.QueryByType(tx, run, KindToolCall) }, tids(1, 3, 5)},
			{"type thought", func() ([]Trace, error) { return traces.QueryByType(tx, run, KindThought) }, tids(2, 6)},
			{"type query", func() ([]Trace, error) { return traces.QueryByType(tx, run, KindQuery) }, nil},
			{"tag step", func() ([]Trace, error) { return traces.QueryByTag(tx, run, "step") }, tids(1, 3, 5)},
			{"tag x", func() ([]Trace, error) { return traces.QueryByTag(tx, run, "x") }, tids(3, 4)},
			{"tag none", func() ([]Trace, error) { return traces.QueryByTag(tx, run, "none") }, nil},
			{"children 1", func() ([]Trace, error) { return traces.Children(tx, run, 1) }, tids(2, 3, 6)},
			{"children 3", func() ([]Trace, error) { return traces.Children(tx, run, 3) }, tids(5)},
			{"children 6", func() ([]Trace, error) { return traces.Children(tx, run, 6) }, nil},
			{"other run", func() ([]Trace, error) { return traces.QueryByTag(tx, other, "step") }, tids(1)},
		} {
			got, err := c.get()
			if err != nil || !slices.Equal(traceIDs(got), c.want) {
				t.Errorf("%s: %v, %v; want %v", c.what, traceIDs(got), err, c.want)
			}
		}
		ts, _ := traces.QueryByTag(tx, run, "x")
		if !slices.Equal(ts[0].Tags, []string{"step", "x"}) || ts[0].Body.(ToolCall).Tool != "b" || ts[0].Parent != 1 {
			t.Errorf("trace 3 from QueryByTag: %+v", ts[0])
		}
		ts[0].Tags[0] = "mutated"
		ts[0].Tags = append(ts[0].Tags, "spill") // must not reach ts[1]'s tags
		if ts[1].Tags[0] != "x" {
			t.Errorf("returned tags share memory: %v", ts[1].Tags)
		}
		if again, _ := traces.QueryByTag(tx, run, "x"); again[0].Tags[0] != "step" {
			t.Error("QueryByTag's Tags alias the store")
		}
	}
	mustView(t, db, func(tx *Tx) error { check(tx); return nil })
	mustUpdate(t, db, func(tx *Tx) error { check(tx); return nil })
}

// A tree of depth 3: root 1; children 2, 3, 4; grandchildren under each;
// great-grandchildren under 5. Plus an unrelated root.
func TestTraceTree(t *testing.T) {
	db := openDB(t)
	traces := db.Traces()
	run := NewRunID()
	parents := []TraceID{0, 1, 1, 1, 2, 2, 3, 4, 4, 4, 5, 5, 0, 13}
	// IDs:               1  2  3  4  5  6  7  8  9 10 11 12 13 14
	mustUpdate(t, db, func(tx *Tx) error {
		for i, p := range parents {
			tags := []string{fmt.Sprint("t", i+1)}
			if _, err := traces.Record(tx, run, Trace{Parent: p, Tags: tags, Body: Thought{Content: fmt.Sprint(i + 1)}}); err != nil {
				return err
			}
		}
		return nil
	})
	// shape renders a tree as nested IDs.
	var shape func(tr TraceTree) string
	shape = func(tr TraceTree) string {
		s := fmt.Sprint(tr.ID)
		if len(tr.Children) > 0 {
			s += "("
			for i, c := range tr.Children {
				if i > 0 {
					s += " "
				}
				s += shape(c)
			}
			s += ")"
		}
		return s
	}
	mustView(t, db, func(tx *Tx) error {
		tree, ok := traces.Tree(tx, run, 1)
		if !ok {
			t.Fatal("Tree(1) not found")
		}
		if got, want := shape(tree), "1(2(5(11 12) 6) 3(7) 4(8 9 10))"; got != want {
			t.Errorf("tree = %s, want %s", got, want)
		}
		if tree.Size() != 12 {
			t.Errorf("Size = %d", tree.Size())
		}
		leaf := tree.Children[0].Children[0].Children[1]
		if leaf.ID != 12 || leaf.Parent != 5 || leaf.Body.(Thought).Content != "12" || !slices.Equal(leaf.Tags, []string{"t12"}) {
			t.Errorf("leaf = %+v", leaf)
		}
		leaf.Tags[0] = "mutated"
		if again, _ := traces.Get(tx, run, 12); again.Tags[0] != "t12" {
			t.Error("Tree's Tags alias the store")
		}
		if sub, ok := traces.Tree(tx, run, 4); !ok || shape(sub) != "4(8 9 10)" {
			t.Errorf("Tree(4) = %s, %v", shape(sub), ok)
		}
		if sub, ok := traces.Tree(tx, run, 13); !ok || shape(sub) != "13(14)" {
			t.Errorf("Tree(13) = %s, %v", shape(sub), ok)
		}
		for _, id := range []TraceID{0, 15} {
			if _, ok := traces.Tree(tx, run, id); ok {
				t.Errorf("Tree(%d) found", id)
			}
		}
		return nil
	})
}

// QueryByTime against a brute-force filter, with times in order, out of
// order (more late traces than one chunk of the late index), duplicated,
// and random ranges.
func TestTraceQueryByTime(t *testing.T) {
	db := openDB(t)
	traces := db.Traces()
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name string
		secs func(i int) int
	}{
		{"in order", func(i int) int { return i }},
		{"ties", func(i int) int { return i / 3 }},
		{"reversed", func(i int) int { return 1000 - i }},
		{"shuffled", func(i int) int { return r.IntN(400) }},
		{"mostly in order", func(i int) int {
			if i%10 == 9 {
				return i - 50
			}
			return i
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := NewRunID()
			const n = 400
			times := make([]time.Time, n)
			for lo := 0; lo < n; lo += 100 {
				mustUpdate(t, db, func(tx *Tx) error {
					for i := lo; i < lo+100; i++ {
						times[i] = tAt(c.secs(i))
						if _, err := traces.Record(tx, run, Trace{Time: times[i], Body: Thought{}}); err != nil {
							return err
						}
					}
					return nil
				})
			}
			brute := func(from, to time.Time) []TraceID {
				var out []TraceID
				for i, tm := range times {
					if !tm.Before(from) && tm.Before(to) {
						out = append(out, TraceID(i+1))
					}
				}
				return out
			}
			mustView(t, db, func(tx *Tx) error {
				ranges := [][2]time.Time{
					{time.Time{}, tAt(100000)}, // everything
					{tAt(-100), tAt(-99)},      // nothing
					{tAt(5), tAt(5)},           // empty range
					{tAt(10), tAt(11)},         // one second, ties
				}
				for range 200 {
					a, b := r.IntN(1100)-50, r.IntN(1100)-50
					ranges = append(ranges, [2]time.Time{tAt(min(a, b)), tAt(max(a, b))})
				}
				for _, rg := range ranges {
					got, err := traces.QueryByTime(tx, run, rg[0], rg[1])
					if err != nil {
						t.Fatal(err)
					}
					if want := brute(rg[0], rg[1]); !slices.Equal(traceIDs(got), want) {
						t.Fatalf("QueryByTime(%v, %v) = %v\nwant %v", rg[0], rg[1], traceIDs(got), want)
					}
					for _, tr := range got {
						if !tr.Time.Equal(times[tr.ID-1]) {
							t.Fatalf("trace %d time %v, want %v", tr.ID, tr.Time, times[tr.ID-1])
						}
					}
				}
				return nil
			})
		})
	}
}

// Every query reads index records, so a read-write transaction that ran it
// fails when a concurrent transaction records a matching trace first.
func TestTracePhantoms(t *testing.T) {
	db := openDB(t)
	traces := db.Traces()
	run, elsewhere := NewRunID(), NewRunID()
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := traces.Record(tx, run, Trace{Time: tAt(0), Tags: []string{"seen"}, Body: Thought{}})
		return err
	})
	for _, c := range []struct {
		name  string
		query func(tx *Tx) error
		add   Trace
	}{
		{"QueryByTag", func(tx *Tx) error { _, err := traces.QueryByTag(tx, run, "hot"); return err },
			Trace{Time: tAt(10), Tags: []string{"hot"}, Body: Thought{}}},
		{"QueryByTag, existing tag", func(tx *Tx) error { _, err := traces.QueryByTag(tx, run, "seen"); return err },
			Trace{Time: tAt(10), Tags: []string{"seen"}, Body: Thought{}}},
		{"QueryByType", func(tx *Tx) error { _, err := traces.QueryByType(tx, run, KindQuery); return err },
			Trace{Time: tAt(10), Body: Query{}}},
		{"QueryByTime", func(tx *Tx) error { _, err := traces.QueryByTime(tx, run, tAt(5), tAt(20)); return err },
			Trace{Time: tAt(10), Body: Thought{}}},
		{"QueryByTime, late trace", func(tx *Tx) error { _, err := traces.QueryByTime(tx, run, tAt(-20), tAt(-5)); return err },
			Trace{Time: tAt(-10), Body: Thought{}}},
		{"Children", func(tx *Tx) error { _, err := traces.Children(tx, run, 1); return err },
			Trace{Parent: 1, Body: Thought{}}},
		{"Tree", func(tx *Tx) error { traces.Tree(tx, run, 1); return nil },
			Trace{Parent: 1, Body: Thought{}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx := db.Begin()
			defer tx.Rollback()
			if err := c.query(tx); err != nil {
				t.Fatal(err)
			}
			// tx must write something: a transaction that wrote nothing
			// commits at its snapshot, without validation.
			if _, err := traces.Record(tx, elsewhere, Trace{Body: Thought{}}); err != nil {
				t.Fatal(err)
			}
			mustUpdate(t, db, func(tx *Tx) error { _, err := traces.Record(tx, run, c.add); return err })
			wantErr(t, c.name+" then a concurrent matching Record", tx.Commit(), ErrConflict)
		})
	}
	// No false conflict across runs: a query of one run and a Record in
	// another both commit.
	tx := db.Begin()
	if _, err := traces.QueryByTag(tx, run, "seen"); err != nil {
		t.Fatal(err)
	}
	if _, err := traces.Record(tx, run, Trace{Body: Thought{}}); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := traces.Record(tx, elsewhere, Trace{Tags: []string{"seen"}, Body: Thought{}})
		return err
	})
	if err := tx.Commit(); err != nil {
		t.Errorf("query of one run vs Record in another: %v", err)
	}
}

// Concurrent Records in one run: unique, contiguous IDs, and every index
// complete.
func TestTraceConcurrentRecord(t *testing.T) {
	db := openDB(t)
	traces := db.Traces()
	run := NewRunID()
	const workers, each = 4, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	got := make([][]TraceID, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var id TraceID
				err := db.Update(func(tx *Tx) error {
					var err error
					tr := Trace{Time: tAt(i), Tags: []string{fmt.Sprint("w", w), "all"}, Body: ToolCall{Tool: "t"}}
					if i > 0 {
						tr.Parent = got[w][0] // this worker's first trace
						tr.Body = Thought{}
					}
					id, err = traces.Record(tx, run, tr)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				got[w] = append(got[w], id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var all []TraceID
	for _, g := range got {
		all = append(all, g...)
	}
	slices.Sort(all)
	for i, id := range all {
		if id != TraceID(i+1) {
			t.Fatalf("IDs not unique and contiguous: %v", all)
		}
	}
	mustView(t, db, func(tx *Tx) error {
		tagged, _ := traces.QueryByTag(tx, run, "all")
		tools, _ := traces.QueryByType(tx, run, KindToolCall)
		thoughts, _ := traces.QueryByType(tx, run, KindThought)
		byTime, _ := traces.QueryByTime(tx, run, time.Time{}, tAt(each))
		if len(tagged) != workers*each || len(byTime) != workers*each || len(tools) != workers || len(thoughts) != workers*(each-1) {
			t.Errorf("index sizes: tag %d, time %d, tool %d, thought %d", len(tagged), len(byTime), len(tools), len(thoughts))
		}
		if !slices.Equal(traceIDs(tagged), all) || !slices.Equal(traceIDs(byTime), all) {
			t.Error("tag or time index not in recording order or incomplete")
		}
		for w := range workers {
			mine, _ := traces.QueryByTag(tx, run, fmt.Sprint("w", w))
			kids, _ := traces.Children(tx, run, got[w][0])
			if !slices.Equal(traceIDs(mine), got[w]) || !slices.Equal(traceIDs(kids), got[w][1:]) {
				t.Errorf("worker %d: tag %v children %v, recorded %v", w, traceIDs(mine), traceIDs(kids), got[w])
			}
		}
		return nil
	})
}

// The run-delete hook removes every trace and index entry of the run and
// nothing of other runs; the run then records from ID 1 again.
func TestTraceDeleteRun(t *testing.T) {
	db := openDB(t)
	traces := db.Traces()
	doomed, kept := NewRunID(), NewRunID()
	fill := func(tx *Tx, run RunID) {
		for i := range 300 {
			tr := Trace{Time: tAt(300 - i), Tags: []string{"a", fmt.Sprint("t", i%3)}, Body: Thought{}}
			if i > 0 {
				tr.Parent = TraceID(i)
			}
			if _, err := traces.Record(tx, run, tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustUpdate(t, db, func(tx *Tx) error { fill(tx, doomed); fill(tx, kept); return nil })
	recordsBefore := traceStoreRecords(db)
	mustUpdate(t, db, func(tx *Tx) error { return db.deleteRunData(tx, doomed) })
	mustView(t, db, func(tx *Tx) error {
		for run, want := range map[RunID]int{doomed: 0, kept: 300} {
			all, _ := traces.QueryByTime(tx, run, time.Time{}, tAt(1000))
			tagged, _ := traces.QueryByTag(tx, run, "a")
			kind, _ := traces.QueryByType(tx, run, KindThought)
			if traces.Len(tx, run) != want || len(all) != want || len(tagged) != want || len(kind) != want {
				t.Errorf("run with %d traces: len %d, time %d, tag %d, kind %d", want, traces.Len(tx, run), len(all), len(tagged), len(kind))
			}
			if _, ok := traces.Get(tx, run, 1); ok != (want > 0) {
				t.Errorf("Get(1) = %v", ok)
			}
		}
		return nil
	})
	// Every record of the doomed run is gone (tombstoned): live records
	// halved.
	if after := traceStoreRecords(db); after*2 != recordsBefore {
		t.Errorf("live trace records: %d before, %d after deleting one of two equal runs", recordsBefore, after)
	}
	mustUpdate(t, db, func(tx *Tx) error {
		id, err := traces.Record(tx, doomed, Trace{Tags: []string{"a"}, Body: Thought{}})
		if id != 1 || err != nil {
			t.Errorf("Record after delete: %d, %v", id, err)
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		if tagged, _ := traces.QueryByTag(tx, doomed, "a"); !slices.Equal(traceIDs(tagged), tids(1)) {
			t.Errorf("tag index after delete and re-record: %v", traceIDs(tagged))
		}
		return nil
	})
}

// traceStoreRecords counts the live records of every store of the
// TraceStore (at the newest snapshot).
func traceStoreRecords(db *DB) int {
	s := db.Traces()
	n := 0
	db.View(func(tx *Tx) error {
		n += countLive(tx, s.heads) + countLive(tx, s.items)
		n += countLive(tx, s.lists.tails) + countLive(tx, s.lists.chunks)
		n += countLive(tx, s.late.s)
		return nil
	})
	return n
}

// countLive counts the live keys of s at tx's snapshot.
func countLive[K comparable, V any](tx *Tx, s *mvcc.Store[K, V]) int {
	n := 0
	_ = txn.Scan(tx.tx, s, func(K, V) bool { n++; return true })
	return n
}

// listItems returns list l's items as tx sees them (Each), after checking
// that the size Each reports is Len and the number of items it yields.
func listItems(t *testing.T, x chunkList[RunID, uint64], tx *Tx, l RunID) []uint64 {
	t.Helper()
	var out []uint64
	size := -1
	x.Each(tx, l, func(n int) { size = n }, func(v uint64) { out = append(out, v) })
	if size == -1 { // Each reports no size for an empty list
		if out != nil {
			t.Errorf("list %v: Each yielded %d items without a size", l, len(out))
		}
		size = 0
	}
	if n := x.Len(tx, l); size != len(out) || uint64(size) != n {
		t.Errorf("list %v: Each size %d, %d items, Len %d", l, size, len(out), n)
	}
	return out
}

// chunkList: appends across chunk boundaries, in one transaction and one
// per transaction (each claiming the next slot of the shared chunk); a snapshot
// keeps seeing the list it saw; Clear removes every record.
func TestChunkList(t *testing.T) {
	db := openDB(t)
	x := newChunkList[RunID, uint64](db, hashRun)
	l := NewRunID()
	items := func(tx *Tx) []uint64 { return listItems(t, x, tx, l) }
	seq := func(n int) []uint64 {
		var out []uint64
		for i := range n {
			out = append(out, uint64(i))
		}
		return out
	}
	mustUpdate(t, db, func(tx *Tx) error {
		for i := range 100 {
			if err := x.Append(tx, l, uint64(i)); err != nil {
				return err
			}
		}
		if got := items(tx); !slices.Equal(got, seq(100)) {
			t.Errorf("in tx: %v", got)
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		before := items(tx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 100; i < 130; i++ { // one per transaction
				mustUpdate(t, db, func(tx *Tx) error { return x.Append(tx, l, uint64(i)) })
			}
			mustUpdate(t, db, func(tx *Tx) error { // sealing twice
				for i := 130; i < 200; i++ {
					if err := x.Append(tx, l, uint64(i)); err != nil {
						return err
					}
				}
				return nil
			})
		}()
		<-done
		if got := items(tx); !slices.Equal(got, before) || !slices.Equal(before, seq(100)) {
			t.Errorf("snapshot saw the list change: %v", got)
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		if got := items(tx); !slices.Equal(got, seq(200)) {
			t.Errorf("after appends: %v", got)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error { return x.Clear(tx, l) })
	mustView(t, db, func(tx *Tx) error {
		if got := items(tx); got != nil || countLive(tx, x.tails) != 0 || countLive(tx, x.chunks) != 0 {
			t.Errorf("after Clear: %v, %d tails, %d chunks", got, countLive(tx, x.tails), countLive(tx, x.chunks))
		}
		return nil
	})
}

// chunkList under concurrent appenders to one list, and after appends
// whose transactions failed: slots claimed by a loser are never reused
// (the next append copies the chunk), every committed item appears once,
// each appender's items in its order, and a snapshot taken in the middle
// keeps its prefix. Run under -race it also checks that an item slot is
// written by one transaction only.
func TestChunkListConcurrentAndFailedAppends(t *testing.T) {
	db := openDB(t)
	x := newChunkList[RunID, uint64](db, hashRun)
	l := NewRunID()
	items := func(tx *Tx) []uint64 { return listItems(t, x, tx, l) }
	// Failed appends: each claims the next slot, then its transaction
	// fails; the committed list must not show them.
	errBoom := errors.New("boom")
	for i := range 5 {
		mustUpdate(t, db, func(tx *Tx) error { return x.Append(tx, l, uint64(i)) })
		if err := db.Update(func(tx *Tx) error {
			if err := x.Append(tx, l, 1000+uint64(i)); err != nil {
				return err
			}
			return errBoom
		}); !errors.Is(err, errBoom) {
			t.Fatalf("failed append: %v", err)
		}
	}
	mustView(t, db, func(tx *Tx) error {
		if got := items(tx); !slices.Equal(got, []uint64{0, 1, 2, 3, 4}) {
			t.Errorf("after failed appends: %v", got)
		}
		return nil
	})
	const workers, each = 4, 60
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				v := uint64(10_000*(w+1) + i)
				if err := db.Update(func(tx *Tx) error { return x.Append(tx, l, v) }); err != nil {
					t.Errorf("worker %d append %d: %v", w, i, err)
					return
				}
			}
		}()
	}
	var mid []uint64
	mustView(t, db, func(tx *Tx) error { mid = items(tx); return nil })
	wg.Wait()
	mustView(t, db, func(tx *Tx) error {
		got := items(tx)
		if uint64(len(got)) != x.Len(tx, l) || len(got) != 5+workers*each {
			t.Fatalf("%d items, Len %d, want %d", len(got), x.Len(tx, l), 5+workers*each)
		}
		if !slices.Equal(got[:len(mid)], mid) {
			t.Errorf("a snapshot's prefix changed")
		}
		next := make([]int, workers)
		for _, v := range got[5:] {
			w, i := int(v/10_000)-1, int(v%10_000)
			if w < 0 || w >= workers || i != next[w] {
				t.Fatalf("item %d out of order or unknown (worker %d expected %d)", v, w, next[w])
			}
			next[w]++
		}
		return nil
	})
}

// chunkList against a plain slice over random transactions of appends and
// clears, some of them failing after their writes (their claimed slots must
// never show), on a few lists: the reference-model test of the in-place
// chunks.
func TestChunkListModel(t *testing.T) {
	db := openDB(t)
	x := newChunkList[RunID, uint64](db, hashRun)
	lists := []RunID{NewRunID(), NewRunID(), NewRunID()}
	model := make(map[RunID][]uint64)
	rng := rand.New(rand.NewPCG(7, 11))
	errAbort := errors.New("abort")
	next := uint64(1)
	for step := range 600 {
		abort := rng.IntN(4) == 0
		pending := make(map[RunID][]uint64)
		for l, items := range model {
			pending[l] = slices.Clone(items)
		}
		err := db.Update(func(tx *Tx) error {
			for range 1 + rng.IntN(20) {
				l := lists[rng.IntN(len(lists))]
				if rng.IntN(30) == 0 {
					if err := x.Clear(tx, l); err != nil {
						return err
					}
					pending[l] = nil
					continue
				}
				if err := x.Append(tx, l, next); err != nil {
					return err
				}
				pending[l] = append(pending[l], next)
				next++
			}
			if abort {
				return errAbort
			}
			return nil
		})
		switch {
		case abort && !errors.Is(err, errAbort):
			t.Fatalf("step %d: failing transaction returned %v", step, err)
		case !abort && err != nil:
			t.Fatalf("step %d: %v", step, err)
		case !abort:
			model = pending
		}
		mustView(t, db, func(tx *Tx) error {
			for _, l := range lists {
				got := listItems(t, x, tx, l)
				if !slices.Equal(got, model[l]) {
					t.Fatalf("step %d: list %v\n got %v\nwant %v", step, l, got, model[l])
				}
			}
			return nil
		})
	}
}

// A deep chain: Tree walks it without recursion.
func TestTraceTreeDeepChain(t *testing.T) {
	db := openDB(t)
	traces := db.Traces()
	run := NewRunID()
	const depth = 3000
	mustUpdate(t, db, func(tx *Tx) error {
		for i := range depth {
			if _, err := traces.Record(tx, run, Trace{Parent: TraceID(i), Tags: []string{"x"}, Body: Thought{}}); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		tree, ok := traces.Tree(tx, run, 1)
		if !ok || tree.Size() != depth {
			t.Fatalf("Tree: ok %v, size %d", ok, tree.Size())
		}
		n := &tree
		for i := 1; i < depth; i++ {
			if len(n.Children) != 1 || n.Children[0].ID != TraceID(i+1) || n.Children[0].Tags[0] != "x" {
				t.Fatalf("depth %d: %+v", i, n.Children)
			}
			n = &n.Children[0]
		}
		return nil
	})
}
