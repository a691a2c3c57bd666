// Command scaleprobe measures how much a machine itself lets per-worker
// throughput fall as more cores run, with work that shares nothing: the
// ceiling under any "x-1worker" scaling figure (Tier D contention/disjoint).
//
// It runs 1, 2, 4, 8 and again 1 goroutines, each pinned to its own core
// (internal/pin), for 400 ms, three rounds, with three kinds of private
// work:
//
//	alu      xorshift arithmetic in registers (frequency, SMT siblings)
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/substrate-lab/substrate/internal/cacheline"
	"github.com/substrate-lab/substrate/internal/pin"
)

// slot is one worker's result, alone on its cache lines.
type slot struct {
	_ cacheline.Pad128
	n uint64
	_ cacheline.Pad128
}

// alu, mem and clock are the kinds of work; each counts its loop
// iterations into s when stop is set.
func alu(stop *atomic.Bool, s *slot) {
	x := uint64(88172645463325252)
	var n uint64
	for !stop.Load() {
		for i := 0; i < 256; i++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		n++
	}
	s.n = n + x&1
}

func mem(stop *atomic.Bool, s *slot) {
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
	s.n = n
}

func clock(stop *atomic.Bool, s *slot) {
	var n uint64
	for !stop.Load() {
		t := time.Now()
		_ = time.Since(t)
		n++
	}
	s.n = n
}

// run runs f on workers pinned goroutines for d and returns the mean
// per-worker rate (loop iterations per second).
func run(f func(*atomic.Bool, *slot), workers int, d time.Duration) float64 {
	var stop atomic.Bool
	var wg sync.WaitGroup
	slots := make([]slot, workers)
	var ready sync.WaitGroup
	ready.Add(workers)
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			unpin, err := pin.Pin(w)
			if err != nil {
				panic(err)
			}
			defer unpin()
			ready.Done()
			<-start
			f(&stop, &slots[w])
		}(w)
	}
	ready.Wait()
	close(start)
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	var tot uint64
	for i := range slots {
		tot += slots[i].n
	}
	return float64(tot) / float64(workers) / d.Seconds()
}

func main() {
	kinds := []struct {
		name string
		f    func(*atomic.Bool, *slot)
	}{{"alu", alu}, {"mem1MiB", mem}, {"clock", clock}}
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
