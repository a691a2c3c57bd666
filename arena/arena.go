package arena

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/substrate-lab/substrate/internal/cacheline"
)

// Slab size bounds and default, in bytes. See [WithSlabSize].
const (
	MinSlabSize     = 4 << 10  // 4 KiB
	MaxSlabSize     = 1 << 30  // 1 GiB
	DefaultSlabSize = 64 << 10 // 64 KiB
)

// Align is the alignment, in bytes, of every region [Arena.Alloc] returns,
// relative to the start of its slab (slabs themselves start 8-byte aligned, so
// regions are 8-byte aligned in memory too). Sizes are rounded up to it.
const Align = 8

// PutHeader is the size of the length prefix [Arena.Put] writes before the
// data: a little-endian uint64 holding len(b).
const PutHeader = 8

var (
	// ErrInvalidSize is returned by [Arena.Alloc] for a size <= 0.
	ErrInvalidSize = errors.New("arena: invalid allocation size")
	// ErrTooLarge is returned by [Arena.Alloc] and [Arena.Put] when the
	// region would not fit in one slab (see [Arena.SlabSize]).
	ErrTooLarge = errors.New("arena: allocation larger than slab size")
	// ErrFull is returned, unwrapped, when a bounded arena ([WithLimit])
	// cannot reserve another slab for the allocation. Nothing is allocated;
	// smaller allocations may still succeed.
	ErrFull = errors.New("arena: limit reached")
)

// Ref is a handle to a region of an [Arena]: the slab index plus one in the
// high 32 bits and the byte offset inside the slab in the low 32 bits. The zero
// Ref is the nil handle; a successful Alloc never returns it. A Ref is a plain
// integer, so it may itself be stored in arena memory.
type Ref uint64

func makeRef(slab, off int) Ref { return Ref(uint64(slab+1)<<32 | uint64(off)) }

// split decodes r; ok is false for the nil Ref and for offsets no slab has.
// The slab index may still be out of range.
func (r Ref) split() (slab, off int, ok bool) {
	hi, lo := uint64(r>>32), uint64(uint32(r))
	if hi == 0 || lo >= MaxSlabSize || hi-1 > math.MaxInt {
		return 0, 0, false
	}
	return int(hi - 1), int(lo), true
}

// Option configures an [Arena] at construction.
type Option func(*config)

type config struct {
	slabSize int
	limit    int64
}

// WithSlabSize sets the slab size in bytes, which is also the largest region
// one Alloc can return. n is clamped to [MinSlabSize, MaxSlabSize] and then
// rounded down to a multiple of [Align]; out-of-range values are not errors.
// The default is [DefaultSlabSize].
func WithSlabSize(n int) Option {
	return func(c *config) {
		n = max(MinSlabSize, min(n, MaxSlabSize))
		c.slabSize = n &^ (Align - 1)
	}
}

// WithLimit bounds the bytes the arena reserves ([Arena.Cap]) to maxBytes;
// once reached, Alloc returns [ErrFull]. The last slab is shortened so that Cap
// never exceeds the limit. maxBytes <= 0 means unbounded, the default. Because
// the tail of a slab that cannot hold the next allocation is skipped, Len can
// stay below the limit when ErrFull is first returned.
func WithLimit(maxBytes int64) Option {
	return func(c *config) { c.limit = max(maxBytes, 0) }
}

// slab is one fixed chunk of arena memory. buf never changes after creation;
// used is the bump pointer (bytes handed out), padded away from buf so that
// allocators bumping it do not slow readers loading buf.
type slab struct {
	buf  []byte
	_    cacheline.Pad128
	used atomic.Int64
	_    cacheline.Pad128
}

// directory is an immutable snapshot of the slabs. Alloc replaces it when it
// adds a slab, so readers index it without locks or races.
type directory struct {
	slabs []*slab
}

// Arena is a pointer-free byte arena: regions of fixed-size []byte slabs,
// addressed by [Ref] offsets instead of Go pointers, so the GC never scans its
// contents. Callers must never store Go pointers (or pointers disguised as
// uintptr) in it; see the package documentation.
//
// Arena is goroutine-safe. Alloc is lock-free in the common case: a CAS on the
// current slab's bump pointer. Only adding a slab takes a mutex, after which
// the new slab directory is published through an atomic pointer. Slabs are
// never moved or resized, so Bytes and Get of regions already handed out never
// race with Allocs of other regions. Memory is freed only all at once, by
// Reset or by dropping the Arena.
//
// Pedigree: region (bump) allocation (Hanson, "Fast allocation and
// deallocation of memory based on object lifetimes", 1990) with offset handles
// and an atomic bump as in badger's skiplist arena (dgraph-io/badger skl),
// extended to a growable list of slabs.
//
// An Arena must not be copied after first use.
type Arena struct {
	dir      atomic.Pointer[directory]
	slabSize int
	limit    int64

	mu       sync.Mutex   // serialises adding slabs and Reset
	reserved atomic.Int64 // bytes in slabs; written under mu
}

// New returns an empty arena. It reserves no memory until the first Alloc.
func New(opts ...Option) *Arena {
	c := config{slabSize: DefaultSlabSize}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	a := &Arena{slabSize: c.slabSize, limit: c.limit}
	a.dir.Store(&directory{})
	return a
}

// SlabSize returns the slab size in bytes: the largest n Alloc accepts.
func (a *Arena) SlabSize() int { return a.slabSize }

