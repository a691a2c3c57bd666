package cacheline

import (
	"sync"
	"testing"
	"unsafe"
)

func TestPaddedUint64Layout(t *testing.T) {
	var p PaddedUint64
	if got := unsafe.Sizeof(p); got != PadSize {
		t.Fatalf("Sizeof(PaddedUint64) = %d, want %d", got, PadSize)
	}
	if got := unsafe.Offsetof(p.v); got != 0 {
		t.Fatalf("Offsetof(v) = %d, want 0", got)
	}
	if got := unsafe.Alignof(p.v); got != 8 {
		t.Fatalf("Alignof(v) = %d, want 8", got)
	}

	// In an array every counter is in a different 128-byte aligned block.
	var arr [8]PaddedUint64
	seen := make(map[uintptr]bool)
	for i := range arr {
		addr := uintptr(unsafe.Pointer(&arr[i].v))
		first, last := addr/PadSize, (addr+7)/PadSize
		if first != last {
			t.Fatalf("arr[%d].v straddles two 128-byte blocks", i)
		}
		if seen[first] {
			t.Fatalf("arr[%d].v shares a 128-byte block with another counter", i)
		}
		seen[first] = true
	}
}

func TestPaddedUint64Ops(t *testing.T) {
	var p PaddedUint64
	if p.Load() != 0 {
		t.Fatal("zero value is not 0")
	}
	p.Store(5)
	if got := p.Add(3); got != 8 {
		t.Fatalf("Add = %d, want 8", got)
	}
	if p.CompareAndSwap(7, 1) {
		t.Fatal("CompareAndSwap succeeded with wrong old value")
	}
	if !p.CompareAndSwap(8, 1) || p.Load() != 1 {
		t.Fatal("CompareAndSwap failed with right old value")
	}
	if got := p.Add(^uint64(0)); got != 0 {
		t.Fatalf("Add(-1) = %d, want 0", got)
	}
}

func TestPaddedUint64Concurrent(t *testing.T) {
	const workers, per = 4, 1000
	var arr [workers]PaddedUint64
	var total PaddedUint64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				arr[w].Add(1)
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	for w := range arr {
		if got := arr[w].Load(); got != per {
			t.Errorf("arr[%d] = %d, want %d", w, got, per)
		}
	}
	if got := total.Load(); got != workers*per {
		t.Fatalf("total = %d, want %d", got, workers*per)
	}
}
