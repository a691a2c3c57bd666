package stress

import (
	"math"
	"runtime"
	"testing"
	"time"
)

// TestCeiling: bad arguments are errors; one worker against one worker
// comes out near 1 (the same loop measured three times; the bounds are wide
// because the host and -race make any one window noisy), and more workers
// give a positive, finite figure no larger than the worker count allows.
func TestCeiling(t *testing.T) {
	for _, c := range []struct {
		workers int
		d       time.Duration
	}{{0, time.Millisecond}, {-1, time.Millisecond}, {1, 0}, {2, -time.Second}} {
		if _, err := Ceiling(c.workers, c.d); err == nil {
			t.Errorf("Ceiling(%d, %v): no error", c.workers, c.d)
		}
	}
	cores := min(runtime.GOMAXPROCS(0), runtime.NumCPU())
	if _, err := Ceiling(cores+1, time.Millisecond); err == nil {
		t.Errorf("Ceiling(%d) with %d usable cores: no error", cores+1, cores)
	}
	one, err := Ceiling(1, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if one < 0.25 || one > 4 {
		t.Errorf("one worker over one worker: %.2f, want about 1", one)
	}
	if cores < 2 {
		t.Skip("one usable core")
	}
	two, err := Ceiling(2, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if two <= 0 || math.IsInf(two, 0) || math.IsNaN(two) || two > 2*4 {
		t.Errorf("two workers: %.2f, want a figure in (0, 8]", two)
	}
	t.Logf("register-only work: 1 worker %.2fx, 2 workers %.2fx of one", one, two)
}
