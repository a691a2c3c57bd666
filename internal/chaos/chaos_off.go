//go:build !substrate_adversarial

package chaos

// Enabled reports whether this build has the adversarial hooks (the
// substrate_adversarial build tag). It is a constant, so code guarded by it
// is compiled out of normal builds.
const Enabled = false

// Yield marks a critical point named point. In this build it does nothing
// and is inlined away.
func Yield(point string) {}

// Hits returns how many times each point was reached since the start of the
// process (or the last Reset). In this build nothing is counted and it
// returns nil.
func Hits() map[string]int64 { return nil }

// Reset clears the hit counts. In this build it does nothing.
func Reset() {}
