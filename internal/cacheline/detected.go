package cacheline

import "github.com/klauspost/cpuid/v2"

// Detected returns the cache line size in bytes that the CPU reports through
// CPUID (github.com/klauspost/cpuid/v2, cpuid.CPU.CacheLine), or Size when
// the CPU reports nothing usable (0, as on some virtual machines and
// non-x86 systems). It is meant for environment reports and sanity checks;
// type layouts use the constants Size and PadSize.
func Detected() int {
	return lineOr(cpuid.CPU.CacheLine, Size)
}

// lineOr returns n if it is a plausible cache line size (a positive power of
// two), else fallback.
func lineOr(n, fallback int) int {
	if n <= 0 || n&(n-1) != 0 {
		return fallback
	}
	return n
}
