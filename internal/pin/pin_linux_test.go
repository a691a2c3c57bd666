//go:build linux

package pin

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func affinity(t *testing.T) unix.CPUSet {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatalf("SchedGetaffinity: %v", err)
	}
	return set
}

// checkPinned pins to core and verifies that exactly cpuFor(core) is set,
// then unpins and verifies the previous mask is back. The test goroutine
// holds its own LockOSThread so the thread checked after unpin is the same.
func checkPinned(t *testing.T, core int) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	before := affinity(t)
	unpin, err := Pin(core)
	if err != nil {
		t.Fatalf("Pin(%d): %v", core, err)
	}
	got := affinity(t)
	want := cpuFor(core)
	if got.Count() != 1 || !got.IsSet(want) {
		t.Fatalf("after Pin(%d): %d CPUs set, CPU %d set = %v; want only CPU %d",
			core, got.Count(), want, got.IsSet(want), want)
	}
	unpin()
	if after := affinity(t); after != before {
		t.Fatalf("unpin did not restore mask: before %d CPUs, after %d", before.Count(), after.Count())
	}
}

func TestPinCore0(t *testing.T) {
	if len(startCPUs) > 0 && cpuFor(0) != startCPUs[0] {
		t.Fatalf("cpuFor(0) = %d, want first allowed CPU %d", cpuFor(0), startCPUs[0])
	}
	checkPinned(t, 0)
}

func TestPinWraps(t *testing.T) {
	n := runtime.NumCPU()
	if len(startCPUs) != n {
		t.Logf("start mask has %d CPUs, runtime.NumCPU() = %d", len(startCPUs), n)
	}
	if cpuFor(n) != cpuFor(0) || cpuFor(n+1) != cpuFor(1) {
		t.Fatalf("cpuFor does not wrap at NumCPU=%d: cpuFor(%d)=%d cpuFor(0)=%d",
			n, n, cpuFor(n), cpuFor(0))
	}
	checkPinned(t, n)
	checkPinned(t, 2*n+1)
}

func TestPinEveryCore(t *testing.T) {
	for core := range runtime.NumCPU() {
		checkPinned(t, core)
	}
}
