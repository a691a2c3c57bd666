package cacheline

import "sync/atomic"

// PaddedUint64 is an atomic uint64 that occupies exactly PadSize (128) bytes:
// the counter comes first and the rest of the block is padding. In an array
// [N]PaddedUint64 consecutive counters are therefore exactly 128 bytes apart,
// so each one sits alone in its own 128-byte aligned block (and its own
// 64-byte line) whatever the array's base address, and per-core or
// per-shard counters do not false-share.
//
// When embedding a PaddedUint64 in a struct, nothing in front of it is
// padded: put a Pad128 (or a cold field) before it if the preceding field is
// also written concurrently.
//
// The zero value is a counter holding 0. A PaddedUint64 must not be copied
// after first use.
type PaddedUint64 struct {
	v atomic.Uint64
	_ [PadSize - 8]byte
}

// Load atomically loads and returns the counter's value.
func (p *PaddedUint64) Load() uint64 { return p.v.Load() }

// Store atomically stores val into the counter.
func (p *PaddedUint64) Store(val uint64) { p.v.Store(val) }

// Add atomically adds delta to the counter and returns the new value. To
// subtract d, add ^uint64(d-1).
func (p *PaddedUint64) Add(delta uint64) uint64 { return p.v.Add(delta) }

// CompareAndSwap executes the compare-and-swap operation on the counter:
// if it holds old it is set to new and CompareAndSwap reports true.
func (p *PaddedUint64) CompareAndSwap(old, new uint64) bool {
	return p.v.CompareAndSwap(old, new)
}

// Or atomically sets the bits of mask in the counter and returns the old
// value.
func (p *PaddedUint64) Or(mask uint64) uint64 { return p.v.Or(mask) }

// And atomically keeps only the bits of mask in the counter and returns
// the old value.
func (p *PaddedUint64) And(mask uint64) uint64 { return p.v.And(mask) }
