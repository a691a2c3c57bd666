// Command scaleprobe measures how much a machine itself lets per-worker
// throughput fall as more cores run, with work that shares nothing: the
// ceiling under any "x-1worker" scaling figure (Tier D contention/disjoint).
//
// It runs 1, 2, 4, 8 and again 1 goroutines, each pinned to its own core
// (internal/scaling.Rate: each worker times its own window), for 400 ms,
// three rounds, with three kinds of private work:
//
//	alu      xorshift arithmetic in registers (frequency, a shared-out core;
//	         latency-bound, so not an SMT sibling's use of the ports)
//	mem1MiB  random increments in a private 1 MiB array (caches, memory)
//	clock    time.Now and time.Since (the protocol's per-operation timing)
//
// and prints each run's per-worker rate and its ratio to the first n=1
// run. On a machine whose cores are independent every ratio is about 1.
// Used by .ci/device-scaling.sh on the lent 16-core box
// (docs/BENCHMARKS.md, "Fourth 16-core run").
//
//	go run ./internal/tools/scaleprobe
package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/substrate-lab/substrate/internal/scaling"
)

// mem and clock are the kinds of work besides alu (scaling.Registers), as
// scaling.Work: each runs until stop is set and returns its loop
// iterations.
func mem(stop *atomic.Bool) uint64 {
	buf := make([]uint64, 1<<17) // 1 MiB private
	x := uint64(88172645463325252)
	var n uint64
	for !stop.Load() {
		for i := 0; i < 64; i++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			buf[x&(1<<17-1)]++
		}
		n++
	}
	return n
}

func clock(stop *atomic.Bool) uint64 {
	var n uint64
	for !stop.Load() {
		t := time.Now()
		_ = time.Since(t)
		n++
	}
	return n
}

// run is scaling.Rate; a pinning error ends the program.
func run(f scaling.Work, workers int, d time.Duration) float64 {
	r, err := scaling.Rate(f, workers, d)
	if err != nil {
		panic(err)
	}
	return r
}

func main() {
	kinds := []struct {
		name string
		f    scaling.Work
	}{{"alu", scaling.Registers}, {"mem1MiB", mem}, {"clock", clock}}
	for round := 0; round < 3; round++ {
		for _, k := range kinds {
			base := 0.0
			line := fmt.Sprintf("round %d %-8s", round, k.name)
			for _, n := range []int{1, 2, 4, 8, 1} {
				r := run(k.f, n, 400*time.Millisecond)
				if base == 0 {
					base = r
				}
				line += fmt.Sprintf("  n=%d %.3gM/s/worker (%.2f)", n, r/1e6, r/base)
			}
			fmt.Println(line)
		}
	}
}
