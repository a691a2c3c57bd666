package cacheline

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"
)

func TestConstants(t *testing.T) {
	if Size != 64 {
		t.Fatalf("Size = %d, want 64", Size)
	}
	if PadSize != 2*Size {
		t.Fatalf("PadSize = %d, want 2*Size = %d", PadSize, 2*Size)
	}
	if got := unsafe.Sizeof(cpu.CacheLinePad{}); got > PadSize {
		t.Fatalf("x/sys/cpu.CacheLinePad is %d bytes, larger than PadSize %d", got, PadSize)
	}
}

func TestPadSizes(t *testing.T) {
	if got := unsafe.Sizeof(Pad64{}); got != 64 {
		t.Errorf("Sizeof(Pad64) = %d, want 64", got)
	}
	if got := unsafe.Sizeof(Pad128{}); got != 128 {
		t.Errorf("Sizeof(Pad128) = %d, want 128", got)
	}
}
