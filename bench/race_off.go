//go:build !race

package bench

// raceEnabled reports whether the binary was built with -race. Tests use it
// to skip the cases that are too slow under the race detector; figures from a
// race build are meaningless and the report says so.
const raceEnabled = false
