package pin

import (
	"errors"
	"runtime"
	"testing"
)

func TestPinNegative(t *testing.T) {
	unpin, err := Pin(-1)
	if !errors.Is(err, ErrNegativeCore) {
		t.Fatalf("Pin(-1) error = %v, want ErrNegativeCore", err)
	}
	if unpin == nil {
		t.Fatal("Pin(-1) returned nil unpin")
	}
	unpin() // must be a harmless no-op
}

func TestPinUnpinTwice(t *testing.T) {
	for _, core := range []int{0, runtime.NumCPU(), 1 << 20} {
		unpin, err := Pin(core)
		if err != nil {
			t.Fatalf("Pin(%d): %v", core, err)
		}
		unpin()
		unpin() // second call is a no-op (sync.Once)
	}
}

func TestSupported(t *testing.T) {
	if got, want := Supported(), runtime.GOOS == "linux"; got != want {
		t.Fatalf("Supported() = %v on %s, want %v", got, runtime.GOOS, want)
	}
}
