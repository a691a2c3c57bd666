//go:build race

package stress

// raceEnabled reports a -race build: its critical sections run about ten
// times slower, which lengthens every convoy behind a preempted lock holder.
const raceEnabled = true
