package cacheline

import "testing"

func TestDetected(t *testing.T) {
	n := Detected()
	if n < 32 || n&(n-1) != 0 {
		t.Fatalf("Detected() = %d, want a power of two >= 32", n)
	}
	t.Logf("Detected() = %d", n)
}

func TestLineOr(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{0, Size}, {-1, Size}, {48, Size}, {64, 64}, {128, 128}, {32, 32},
	} {
		if got := lineOr(tc.in, Size); got != tc.want {
			t.Errorf("lineOr(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
