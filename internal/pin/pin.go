// Package pin pins the calling goroutine's OS thread to one CPU core, so that
// contention tests can place each worker on a known core (the plan's
// "Core pinning: Yes (contention tests)").
//
// Pinning is per OS thread and only meaningful while the goroutine stays on
// that thread, which Pin ensures with runtime.LockOSThread until unpin is
// called. Other goroutines, including the garbage collector's workers and the
// runtime's background threads, still run on the same cores; pinning removes
// migration noise, not interference. runtime.NumCPU reads the process's
// affinity mask once at start-up, so changing the mask from outside (taskset
// on a running process) is not seen.
//
// Pinning is implemented on Linux only; elsewhere Pin locks the thread but
// leaves placement to the OS, and Supported reports false.
package pin

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// ErrNegativeCore is returned (wrapped) by Pin when asked for a negative core.
var ErrNegativeCore = errors.New("pin: negative core")

// Supported reports whether Pin really restricts the thread to one core on
// this platform (Linux). Where it returns false, Pin only locks the
// goroutine to its OS thread.
func Supported() bool { return supported }

// Pin locks the calling goroutine to its current OS thread
// (runtime.LockOSThread) and, on Linux, sets that thread's CPU affinity to a
// single CPU chosen by core. It returns unpin, which restores the thread's
// previous affinity mask and then unlocks the thread; unpin must be called
// from the same goroutine, typically with defer, and is safe to call more
// than once.
//
// core is an index into the CPUs the process was allowed to run on at
// start-up (the mask runtime.NumCPU counts), taken modulo their number: on an
// unrestricted machine core k means CPU k % runtime.NumCPU(), and under
// `taskset -c 4-7` core 0 means CPU 4. Values >= runtime.NumCPU() wrap, so
// worker i can simply call Pin(i). A negative core returns an error wrapping
// ErrNegativeCore.
//
// Only the calling thread is pinned: goroutines it starts are not, and the
// GC and other runtime threads still share the core. On error the thread is
// left unlocked and unpin is a no-op, so `defer unpin()` is always safe.
//
// If restoring the previous mask fails, unpin leaves the goroutine locked to
// its thread so that the runtime discards the still-pinned thread when the
// goroutine exits instead of reusing it.
//
// On platforms other than Linux (see Supported) Pin only locks the thread
// and returns a nil error.
func Pin(core int) (unpin func(), err error) {
	if core < 0 {
		return func() {}, fmt.Errorf("%w: %d", ErrNegativeCore, core)
	}
	runtime.LockOSThread()
	restore, err := pinThread(core)
	if err != nil {
		runtime.UnlockOSThread()
		return func() {}, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			if restore() == nil {
				runtime.UnlockOSThread()
			}
		})
	}, nil
}
