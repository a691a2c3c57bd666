package chaos

import "testing"

func TestYield(t *testing.T) {
	Reset()
	for range 1000 {
		Yield("chaos.test")
	}
	got := Hits()["chaos.test"]
	if Enabled && got != 1000 {
		t.Fatalf("Hits()[chaos.test] = %d after 1000 yields, want 1000", got)
	}
	if !Enabled && got != 0 {
		t.Fatalf("disabled build counted %d hits", got)
	}
	Reset()
	if n := Hits()["chaos.test"]; n != 0 {
		t.Fatalf("after Reset: %d hits", n)
	}
}

// TestDisabledIsFree checks that the disabled Yield neither allocates nor
// costs more than a few nanoseconds (it should be inlined to nothing).
func TestDisabledIsFree(t *testing.T) {
	if Enabled {
		t.Skip("adversarial build: Yield is meant to cost")
	}
	if n := testing.AllocsPerRun(100, func() { Yield("chaos.free") }); n != 0 {
		t.Fatalf("Yield allocates %v times per call", n)
	}
}
