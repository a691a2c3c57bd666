package prims_test

import (
	"errors"
	"fmt"

	"github.com/substrate-lab/substrate/prims"
)

// One agent step in one transaction: remember a fact, log the tool call,
// and advance the plan's state. Either all of it commits or none of it.
func Example() {
	db, err := prims.Open()
	if err != nil {
		panic(err)
	}
	defer db.Close()

	memory, _ := prims.NewKVStore[string](db, "memory")
	steps, _ := prims.NewEventLog[[]byte](db, "steps")
	phase, _ := prims.NewStateCell[string](db, "phase")
	run := prims.NewRunID()

	err = db.Update(func(tx *prims.Tx) error {
		_, err := phase.Init(tx, run, "phase", "planning")
		return err
	})
	if err != nil {
		panic(err)
	}

	err = db.Update(func(tx *prims.Tx) error {
		if err := memory.Put(tx, run, "city", "Lisbon"); err != nil {
			return err
		}
		if _, err := steps.Append(tx, run, "tool_call", []byte(`{"tool":"weather","city":"Lisbon"}`)); err != nil {
			return err
		}
		_, err := phase.Transition(tx, run, "phase", func(p string) (string, error) {
			if p != "planning" {
				return p, errors.New("unexpected phase " + p)
			}
			return "acting", nil
		})
		return err
	})
	if err != nil {
		panic(err)
	}

	_ = db.View(func(tx *prims.Tx) error {
		city, _ := memory.Get(tx, run, "city")
		e, _ := steps.Read(tx, run, 0)
		st, _ := phase.Read(tx, run, "phase")
		fmt.Println("city:", city)
		fmt.Println("event:", e.Seq, e.Type, string(e.Payload))
		fmt.Println("phase:", st.Value, "version", st.Version)
		return nil
	})
	// Output:
	// city: Lisbon
	// event: 0 tool_call {"tool":"weather","city":"Lisbon"}
	// phase: acting version 2
}

// A read-only snapshot: listing a run's keys by prefix and checking the
// event chain. Writes inside View fail with ErrReadOnly.
func ExampleDB_View() {
	db, _ := prims.Open()
	defer db.Close()
	notes, _ := prims.NewKVStore[string](db, "notes")
	log, _ := prims.NewEventLog[string](db, "log")
	run := prims.NewRunID()

	_ = db.Update(func(tx *prims.Tx) error {
		for _, k := range []string{"user/name", "task", "user/lang"} {
			if err := notes.Put(tx, run, k, "..."); err != nil {
				return err
			}
			if _, err := log.Append(tx, run, "noted", k); err != nil {
				return err
			}
		}
		return nil
	})

	_ = db.View(func(tx *prims.Tx) error {
		keys, _ := notes.List(tx, run, "user/")
		fmt.Println("user keys:", keys)
		all, _ := notes.List(tx, run, "")
		fmt.Println("all keys:", all)
		res, _ := log.VerifyChain(tx, run)
		fmt.Println("chain valid:", res.Valid, "length:", res.Length)
		err := notes.Put(tx, run, "task", "changed")
		fmt.Println("write in View is ErrReadOnly:", errors.Is(err, prims.ErrReadOnly))
		return nil
	})
	// Output:
	// user keys: [user/lang user/name]
	// all keys: [task user/lang user/name]
	// chain valid: true length: 3
	// write in View is ErrReadOnly: true
}

// Optimistic concurrency with versions: CAS succeeds only against the
// version it expects.
func ExampleStateCell_CAS() {
	db, _ := prims.Open()
	defer db.Close()
	budget, _ := prims.NewStateCell[int](db, "budget")
	run := prims.NewRunID()

	_ = db.Update(func(tx *prims.Tx) error {
		_, err := budget.Init(tx, run, "tokens", 1000)
		return err
	})
	err := db.Update(func(tx *prims.Tx) error {
		v, err := budget.CAS(tx, run, "tokens", 1, 750)
		fmt.Println("first CAS: version", v, err)
		_, err = budget.CAS(tx, run, "tokens", 1, 500)
		fmt.Println("stale CAS is ErrVersionMismatch:", errors.Is(err, prims.ErrVersionMismatch))
		return nil // the failed CAS wrote nothing; the first one commits
	})
	fmt.Println("update:", err)
	_ = db.View(func(tx *prims.Tx) error {
		st, _ := budget.Read(tx, run, "tokens")
		fmt.Println("tokens:", st.Value, "version", st.Version)
		return nil
	})
	// Output:
	// first CAS: version 2 <nil>
	// stale CAS is ErrVersionMismatch: true
	// update: <nil>
	// tokens: 750 version 2
}

// Run IDs are UUIDs: String gives the canonical text, ParseRunID reads it.
func ExampleParseRunID() {
	run, err := prims.ParseRunID("6ba7b810-9dad-41d1-80b4-00c04fd430c8")
	fmt.Println(run, err)
	_, err = prims.ParseRunID("00000000-0000-0000-0000-000000000000")
	fmt.Println(errors.Is(err, prims.ErrInvalid))
	// Output:
	// 6ba7b810-9dad-41d1-80b4-00c04fd430c8 <nil>
	// true
}
