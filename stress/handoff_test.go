package stress

import (
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestHandoff: the probe returns a positive figure that cannot be faster
// than a nanosecond per handoff (a line that never left the core would
// give ~1 ns per round), and rejects bad arguments and one-core settings.
func TestHandoff(t *testing.T) {
	if _, err := Handoff(0, 1, 0); err == nil {
		t.Error("rounds 0: no error")
	}
	if _, err := Handoff(-1, 1, 10); err == nil {
		t.Error("core -1: no error")
	}
	if runtime.NumCPU() < 2 {
		if _, err := Handoff(0, 1, 10); !errors.Is(err, ErrOneCore) {
			t.Fatalf("one CPU: err = %v, want ErrOneCore", err)
		}
		t.Skip("one CPU: no second core to hand a line to")
	}
	prev := runtime.GOMAXPROCS(1)
	_, err := Handoff(0, 1, 10)
	runtime.GOMAXPROCS(prev)
	if !errors.Is(err, ErrOneCore) {
		t.Fatalf("GOMAXPROCS 1: err = %v, want ErrOneCore", err)
	}
	if prev < 2 {
		t.Skip("GOMAXPROCS < 2 (go test -cpu 1)")
	}
	d, err := Handoff(0, 1, 20000)
	if err != nil {
		t.Fatal(err)
	}
	if d < time.Nanosecond || d > time.Millisecond {
		t.Fatalf("handoff %v: outside (1ns, 1ms)", d)
	}
	t.Logf("core 0 -> core 1 handoff: %v one way", d)
}
