// Package cacheline holds the cache-line constants, padding types and a
// padded atomic counter that substrate's lock-free structures use to keep
// hot, independently written words from false sharing.
//
// Use PadSize (128 bytes), not Size (64 bytes), to separate words that
// different cores write concurrently; see PadSize for why.
package cacheline

// Size is the cache line size in bytes that the Go runtime assumes on amd64
// and arm64 (internal/goarch.CacheLinePadSize). It is the unit of coherence:
// two words in the same 64-byte line always false-share.
//
// Detected reports what the CPU itself says; Size is the compile-time
// constant to use in type layouts.
const Size = 64

// PadSize is the distance, in bytes, kept between hot contended words.
//
// It is 128, twice Size, because of the L2 adjacent-line ("spatial")
// prefetcher on x86 (Intel since Sandy Bridge, and AMD Zen): on a miss it
// fetches the 64-byte line together with its buddy in the same 128-byte
// aligned pair. Two hot words on adjacent 64-byte lines therefore still
// bounce between cores as if they shared a line. Keeping them 128 bytes apart
// puts them in different pairs. golang.org/x/sys/cpu.CacheLinePad is only 64
// bytes on amd64, which is not enough for this.
//
// Go guarantees at most 8-byte alignment for ordinary values, so padding
// ensures distance, not alignment: two words at least PadSize apart can never
// share a 128-byte aligned block, wherever the allocation starts.
const PadSize = 128

// Pad64 is one cache line of padding (Size bytes) to embed as a blank field.
// It separates fields onto different 64-byte lines but not onto different
// 128-byte prefetch pairs; prefer Pad128 between contended fields.
type Pad64 [Size]byte

// Pad128 is PadSize bytes of padding to embed as a blank field between
// words that different cores write concurrently.
type Pad128 [PadSize]byte
