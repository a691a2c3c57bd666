package procid

import (
	"runtime"
	"sync"
	"testing"
)

func TestGetInRange(t *testing.T) {
	n := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	errs := make(chan int, 64)
	for range 4 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if p := Get(); p < 0 || p >= n {
					errs <- p
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for p := range errs {
		t.Fatalf("Get() = %d, want [0, %d)", p, n)
	}
}

func BenchmarkGet(b *testing.B) {
	b.ReportAllocs()
	s := 0
	for b.Loop() {
		s += Get()
	}
	_ = s
}