// Alloc reserves n bytes (rounded up to [Align]) and returns their handle. The
// memory is zero unless the caller wrote it. It returns [ErrInvalidSize] for
// n <= 0, [ErrTooLarge] for n > SlabSize(), and [ErrFull] when a bounded arena
// has no room; on error nothing is allocated.
func (a *Arena) Alloc(n int) (Ref, error) {
	if n <= 0 {
		return 0, fmt.Errorf("%w: %d bytes", ErrInvalidSize, n)
	}
	if n > a.slabSize {
		return 0, fmt.Errorf("%w: %d bytes, slab size %d", ErrTooLarge, n, a.slabSize)
	}
	need := int64(n+Align-1) &^ (Align - 1)
	d := a.dir.Load()
	if k := len(d.slabs); k > 0 {
		if off, ok := d.slabs[k-1].bump(need); ok {
			return makeRef(k-1, off), nil
		}
	}
	return a.allocSlow(need)
}

// bump reserves need bytes from s with a CAS loop; ok is false if they do not
// fit.
func (s *slab) bump(need int64) (off int, ok bool) {
	for {
		old := s.used.Load()
		if old+need > int64(len(s.buf)) {
			return 0, false
		}
		if s.used.CompareAndSwap(old, old+need) {
			return int(old), true
		}
	}
}

// allocSlow adds a slab, unless another goroutine already did and it has room.
func (a *Arena) allocSlow(need int64) (Ref, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.dir.Load()
	k := len(d.slabs)
	if k > 0 {
		if off, ok := d.slabs[k-1].bump(need); ok {
			return makeRef(k-1, off), nil
		}
	}
	if uint64(k) >= 1<<32-1 {
		return 0, ErrFull // Ref cannot address more slabs
	}
	size := int64(a.slabSize)
	if a.limit > 0 {
		size = min(size, (a.limit-a.reserved.Load())&^(Align-1))
		if size < need {
			return 0, ErrFull
		}
	}
	s := &slab{buf: make([]byte, size)}
	s.used.Store(need)
	// append may write slot k of the backing array that older snapshots
	// share, but they have length k and never read it; the atomic Store
	// publishes the slot to new readers. Amortised O(1) per slab.
	a.reserved.Add(size)
	a.dir.Store(&directory{slabs: append(d.slabs, s)})
	return makeRef(k, 0), nil
}

// Bytes returns the n-byte window at r, with capacity n so that appending to
// it reallocates instead of spilling into neighbouring regions. It returns nil
// if r is nil or not in this arena, if n <= 0, or if the window is not inside
// memory already allocated in r's slab. Bytes does not know region sizes: n
// should not exceed the size allocated at r.
func (a *Arena) Bytes(r Ref, n int) []byte {
	si, off, ok := r.split()
	if !ok || n <= 0 {
		return nil
	}
	d := a.dir.Load()
	if si >= len(d.slabs) {
		return nil
	}
	s := d.slabs[si]
	if int64(n) > s.used.Load()-int64(off) {
		return nil
	}
	return s.buf[off : off+n : off+n]
}

// Put copies b into a new region prefixed by its length ([PutHeader] bytes,
// little-endian uint64) and returns its handle for [Arena.Get]. Errors are
// those of Alloc for PutHeader+len(b) bytes; an empty b is stored too.
func (a *Arena) Put(b []byte) (Ref, error) {
	if len(b) > a.slabSize-PutHeader {
		return 0, fmt.Errorf("%w: %d bytes plus %d-byte header, slab size %d",
			ErrTooLarge, len(b), PutHeader, a.slabSize)
	}
	r, err := a.Alloc(PutHeader + len(b))
	if err != nil {
		return 0, err
	}
	w := a.Bytes(r, PutHeader+len(b))
	binary.LittleEndian.PutUint64(w, uint64(len(b)))
	copy(w[PutHeader:], b)
	return r, nil
}

// Get returns the data stored by [Arena.Put] at r, aliasing arena memory with
// its capacity limited to its length. It returns nil for an invalid r or a
// corrupt header that points outside allocated memory; for data stored empty
// it returns an empty, non-nil slice. r must come from Put: Get on another
// region reads its first 8 bytes as a length.
func (a *Arena) Get(r Ref) []byte {
	h := a.Bytes(r, PutHeader)
	if h == nil {
		return nil
	}
	n := binary.LittleEndian.Uint64(h)
	if n > uint64(a.slabSize) {
		return nil
	}
	w := a.Bytes(r, PutHeader+int(n))
	if w == nil {
		return nil
	}
	return w[PutHeader:]
}

// Len returns the bytes handed out, including alignment padding (not the
// skipped tails of full slabs). It is a sum over slabs: a statistic, not a
// synchronisation point.
func (a *Arena) Len() int64 {
	var n int64
	for _, s := range a.dir.Load().slabs {
		n += s.used.Load()
	}
	return n
}

// Cap returns the bytes reserved in slabs; Len() <= Cap() <= the limit.
func (a *Arena) Cap() int64 { return a.reserved.Load() }

// Reset drops every slab, returning the memory to the GC, and empties the
// arena. Every Ref issued before, including by Allocs racing with Reset, is
// invalid afterwards and may alias new allocations; slices obtained from Bytes
// or Get stay valid memory but no longer belong to the arena. Reset never
// corrupts the arena, but it is meant for a quiescent arena.
func (a *Arena) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dir.Store(&directory{})
	a.reserved.Store(0)
}
