//go:build !race

package txn

// raceEnabled reports whether the test binary was built with -race; the
// race detector allocates, so allocation assertions are skipped under it.
const raceEnabled = false
