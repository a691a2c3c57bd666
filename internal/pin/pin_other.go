//go:build !linux

package pin

const supported = false

// pinThread is a no-op where thread affinity is not implemented.
func pinThread(int) (restore func() error, err error) {
	return func() error { return nil }, nil
}
