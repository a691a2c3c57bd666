package stress_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/substrate-lab/substrate/prims"
	"github.com/substrate-lab/substrate/stress"
)

// Example runs the contention protocol on one hot state cell: four workers
// increment it for a short measured window, and the invariant is checked at
// the end (the cell holds exactly the number of successful transitions:
// no lost update), as the plan's contention protocol asks.
func Example() {
	db, err := prims.Open()
	if err != nil {
		panic(err)
	}
	defer db.Close()
	cells, err := prims.NewStateCell[int64](db, "counters")
	if err != nil {
		panic(err)
	}
	run := prims.NewRunID()
	if err := db.Update(func(tx *prims.Tx) error {
		_, err := cells.Init(tx, run, "hits", 0)
		return err
	}); err != nil {
		panic(err)
	}
	incr := func(v int64) (int64, error) { return v + 1, nil }

	p := stress.ShortProtocol(4).WithMeasure(40 * time.Millisecond)
	r, err := stress.Run(context.Background(), p, func(worker int) (int, error) {
		attempts := 0
		err := db.Update(func(tx *prims.Tx) error {
			attempts++
			_, err := cells.Transition(tx, run, "hits", incr)
			return err
		})
		return attempts, err
	})
	if err != nil {
		panic(err)
	}

	var final int64
	_ = db.View(func(tx *prims.Tx) error {
		st, _ := cells.Read(tx, run, "hits")
		final = st.Value
		return nil
	})
	fmt.Println("workers:", len(r.Workers))
	fmt.Println("lost updates:", r.AllSuccesses-final)
	fmt.Println("panics:", len(r.Panics))
	// Output:
	// workers: 4
	// lost updates: 0
	// panics: 0
}

// ExampleHandoff measures the machine's core-to-core cache-line handoff,
// the floor under same-key contention figures. The figure depends on the
// machine (tens of nanoseconds between SMT siblings, hundreds across dies),
// so this example prints it without checking it.
func ExampleHandoff() {
	d, err := stress.Handoff(0, 1, 10_000)
	switch {
	case errors.Is(err, stress.ErrOneCore):
		fmt.Println("one core: no handoff to measure")
	case err != nil:
		fmt.Println("handoff:", err)
	default:
		fmt.Printf("core 0 -> core 1: %v one way\n", d)
	}
}

// ExampleCeiling measures how well this machine scales work that shares
// nothing at 2 workers: about 2 on two independent cores, less on SMT
// siblings or a crowded host. Like the handoff, it depends on the machine,
// so the example prints it without checking it.
func ExampleCeiling() {
	x, err := stress.Ceiling(2, 50*time.Millisecond)
	if err != nil {
		fmt.Println("ceiling:", err)
		return
	}
	fmt.Printf("2 workers: %.2fx of one\n", x)
}
