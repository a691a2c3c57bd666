// Package procid tells which processor (the Go runtime's P) the calling
// goroutine runs on, for per-processor data without sync.Pool. It reaches
// the runtime's procPin and procUnpin by linkname, as sync.Pool does
// internally: the runtime keeps both reachable for the packages listed at
// go.dev/issue/67401 (github.com/choleraehyq/pid offers the same, but is
// not served by this workplace's module proxy).
//
// The number is a hint: the goroutine may move to another processor right
// after the call. Code that uses it for ownership must still take what it
// owns with an atomic operation; the hint only makes the goroutines running
// at one moment choose different things (no two of them are on one P), so
// that those operations find their cache lines local and uncontended.
package procid

import (
	_ "unsafe" // for go:linkname
)

//go:linkname runtimeProcPin runtime.procPin
func runtimeProcPin() int

//go:linkname runtimeProcUnpin runtime.procUnpin
func runtimeProcUnpin()

// Get returns the number of the processor the caller runs on now, in
// [0, runtime.GOMAXPROCS(0)) (as of the call). It costs two runtime calls
// and no atomic operation.
func Get() int {
	p := runtimeProcPin()
	runtimeProcUnpin()
	return p
}
