package prims_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/substrate-lab/substrate/prims"
)

// One agent step, atomically: the tool call is traced, its result cached in
// a KV store, an event appended to the run's log and the agent's state
// advanced, all in one transaction. Either all four are visible or none.
func Example_agentStep() {
	db, _ := prims.Open()
	defer db.Close()
	cache, _ := prims.NewKVStore[string](db, "tool-cache")
	steps, _ := prims.NewEventLog[string](db, "steps")
	phase, _ := prims.NewStateCell[string](db, "phase")
	traces := db.Traces()

	var run prims.RunID
	_ = db.Update(func(tx *prims.Tx) error {
		var err error
		if run, err = db.Runs().Create(tx, prims.RunOptions{Tags: []string{"demo"}}); err != nil {
			return err
		}
		_, err = phase.Init(tx, run, "phase", "planning")
		return err
	})

	err := db.Update(func(tx *prims.Tx) error {
		call := prims.ToolCall{
			Tool:      "weather",
			Arguments: map[string]any{"city": "Oslo"},
			Result:    "4°C, rain",
			Duration:  120 * time.Millisecond,
		}
		id, err := traces.Record(tx, run, prims.Trace{Tags: []string{"tool"}, Body: call})
		if err != nil {
			return err
		}
		if err := cache.Put(tx, run, "weather:Oslo", "4°C, rain"); err != nil {
			return err
		}
		if _, err := steps.Append(tx, run, "tool_call", fmt.Sprintf("trace %d", id)); err != nil {
			return err
		}
		_, err = phase.Transition(tx, run, "phase", func(s string) (string, error) {
			if s != "planning" {
				return s, fmt.Errorf("unexpected phase %q", s)
			}
			return "acting", nil
		})
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	_ = db.View(func(tx *prims.Tx) error {
		calls, _ := traces.QueryByType(tx, run, prims.KindToolCall)
		c := calls[0].Body.(prims.ToolCall)
		v, _ := cache.Get(tx, run, "weather:Oslo")
		e, _ := steps.Read(tx, run, 0)
		st, _ := phase.Read(tx, run, "phase")
		fmt.Printf("trace %d: %s(%v) -> %v in %v\n", calls[0].ID, c.Tool, c.Arguments["city"], c.Result, c.Duration)
		fmt.Println("cached:", v)
		fmt.Println("event 0:", e.Type, e.Payload)
		fmt.Printf("phase: %s (version %d)\n", st.Value, st.Version)
		return nil
	})
	// Output:
	// trace 1: weather(Oslo) -> 4°C, rain in 120ms
	// cached: 4°C, rain
	// event 0: tool_call trace 1
	// phase: acting (version 2)
}

// A run's lifecycle: created Active, paused, resumed, completed, archived;
// the lifecycle refuses what it does not allow, and Delete removes the run
// with its data.
func Example_runLifecycle() {
	db, _ := prims.Open()
	defer db.Close()
	runs := db.Runs()
	notes, _ := prims.NewKVStore[string](db, "notes")

	var run prims.RunID
	_ = db.Update(func(tx *prims.Tx) error {
		run, _ = runs.Create(tx, prims.RunOptions{
			Tags:     []string{"nightly"},
			Metadata: map[string]string{"model": "small"},
		})
		return notes.Put(tx, run, "todo", "summarize")
	})
	status := func() prims.Status {
		var s prims.Status
		_ = db.View(func(tx *prims.Tx) error {
			info, _ := runs.Get(tx, run)
			s = info.Status
			return nil
		})
		return s
	}
	fmt.Println("created:", status())
	for _, to := range []prims.Status{prims.Paused, prims.Active, prims.Completed, prims.Active, prims.Archived} {
		err := db.Update(func(tx *prims.Tx) error { return runs.Transition(tx, run, to) })
		if errors.Is(err, prims.ErrInvalidTransition) {
			fmt.Println("refused:", status(), "->", to)
			continue
		}
		fmt.Println("now:", status())
	}
	_ = db.View(func(tx *prims.Tx) error {
		archived, _ := runs.QueryByStatus(tx, prims.Archived)
		nightly, _ := runs.QueryByTag(tx, "nightly")
		fmt.Println("archived runs:", len(archived), "nightly runs:", len(nightly))
		return nil
	})

	_ = db.Update(func(tx *prims.Tx) error { return runs.Delete(tx, run) })
	_ = db.View(func(tx *prims.Tx) error {
		_, registered := runs.Get(tx, run)
		_, hasNote := notes.Get(tx, run, "todo")
		fmt.Println("after Delete: registered", registered, "note", hasNote)
		return nil
	})
	// Output:
	// created: active
	// now: paused
	// now: active
	// now: completed
	// refused: completed -> active
	// now: archived
	// archived runs: 1 nightly runs: 1
	// after Delete: registered false note false
}

// A trace tree: a plan with two tool calls, one of which failed and was
// retried, read back with Tree.
func Example_traceTree() {
	db, _ := prims.Open()
	defer db.Close()
	traces := db.Traces()
	run := prims.NewRunID()
	_ = db.Update(func(tx *prims.Tx) error {
		plan, _ := traces.Record(tx, run, prims.Trace{Body: prims.Decision{
			Question: "how to answer?", Options: []string{"search", "guess"}, Chosen: "search",
		}})
		search, _ := traces.Record(tx, run, prims.Trace{Parent: plan, Body: prims.ToolCall{Tool: "search"}})
		_, _ = traces.Record(tx, run, prims.Trace{Parent: search, Body: prims.ErrorTrace{
			Kind: "timeout", Message: "no answer in 5s", Recoverable: true,
		}})
		_, _ = traces.Record(tx, run, prims.Trace{Parent: search, Body: prims.ToolCall{Tool: "search", Result: "42"}})
		_, _ = traces.Record(tx, run, prims.Trace{Parent: plan, Body: prims.Thought{Content: "the answer is 42", Confidence: 0.9}})
		return nil
	})
	_ = db.View(func(tx *prims.Tx) error {
		tree, _ := traces.Tree(tx, run, 1)
		var show func(t prims.TraceTree, depth int)
		show = func(t prims.TraceTree, depth int) {
			fmt.Printf("%s%d %s: %s\n", strings.Repeat("  ", depth), t.ID, t.Kind(), describe(t.Body))
			for _, c := range t.Children {
				show(c, depth+1)
			}
		}
		show(tree, 0)
		fmt.Println("traces in tree:", tree.Size())
		return nil
	})
	// Output:
	// 1 decision: search
	//   2 tool_call: search
	//     3 error: timeout (recoverable)
	//     4 tool_call: search
	//   5 thought: the answer is 42
	// traces in tree: 5
}

// describe renders a trace body in a few words.
func describe(b prims.Body) string {
	switch x := b.(type) {
	case prims.Decision:
		return x.Chosen
	case prims.ToolCall:
		return x.Tool
	case prims.ErrorTrace:
		if x.Recoverable {
			return x.Kind + " (recoverable)"
		}
		return x.Kind
	case prims.Thought:
		return x.Content
	}
	return "?"
}
