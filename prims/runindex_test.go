package prims

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/substrate-lab/substrate/mvcc"
)

var allStatuses = []Status{Active, Paused, Completed, Failed, Cancelled, Archived}

func TestStatus(t *testing.T) {
	names := []string{"active", "paused", "completed", "failed", "cancelled", "archived"}
	for i, s := range allStatuses {
		if !s.Valid() || s.String() != names[i] || s.Terminal() != (s == Archived) {
			t.Errorf("%d: %q valid=%v terminal=%v", s, s, s.Valid(), s.Terminal())
		}
	}
	for _, s := range []Status{0, 7, 255} {
		if s.Valid() || s.String() != fmt.Sprintf("Status(%d)", s) || s.CanTransitionTo(Active) || Active.CanTransitionTo(s) {
			t.Errorf("invalid status %d: %q", s, s)
		}
	}
}

// allowedTransitions is the lifecycle of API.md, written out.
var allowedTransitions = map[[2]Status]bool{
	{Active, Paused}: true, {Active, Completed}: true, {Active, Failed}: true,
	{Active, Cancelled}: true, {Active, Archived}: true,
	{Paused, Active}: true, {Paused, Cancelled}: true, {Paused, Archived}: true,
	{Completed, Archived}: true, {Failed, Archived}: true, {Cancelled, Archived}: true,
}

// reach returns a path of transitions from Active to s.
func reach(s Status) []Status {
	if s == Active {
		return nil
	}
	return []Status{s}
}

// All 36 (from, to) pairs, each on a fresh run: allowed ones succeed and
// move the run between the status sets; the others fail with
// ErrInvalidTransition and change nothing (the transaction commits).
func TestRunTransitionsExhaustive(t *testing.T) {
	db := openDB(t)
	runs := db.Runs()
	n := 0
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			n++
			var id RunID
			mustUpdate(t, db, func(tx *Tx) error {
				var err error
				if id, err = runs.Create(tx, RunOptions{}); err != nil {
					return err
				}
				for _, s := range reach(from) {
					if err := runs.Transition(tx, id, s); err != nil {
						return err
					}
				}
				return nil
			})
			allowed := allowedTransitions[[2]Status{from, to}]
			if from.CanTransitionTo(to) != allowed {
				t.Errorf("CanTransitionTo(%v, %v) = %v", from, to, !allowed)
			}
			var before RunInfo
			mustUpdate(t, db, func(tx *Tx) error {
				before, _ = runs.Get(tx, id)
				err := runs.Transition(tx, id, to)
				if allowed != (err == nil) || (!allowed && !errors.Is(err, ErrInvalidTransition)) {
					t.Errorf("%v -> %v: %v (allowed %v)", from, to, err, allowed)
				}
				return nil
			})
			want := from
			if allowed {
				want = to
			}
			mustView(t, db, func(tx *Tx) error {
				info, ok := runs.Get(tx, id)
				if !ok || info.Status != want {
					t.Errorf("%v -> %v: status %v, want %v", from, to, info.Status, want)
				}
				if allowed && info.UpdatedAt.Before(before.UpdatedAt) || !allowed && !info.UpdatedAt.Equal(before.UpdatedAt) {
					t.Errorf("%v -> %v: UpdatedAt %v -> %v", from, to, before.UpdatedAt, info.UpdatedAt)
				}
				for _, s := range allStatuses {
					got, _ := runs.QueryByStatus(tx, s)
					if slices.Contains(got, id) != (s == want) {
						t.Errorf("%v -> %v: run in %v set = %v", from, to, s, !(s == want))
					}
				}
				return nil
			})
		}
	}
	if n != 36 {
		t.Fatalf("%d pairs", n)
	}
	// An invalid target status is both an invalid transition and bad input.
	mustUpdate(t, db, func(tx *Tx) error {
		id, _ := runs.Create(tx, RunOptions{})
		err := runs.Transition(tx, id, 0)
		if !errors.Is(err, ErrInvalidTransition) || !errors.Is(err, ErrInvalid) {
			t.Errorf("Transition to Status(0): %v", err)
		}
		if msg := err.Error(); strings.Count(msg, "prims:") != 1 || !strings.Contains(msg, "Status(0)") {
			t.Errorf("Transition to Status(0): message %q", msg)
		}
		return nil
	})
}

