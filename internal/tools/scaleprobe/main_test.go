package main

import (
	"testing"
	"time"

	"github.com/substrate-lab/substrate/internal/scaling"
)

// run reports a positive mean per-worker rate for every kind of work, with
// one and with two pinned workers (pinning works or the test fails: run
// panics on a pin error).
func TestRunReportsARate(t *testing.T) {
	for _, k := range []struct {
		name string
		f    scaling.Work
	}{{"alu", scaling.Registers}, {"mem1MiB", mem}, {"clock", clock}} {
		for _, n := range []int{1, 2} {
			if r := run(k.f, n, 20*time.Millisecond); r <= 0 {
				t.Errorf("%s with %d workers: rate %g", k.name, n, r)
			}
		}
	}
}
