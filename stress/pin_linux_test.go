//go:build linux

package stress

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/substrate-lab/substrate/internal/pin"
)

// TestRunPinned: with Pin, each worker's thread is restricted to one CPU
// for the whole run, and worker i and i+NumCPU share a core.
func TestRunPinned(t *testing.T) {
	if !pin.Supported() {
		t.Skip("pinning not supported")
	}
	n := runtime.NumCPU()
	p := tiny(n + 1)
	p.Pin = true
	bad := make([]int, p.Workers) // per worker: calls on a thread not pinned to one CPU
	cpu := make([]int, p.Workers)
	r := mustRun(t, p, func(w int) (int, error) {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() != 1 {
			bad[w]++
		}
		for c := range 1024 {
			if set.IsSet(c) {
				cpu[w] = c
				break
			}
		}
		return 1, nil
	})
	if !r.Pinned {
		t.Fatal("Result.Pinned = false")
	}
	for w, b := range bad {
		if b != 0 {
			t.Errorf("worker %d ran %d operations on an unpinned thread", w, b)
		}
	}
	if cpu[n] != cpu[0] {
		t.Errorf("worker %d on CPU %d, worker 0 on CPU %d: want the same core", n, cpu[n], cpu[0])
	}
}