func TestRunCreateGet(t *testing.T) {
	db := openDB(t)
	runs := db.Runs()
	if db.Runs() != runs {
		t.Fatal("Runs() is not one index per DB")
	}
	tags := []string{"b", "a", "b"}
	meta := map[string]string{"model": "m1"}
	var parent, child, adopted RunID
	existing := NewRunID()
	before := time.Now().Round(0)
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		if parent, err = runs.Create(tx, RunOptions{Tags: tags, Metadata: meta}); err != nil {
			return err
		}
		if child, err = runs.Create(tx, RunOptions{Parent: parent}); err != nil {
			return err
		}
		if adopted, err = runs.Create(tx, RunOptions{ID: existing, Parent: child}); err != nil {
			return err
		}
		return nil
	})
	after := time.Now()
	tags[0], meta["model"] = "mutated", "mutated" // Create copied them
	if adopted != existing || parent.IsZero() || parent == child {
		t.Fatalf("ids: parent %v child %v adopted %v (want %v)", parent, child, adopted, existing)
	}
	mustView(t, db, func(tx *Tx) error {
		info, ok := runs.Get(tx, parent)
		if !ok {
			t.Fatal("parent not found")
		}
		want := RunInfo{ID: parent, Status: Active, Tags: []string{"b", "a"}, Metadata: map[string]string{"model": "m1"},
			CreatedAt: info.CreatedAt, UpdatedAt: info.CreatedAt}
		if !reflect.DeepEqual(info, want) {
			t.Errorf("Get = %+v\nwant %+v", info, want)
		}
		if info.CreatedAt.Before(before) || info.CreatedAt.After(after) {
			t.Errorf("CreatedAt %v not in [%v, %v]", info.CreatedAt, before, after)
		}
		info.Tags[0], info.Metadata["model"] = "x", "x" // Get returned copies
		if again, _ := runs.Get(tx, parent); again.Tags[0] != "b" || again.Metadata["model"] != "m1" {
			t.Errorf("Get's Tags/Metadata alias the store: %+v", again)
		}
		if c, _ := runs.Get(tx, child); c.Parent != parent || c.Tags != nil || c.Metadata != nil {
			t.Errorf("child = %+v", c)
		}
		if a, _ := runs.Get(tx, adopted); a.Parent != child {
			t.Errorf("adopted = %+v", a)
		}
		for _, id := range []RunID{{}, NewRunID()} {
			if _, ok := runs.Get(tx, id); ok {
				t.Errorf("Get(%v) found", id)
			}
		}
		return nil
	})
	tx := db.Begin()
	defer tx.Rollback()
	_, err := runs.Create(tx, RunOptions{ID: existing})
	wantErr(t, "Create of a registered ID", err, ErrExists)
	_, err = runs.Create(tx, RunOptions{Parent: NewRunID()})
	wantErr(t, "Create with a missing parent", err, ErrNotFound)
	_, err = runs.Create(tx, RunOptions{Tags: []string{""}})
	wantErr(t, "Create with an empty tag", err, ErrInvalid)
	n := 0
	for _, s := range allStatuses {
		ids, _ := runs.QueryByStatus(tx, s)
		n += len(ids)
	}
	if n != 3 {
		t.Errorf("failed Creates wrote: %d runs indexed", n)
	}
	if _, err := runs.Create(tx, RunOptions{}); err != nil {
		t.Errorf("Create after failures: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Errorf("commit after failed ops: %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	db := openDB(t)
	runs := db.Runs()
	var id RunID
	mustUpdate(t, db, func(tx *Tx) error { var err error; id, err = runs.Create(tx, RunOptions{}); return err })
	missing := NewRunID()
	tx := db.Begin()
	wantErr(t, "Transition(missing)", runs.Transition(tx, missing, Paused), ErrNotFound)
	wantErr(t, "Transition(zero)", runs.Transition(tx, RunID{}, Paused), ErrInvalid)
	wantErr(t, "Delete(missing)", runs.Delete(tx, missing), ErrNotFound)
	wantErr(t, "Delete(zero)", runs.Delete(tx, RunID{}), ErrInvalid)
	_, err := runs.Children(tx, missing)
	wantErr(t, "Children(missing)", err, ErrNotFound)
	_, err = runs.Children(tx, RunID{})
	wantErr(t, "Children(zero)", err, ErrInvalid)
	_, err = runs.QueryByStatus(tx, 0)
	wantErr(t, "QueryByStatus(0)", err, ErrInvalid)
	_, err = runs.QueryByTag(tx, "")
	wantErr(t, "QueryByTag(empty)", err, ErrInvalid)
	wantErr(t, "Transition(same status)", runs.Transition(tx, id, Active), ErrInvalidTransition)
	_, err = runs.Create(nil, RunOptions{})
	wantErr(t, "Create(nil tx)", err, ErrInvalid)
	// None of that poisoned tx.
	if err := runs.Transition(tx, id, Paused); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit after failed ops: %v", err)
	}
	wantErr(t, "Transition on a committed tx", runs.Transition(tx, id, Active), ErrTxDone)
	_, err = runs.QueryByStatus(tx, Active)
	wantErr(t, "QueryByStatus on a committed tx", err, ErrTxDone)
	mustView(t, db, func(tx *Tx) error {
		_, err := runs.Create(tx, RunOptions{})
		wantErr(t, "Create in View", err, ErrReadOnly)
		wantErr(t, "Transition in View", runs.Transition(tx, id, Active), ErrReadOnly)
		wantErr(t, "Delete in View", runs.Delete(tx, id), ErrReadOnly)
		return nil
	})
	other := openDB(t)
	otx := other.Begin()
	_, err = runs.Create(otx, RunOptions{})
	wantErr(t, "Create with a foreign tx", err, ErrInvalid)
	otx.Rollback()
	var nilDB *DB
	_, err = nilDB.Runs().Create(db.Begin(), RunOptions{})
	wantErr(t, "Create on a nil DB's index", err, ErrInvalid)
	db.Close()
	ctx := db.Begin()
	_, err = runs.Create(ctx, RunOptions{})
	wantErr(t, "Create after Close", err, ErrClosed)
	_, err = runs.QueryByStatus(ctx, Active)
	wantErr(t, "QueryByStatus after Close", err, ErrClosed)
}

