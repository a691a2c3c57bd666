//go:build race

package mvcc

// raceEnabled reports whether the test binary was built with -race; the
// race detector allocates, so allocation assertions are skipped under it.
const raceEnabled = true