// Queries against a model over enough runs to span several bitmap chunks,
// with random transitions, tags, parents and deletions.
func TestRunQueriesModel(t *testing.T) {
	db := openDB(t)
	runs := db.Runs()
	r := rand.New(rand.NewPCG(3, 4))
	type model struct {
		status Status
		tags   []string
		parent RunID
	}
	m := map[RunID]*model{}
	var order []RunID // creation order
	tagNames := []string{"red", "green", "blue"}
	const total = 2600 // > 2 chunks of runChunkBits
	for lo := 0; lo < total; lo += 200 {
		mustUpdate(t, db, func(tx *Tx) error {
			for range 200 {
				var opts RunOptions
				for _, tag := range tagNames {
					if r.IntN(3) == 0 {
						opts.Tags = append(opts.Tags, tag)
					}
				}
				if len(order) > 0 && r.IntN(4) == 0 {
					opts.Parent = order[r.IntN(min(len(order), 20))]
				}
				id, err := runs.Create(tx, opts)
				if err != nil {
					return err
				}
				m[id] = &model{status: Active, tags: opts.Tags, parent: opts.Parent}
				order = append(order, id)
			}
			return nil
		})
	}
	// Random transitions along allowed edges, and some deletions.
	mustUpdate(t, db, func(tx *Tx) error {
		for _, id := range order {
			rm := m[id]
			for range r.IntN(3) {
				to := allStatuses[r.IntN(len(allStatuses))]
				err := runs.Transition(tx, id, to)
				if rm.status.CanTransitionTo(to) != (err == nil) {
					t.Fatalf("%v -> %v: %v", rm.status, to, err)
				}
				if err == nil {
					rm.status = to
				}
			}
		}
		for _, id := range order[20:] {
			if r.IntN(10) == 0 {
				if err := runs.Delete(tx, id); err != nil {
					return err
				}
				delete(m, id)
			}
		}
		return nil
	})
	var alive []RunID
	for _, id := range order {
		if m[id] != nil {
			alive = append(alive, id)
		}
	}
	filter := func(pred func(*model) bool) []RunID {
		var out []RunID
		for _, id := range alive {
			if pred(m[id]) {
				out = append(out, id)
			}
		}
		return out
	}
	check := func(tx *Tx) {
		for _, s := range allStatuses {
			got, err := runs.QueryByStatus(tx, s)
			want := filter(func(rm *model) bool { return rm.status == s })
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("QueryByStatus(%v): %d runs, %v; want %d", s, len(got), err, len(want))
			}
		}
		for _, tag := range append(tagNames, "none") {
			got, err := runs.QueryByTag(tx, tag)
			want := filter(func(rm *model) bool { return slices.Contains(rm.tags, tag) })
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("QueryByTag(%v): %d runs, %v; want %d", tag, len(got), err, len(want))
			}
		}
		for _, p := range order[:20] {
			got, err := runs.Children(tx, p)
			want := filter(func(rm *model) bool { return rm.parent == p })
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("Children(%v): %v, %v; want %v", p, got, err, want)
			}
		}
	}
	mustView(t, db, func(tx *Tx) error { check(tx); return nil })
	mustUpdate(t, db, func(tx *Tx) error { check(tx); return nil })
}

// Delete removes the run's data in every primitive, atomically, and leaves
// other runs and child runs alone.
func TestRunDeleteCascade(t *testing.T) {
	db := openDB(t)
	runs, traces := db.Runs(), db.Traces()
	kv := must[*KVStore[string]](t)(NewKVStore[string](db, "kv"))
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "log"))
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	var doomed, kept, child RunID
	mustUpdate(t, db, func(tx *Tx) error {
		doomed = must[RunID](t)(runs.Create(tx, RunOptions{Tags: []string{"x"}}))
		kept = must[RunID](t)(runs.Create(tx, RunOptions{Tags: []string{"x"}}))
		child = must[RunID](t)(runs.Create(tx, RunOptions{Parent: doomed, Tags: []string{"x"}}))
		for _, run := range []RunID{doomed, kept, child} {
			fillRun(t, tx, run, kv, log, cells, traces)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error { return runs.Delete(tx, doomed) })
	mustView(t, db, func(tx *Tx) error {
		if got := runContents(tx, doomed, kv, log, cells, traces); got != [4]int{} {
			t.Errorf("deleted run still holds %v", got)
		}
		for _, run := range []RunID{kept, child} {
			if got := runContents(tx, run, kv, log, cells, traces); got != [4]int{3, 3, 3, 3} {
				t.Errorf("other run holds %v", got)
			}
		}
		if _, ok := runs.Get(tx, doomed); ok {
			t.Error("deleted run still registered")
		}
		if c, ok := runs.Get(tx, child); !ok || c.Parent != doomed || c.Status != Active {
			t.Errorf("child after parent's delete: %+v %v", c, ok)
		}
		_, err := runs.Children(tx, doomed)
		wantErr(t, "Children(deleted)", err, ErrNotFound)
		if ids, _ := runs.QueryByTag(tx, "x"); !slices.Equal(ids, []RunID{kept, child}) {
			t.Errorf("tag index after delete: %v", ids)
		}
		if ids, _ := runs.QueryByStatus(tx, Active); !slices.Equal(ids, []RunID{kept, child}) {
			t.Errorf("status index after delete: %v", ids)
		}
		return nil
	})
	tx := db.Begin()
	defer tx.Rollback()
	wantErr(t, "Delete again", runs.Delete(tx, doomed), ErrNotFound)
	_, err := runs.Create(tx, RunOptions{Parent: doomed})
	wantErr(t, "Create under a deleted parent", err, ErrNotFound)
	if err := runs.Delete(tx, child); err != nil { // its parent is gone: fine
		t.Errorf("Delete(child of deleted): %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// The ID can be registered again, empty.
	mustUpdate(t, db, func(tx *Tx) error {
		if _, err := runs.Create(tx, RunOptions{ID: doomed}); err != nil {
			return err
		}
		if got := runContents(tx, doomed, kv, log, cells, traces); got != [4]int{} {
			t.Errorf("re-registered run holds %v", got)
		}
		return nil
	})
}

// fillRun gives run 3 KV keys, 3 events, 3 cells and 3 traces.
func fillRun(t testing.TB, tx *Tx, run RunID, kv *KVStore[string], log *EventLog[string], cells *StateCell[int], traces *TraceStore) {
	t.Helper()
	for i, k := range []string{"a", "b", "c"} {
		if err := kv.Put(tx, run, k, k); err != nil {
			t.Fatal(err)
		}
		if _, err := log.Append(tx, run, "step", k); err != nil {
			t.Fatal(err)
		}
		if _, err := cells.Init(tx, run, k, i); err != nil {
			t.Fatal(err)
		}
		if _, err := traces.Record(tx, run, Trace{Tags: []string{k}, Body: Thought{Content: k}}); err != nil {
			t.Fatal(err)
		}
	}
}

// runContents counts run's KV keys, events, cells and traces. A count that
// two views of the same primitive disagree on (List vs Get, Len vs the tag
// index) is -1, so a partial deletion shows.
func runContents(tx *Tx, run RunID, kv *KVStore[string], log *EventLog[string], cells *StateCell[int], traces *TraceStore) [4]int {
	keys, _ := kv.List(tx, run, "")
	c := [4]int{len(keys), int(log.Len(tx, run)), 0, traces.Len(tx, run)}
	gets, tagged := 0, 0
	for _, k := range []string{"a", "b", "c"} {
		if _, ok := kv.Get(tx, run, k); ok {
			gets++
		}
		if _, ok := cells.Read(tx, run, k); ok {
			c[2]++
		}
		if ts, _ := traces.QueryByTag(tx, run, k); len(ts) > 0 {
			tagged++
		}
	}
	if gets != c[0] {
		c[0] = -1
	}
	if tagged != c[3] {
		c[3] = -1
	}
	return c
}

// Cascade deletes are atomic for concurrent readers: a View sees a run
// whole (registered, with all its data) or not at all. Run with -race.
func TestRunDeleteAtomicWithReaders(t *testing.T) {
	db := openDB(t)
	runs, traces := db.Runs(), db.Traces()
	kv := must[*KVStore[string]](t)(NewKVStore[string](db, "kv"))
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "log"))
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	const n = 30
	ids := make([]RunID, n)
	mustUpdate(t, db, func(tx *Tx) error {
		for i := range ids {
			ids[i] = must[RunID](t)(runs.Create(tx, RunOptions{}))
			fillRun(t, tx, ids[i], kv, log, cells, traces)
		}
		return nil
	})
	var done atomic.Bool
	var wg sync.WaitGroup
	var views atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				err := db.View(func(tx *Tx) error {
					active, _ := runs.QueryByStatus(tx, Active)
					for _, id := range ids {
						_, registered := runs.Get(tx, id)
						got := runContents(tx, id, kv, log, cells, traces)
						whole, gone := got == [4]int{3, 3, 3, 3}, got == [4]int{}
						if !(registered && whole || !registered && gone) || slices.Contains(active, id) != registered {
							return fmt.Errorf("run %v: registered %v, contents %v, indexed %v", id, registered, got, slices.Contains(active, id))
						}
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				views.Add(1)
			}
		}()
	}
	// Each delete waits for a reader to finish a view after it, so views
	// interleave with (and, on two cores, overlap) the deletions.
	for _, id := range ids {
		seen := views.Load()
		mustUpdate(t, db, func(tx *Tx) error { return runs.Delete(tx, id) })
		for views.Load() < seen+2 && !t.Failed() {
			runtime.Gosched()
		}
	}
	done.Store(true)
	wg.Wait()
	mustView(t, db, func(tx *Tx) error {
		if active, _ := runs.QueryByStatus(tx, Active); len(active) != 0 {
			t.Errorf("%d runs left", len(active))
		}
		return nil
	})
}

// A read-write transaction that ran a RunIndex query fails when a
// concurrent transaction adds a matching run and commits first.
func TestRunPhantoms(t *testing.T) {
	db := openDB(t)
	runs := db.Runs()
	var parent, paused RunID
	mustUpdate(t, db, func(tx *Tx) error {
		parent = must[RunID](t)(runs.Create(tx, RunOptions{Tags: []string{"seen"}}))
		paused = must[RunID](t)(runs.Create(tx, RunOptions{}))
		return runs.Transition(tx, paused, Paused)
	})
	for _, c := range []struct {
		name  string
		query func(tx *Tx) error
		add   func(tx *Tx) error
	}{
		{"QueryByStatus/Create", func(tx *Tx) error { _, err := runs.QueryByStatus(tx, Active); return err },
			func(tx *Tx) error { _, err := runs.Create(tx, RunOptions{}); return err }},
		{"QueryByStatus/Transition", func(tx *Tx) error { _, err := runs.QueryByStatus(tx, Active); return err },
			func(tx *Tx) error { return runs.Transition(tx, paused, Active) }},
		{"QueryByStatus/empty status", func(tx *Tx) error { _, err := runs.QueryByStatus(tx, Failed); return err },
			func(tx *Tx) error {
				id, _ := runs.Create(tx, RunOptions{})
				return runs.Transition(tx, id, Failed)
			}},
		{"QueryByTag/new tag", func(tx *Tx) error { _, err := runs.QueryByTag(tx, "hot"); return err },
			func(tx *Tx) error { _, err := runs.Create(tx, RunOptions{Tags: []string{"hot"}}); return err }},
		{"QueryByTag/existing tag", func(tx *Tx) error { _, err := runs.QueryByTag(tx, "seen"); return err },
			func(tx *Tx) error { _, err := runs.Create(tx, RunOptions{Tags: []string{"seen"}}); return err }},
		{"Children", func(tx *Tx) error { _, err := runs.Children(tx, parent); return err },
			func(tx *Tx) error { _, err := runs.Create(tx, RunOptions{Parent: parent}); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx := db.Begin()
			defer tx.Rollback()
			if err := c.query(tx); err != nil {
				t.Fatal(err)
			}
			// Write something unrelated: a transaction that wrote nothing
			// commits at its snapshot, without validation.
			if err := must[*KVStore[int]](t)(NewKVStore[int](db, "other")).Put(tx, NewRunID(), "k", 1); err != nil {
				t.Fatal(err)
			}
			mustUpdate(t, db, c.add)
			wantErr(t, c.name, tx.Commit(), ErrConflict)
		})
	}
}

// Concurrent Creates and Transitions: every run indexed exactly once.
func TestRunConcurrent(t *testing.T) {
	db := openDB(t)
	runs := db.Runs()
	const workers, each = 4, 50
	var wg sync.WaitGroup
	created := make([][]RunID, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				err := db.Update(func(tx *Tx) error {
					id, err := runs.Create(tx, RunOptions{Tags: []string{"all"}})
					if err != nil {
						return err
					}
					if i%2 == 1 {
						if err := runs.Transition(tx, id, Completed); err != nil {
							return err
						}
					}
					created[w] = append(created[w][:i], id)
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	all := map[RunID]bool{}
	for _, c := range created {
		for _, id := range c {
			all[id] = true
		}
	}
	mustView(t, db, func(tx *Tx) error {
		active, _ := runs.QueryByStatus(tx, Active)
		done, _ := runs.QueryByStatus(tx, Completed)
		tagged, _ := runs.QueryByTag(tx, "all")
		if len(all) != workers*each || len(active) != workers*each/2 || len(done) != workers*each/2 || len(tagged) != workers*each {
			t.Errorf("created %d: active %d, completed %d, tagged %d", len(all), len(active), len(done), len(tagged))
		}
		got := map[RunID]bool{}
		for _, id := range tagged {
			got[id] = true
		}
		if !maps.Equal(got, all) {
			t.Error("tag index differs from the runs created")
		}
		return nil
	})
}

// TestDeletedRunsGiveBackRecords: an agent that creates runs, writes KV keys,
// state cells, events and traces in them and deletes them does not keep a
// record per deleted key, cell, key set, event or trace: they leave their
// stores once no snapshot can see them (mvcc.Store.Entomb), and a deleted
// run's arrays in the dense event and trace stores go with its last record.
// 24 events per run is 12 deletions per commit in one store, more than a
// fixed 256 burials per sweep kept up with (16,000 events stayed): sweeps
// must keep pace with the deletion rate.
func TestDeletedRunsGiveBackRecords(t *testing.T) {
	db := openDB(t)
	runs := db.Runs()
	kv := must[*KVStore[int]](t)(NewKVStore[int](db, "kv"))
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "cells"))
	events := must[*EventLog[int]](t)(NewEventLog[int](db, "events"))
	traces := db.Traces()
	const n = 2000
	for i := range n {
		var id RunID
		mustUpdate(t, db, func(tx *Tx) error {
			var err error
			if id, err = runs.Create(tx, RunOptions{}); err != nil {
				return err
			}
			for _, k := range []string{"a", "b", "c"} {
				if err := kv.Put(tx, id, k, i); err != nil {
					return err
				}
			}
			if _, err = cells.Init(tx, id, "plan", i); err != nil {
				return err
			}
			for j := range 24 { // past the run's inline slots, into two buckets
				if _, err := events.Append(tx, id, "step", j); err != nil {
					return err
				}
			}
			for range 3 {
				if _, err := traces.Record(tx, id, Trace{Body: Decision{Chosen: "go"}}); err != nil {
					return err
				}
			}
			return nil
		})
		mustUpdate(t, db, func(tx *Tx) error { return runs.Delete(tx, id) })
	}
	vals, keys, cellRecs := kv.vals.Stats(), kv.keys.s.Stats(), cells.cells.Stats()
	evs, trs := events.events.Stats(), traces.items.Stats()
	t.Logf("after %d runs: kv values %d records (%d removed), key sets %d (%d removed), cells %d (%d removed), "+
		"events %d (%d removed, %d runs), traces %d (%d removed, %d runs)",
		n, vals.Records, vals.Removed, keys.Records, keys.Removed, cellRecs.Records, cellRecs.Removed,
		evs.Records, evs.Removed, evs.Groups, trs.Records, trs.Removed, trs.Groups)
	if evs.Groups > n/4 || trs.Groups > n/4 {
		t.Errorf("deleted runs keep their arrays: %d event runs, %d trace runs of %d", evs.Groups, trs.Groups, n)
	}
	if vals.Records > 3*n/4 || keys.Records > n/4 || cellRecs.Records > n/4 || evs.Records > 24*n/4 || trs.Records > 3*n/4 {
		t.Errorf("records of deleted runs stay: kv values %d (of %d written), key sets %d, cells %d (of %d), "+
			"events %d (of %d), traces %d (of %d)",
			vals.Records, 3*n, keys.Records, cellRecs.Records, n, evs.Records, 24*n, trs.Records, 3*n)
	}
	mustView(t, db, func(tx *Tx) error {
		if ids, err := runs.QueryByStatus(tx, Active); err != nil || len(ids) != 0 {
			t.Errorf("QueryByStatus after deleting every run: %v, %v", ids, err)
		}
		return nil
	})
}

// A run's times are stored as Unix nanoseconds (runRec): RunInfo must
// still carry the package clock's times exactly (Local, no monotonic
// reading, within the calls that bracket them), and the stored form keeps
// a run's record at 144 bytes (176 with two time.Time fields).
func TestRunTimesStoredExactly(t *testing.T) {
	db := openDB(t)
	runs := db.Runs()
	var id RunID
	before := now()
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		id, err = runs.Create(tx, RunOptions{})
		return err
	})
	mid := now()
	mustUpdate(t, db, func(tx *Tx) error { return runs.Transition(tx, id, Completed) })
	after := now()
	mustView(t, db, func(tx *Tx) error {
		info, ok := runs.Get(tx, id)
		switch {
		case !ok:
			t.Fatal("run missing")
		case info.CreatedAt.Before(before) || info.CreatedAt.After(mid):
			t.Errorf("CreatedAt %v outside [%v, %v]", info.CreatedAt, before, mid)
		case info.UpdatedAt.Before(mid) || info.UpdatedAt.After(after):
			t.Errorf("UpdatedAt %v outside [%v, %v]", info.UpdatedAt, mid, after)
		}
		for _, ts := range []time.Time{info.CreatedAt, info.UpdatedAt} {
			if ts != time.Unix(0, ts.UnixNano()) || ts != ts.Round(0) || ts.Location() != time.Local {
				t.Errorf("time %v is not the package clock's form", ts)
			}
		}
		return nil
	})
	if got := unsafe.Sizeof(mvcc.Record[runRec]{}); got != 144 {
		t.Errorf("Sizeof(mvcc.Record[runRec]) = %d, want 144", got)
	}
}

// TestOneTimestampPerTransaction: every time one transaction records (a
// run's CreatedAt, an event's Timestamp, a cell's UpdatedAt, a later
// Transition's UpdatedAt in the same transaction) is the same instant, as
// the Tx documentation promises.
func TestOneTimestampPerTransaction(t *testing.T) {
	db := openDB(t)
	runs := db.Runs()
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "one-ts"))
	cells := must[*StateCell[int]](t)(NewStateCell[int](db, "one-ts-cells"))
	var id RunID
	mustUpdate(t, db, func(tx *Tx) error {
		var err error
		if id, err = runs.Create(tx, RunOptions{}); err != nil {
			return err
		}
		if _, err = log.Append(tx, id, "started", "x"); err != nil {
			return err
		}
		if _, err = cells.Init(tx, id, "phase", 1); err != nil {
			return err
		}
		return runs.Transition(tx, id, Completed)
	})
	mustView(t, db, func(tx *Tx) error {
		info, _ := runs.Get(tx, id)
		e, _ := log.Read(tx, id, 0)
		st, _ := cells.Read(tx, id, "phase")
		if info.CreatedAt != e.Timestamp || info.UpdatedAt != e.Timestamp || st.UpdatedAt != e.Timestamp {
			t.Errorf("times of one transaction differ: run created %v, updated %v; event %v; cell %v",
				info.CreatedAt, info.UpdatedAt, e.Timestamp, st.UpdatedAt)
		}
		return nil
	})
}
