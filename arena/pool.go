package arena

import (
	"sync"
	"sync/atomic"
)

// Epochs is what the pool needs from an epoch-based reclamation scheme (mvcc
// implements it later).
//
// The pool reads Epoch when a node is retired and Safe when it looks for
// reusable nodes, always without holding its own lock, so implementations may
// take locks of their own (but must not call back into the pool). The pool
// applies a Safe value only to nodes retired before Safe was called, so the
// guarantee need only hold at the moment of the call: returning Epoch()+1 when
// no reader is active is correct, even though a reader may enter right after.
type Epochs interface {
	// Epoch returns the current global epoch. A node retired now is tagged with it.
	Epoch() uint64
	// Safe returns an epoch s such that no reader can still hold a node retired at an epoch < s.
	Safe() uint64
}

// Advancer is implemented by an [Epochs] scheme that can move Safe forward
// on demand, for example by recomputing a cached watermark that it otherwise
// refreshes only now and then. When Get finds no reusable node while nodes
// wait in the retired queue, a pool whose Epochs is also an Advancer calls
// Advance (without holding its lock, at most once per [AdvanceEvery]
// retirements) and looks again, so that a lazily advancing scheme does not
// make the pool allocate in steady state.
type Advancer interface {
	// Advance tries to raise Safe. It may do nothing (a reader still holds
	// an old epoch); it must not call back into the pool.
	Advance()
}

// AdvanceEvery is the minimum number of retirements between two calls of
// Advance by one pool: while a reader pins the epoch, Advance cannot help,
// and this bounds what the pool spends trying (one call per AdvanceEvery
// nodes allocated instead of reused).
const AdvanceEvery = 64

// Pool defaults. See [WithMaxFree] and [WithMaxRetired].
const (
	DefaultMaxFree    = 4096
	DefaultMaxRetired = 1 << 16
)

// PoolOption configures a [Pool] at construction.
type PoolOption func(*poolConfig)

type poolConfig struct {
	maxFree, maxRetired int
}

// WithMaxFree bounds the free list (nodes ready for reuse) to n nodes;
// matured nodes beyond it are dropped to the GC. n < 0 is treated as 0, which
// disables reuse. The default is [DefaultMaxFree].
func WithMaxFree(n int) PoolOption {
	return func(c *poolConfig) { c.maxFree = max(n, 0) }
}

// WithMaxRetired bounds the retired queue (nodes waiting for their epoch to
// become safe) to n nodes; Retire drops nodes beyond it to the GC, which is
// always safe because the GC keeps a node alive while any reader holds it. The
// bound caps the memory a stalled epoch (a forgotten snapshot) can pin through
// the pool; the stall stays visible in [PoolStats]. n < 0 is treated as 0.
// The default is [DefaultMaxRetired].
func WithMaxRetired(n int) PoolOption {
	return func(c *poolConfig) { c.maxRetired = max(n, 0) }
}

// PoolStats is a snapshot of a [Pool]'s counters.
type PoolStats struct {
	Allocated uint64 // nodes Get created with new(T)
	Reused    uint64 // nodes Get served from the free list
	Retired   int    // retired nodes still waiting for Safe() to pass their epoch
	Free      int    // nodes ready for reuse
	Dropped   uint64 // nodes left to the GC because a bound was reached

	// OldestRetired is the retire epoch of the oldest waiting node (valid
	// when Retired > 0): reuse is blocked until Safe() exceeds it. A value
	// that stops moving while Retired grows points at a stalled reader.
	OldestRetired uint64
}

type retiredNode[T any] struct {
	x     *T
	epoch uint64
}

// Pool is a typed node pool with epoch-deferred reuse: Retire takes a node
// that readers may still hold, and Get hands it out again, zeroed, only once
// the [Epochs] scheme guarantees that no reader can still hold it. Nodes may
// contain Go pointers; they are ordinary heap objects, and a node dropped by
// the pool is simply collected by the GC.
//
// Pool is goroutine-safe and blocking: Get, Retire and RetireAndGet take
// one mutex protecting a FIFO ring of retired nodes ordered by retire epoch
// and a bounded LIFO free list. In steady state all are allocation-free.
// A user that retires and takes nodes steadily can put a [Stock] of its
// own in front of the pool and take the mutex only now and then.
//
// Pedigree: the limbo lists of epoch-based reclamation (Fraser, "Practical
// lock-freedom", 2004; crossbeam-epoch), feeding a free list instead of free().
//
// A Pool must not be copied after first use.
type Pool[T any] struct {
	ep                  Epochs
	adv                 Advancer // ep, if it implements Advancer; else nil
	maxFree, maxRetired int

	mu sync.Mutex
	// ring holds retired nodes; head is the oldest, n the count. Epochs
	// in it never decrease.
	ring    []retiredNode[T]
	head, n int
	// pushed counts nodes ever put in the ring, popped those taken out;
	// pushed - popped == n.
	pushed, popped uint64
	free           []*T
	allocated      atomic.Uint64 // Alloc calls; atomic so that Alloc takes no lock
	reused         uint64
	dropped        uint64
	lastEpoch      uint64 // the epoch of the newest ring entry
	advancedAt     uint64 // pushed at the last call of adv.Advance
}

// NewPool returns an empty pool reusing nodes as ep allows. A nil ep never
// allows reuse: Retire drops every node to the GC and Get always allocates.
func NewPool[T any](ep Epochs, opts ...PoolOption) *Pool[T] {
	c := poolConfig{maxFree: DefaultMaxFree, maxRetired: DefaultMaxRetired}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	p := &Pool[T]{ep: ep, maxFree: c.maxFree, maxRetired: c.maxRetired}
	p.adv, _ = ep.(Advancer)
	return p
}

// Get returns a zeroed node: a retired one whose retire epoch is below
// ep.Safe() if one exists, else new(T).
func (p *Pool[T]) Get() *T {
	if x := p.TryGet(); x != nil {
		return x
	}
	return p.Alloc()
}

// TryGet returns a zeroed reusable node, or nil when the pool has none: a
// free one, else a retired one whose retire epoch is below ep.Safe() (asking
// an [Advancer] scheme to advance first when nothing is safe yet, at most
// once per [AdvanceEvery] retirements). It never allocates; callers that
// shard nodes over several pools use it to look in another pool before
// allocating with [Pool.Alloc].
func (p *Pool[T]) TryGet() *T {
	p.mu.Lock()
	x := p.popFree()
	if x == nil && p.n > 0 && p.ep != nil {
		upTo := p.pushed
		p.mu.Unlock()
		safe := p.ep.Safe()
		p.mu.Lock()
		p.drain(safe, upTo)
		x = p.popFree()
		if x == nil && p.adv != nil && p.n > 0 && p.pushed-p.advancedAt >= AdvanceEvery {
			// Nothing is reusable yet, but nodes wait: ask the scheme to
			// advance, then look again (see Advancer).
			p.advancedAt = p.pushed
			upTo = p.pushed
			p.mu.Unlock()
			p.adv.Advance()
			safe = p.ep.Safe()
			p.mu.Lock()
			p.drain(safe, upTo)
			x = p.popFree()
		}
	}
	p.mu.Unlock()
	if x != nil {
		var zero T
		*x = zero
	}
	return x
}

// Alloc returns new(T) and counts it in PoolStats.Allocated: what Get does
// when TryGet finds nothing.
func (p *Pool[T]) Alloc() *T {
	p.allocated.Add(1)
	return new(T)
}

// Retire hands x back to the pool. The caller must already have made x
// unreachable for new readers; readers that still hold it may keep reading
// it, because x is reused only once ep.Safe() exceeds the epoch read here.
// The caller must not use x afterwards, nor retire it twice. nil is ignored.
func (p *Pool[T]) Retire(x *T) {
	if x != nil {
		p.RetireAll([]*T{x}) // the one-element slice stays on the stack
	}
}

// RetireAll retires the nodes of xs (nil ones are ignored), as Retire does
// one by one, but reading the epoch once and taking the pool's lock once;
// it returns how many nodes it retired. The caller must not use them
// afterwards; xs itself is not kept. It is for callers that unlink many
// nodes at once: mvcc retires up to WatermarkEvery versions in one prune of
// a hot key, and a lock per node made that install the slowest of about a
// hundred (docs/BENCHMARKS.md, "Hot records: prune only when the
// watermark moved").
func (p *Pool[T]) RetireAll(xs []*T) int {
	n := 0
	if p.ep == nil {
		p.mu.Lock()
		for _, x := range xs {
			if x != nil {
				p.dropped++
				n++
			}
		}
		p.mu.Unlock()
		return n
	}
	e := p.ep.Epoch()
	p.mu.Lock()
	for _, x := range xs {
		if x != nil {
			p.push(x, e)
			n++
		}
	}
	p.mu.Unlock()
	return n
}

// RetireAndGet is Retire(x) followed by TryGet, taking the pool's lock once
// when the free list has a node (the steady state of a pool that is fed as
// fast as it is drawn from): a committer that replaces a version retires
// the old node and takes a new one in one critical section. x (nil: none)
// is never the node returned, since it was retired at the current epoch.
// When the free list is empty it falls back to TryGet's protocol (which
// reads Safe without the lock and drains only nodes retired before that).
// Measured on the 2-core VM before it: the two lock/unlock pairs of a
// separate TryGet and Retire were 14% of engine_put_direct's profile.
func (p *Pool[T]) RetireAndGet(x *T) *T {
	if x != nil && p.ep != nil {
		e := p.ep.Epoch()
		p.mu.Lock()
		p.push(x, e)
		y := p.popFree()
		p.mu.Unlock()
		if y != nil {
			var zero T
			*y = zero
			return y
		}
	} else {
		p.Retire(x)
	}
	return p.TryGet()
}

// push appends x, retired at epoch e, to the ring (or drops it when the
// ring is at its bound). p.mu is held.
func (p *Pool[T]) push(x *T, e uint64) {
	if p.n >= p.maxRetired {
		p.dropped++
		return
	}
	if p.n == len(p.ring) {
		p.grow()
	}
	// Concurrent Retires may read epochs in one order and enqueue in
	// another. Raising e to the newest tag keeps the ring sorted and only
	// delays reuse, never hastens it.
	if p.n > 0 && e < p.lastEpoch {
		e = p.lastEpoch
	}
	p.lastEpoch = e
	p.ring[(p.head+p.n)%len(p.ring)] = retiredNode[T]{x: x, epoch: e}
	p.n++
	p.pushed++
}

// Stats returns the pool's counters. It first moves nodes that Safe() has
// released to the free list, so Retired counts only nodes still waiting.
func (p *Pool[T]) Stats() PoolStats {
	p.mu.Lock()
	upTo, pending := p.pushed, p.n > 0
	p.mu.Unlock()
	var safe uint64
	if pending && p.ep != nil {
		safe = p.ep.Safe()
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if pending && p.ep != nil {
		p.drain(safe, upTo)
	}
	s := PoolStats{
		Allocated: p.allocated.Load(),
		Reused:    p.reused,
		Retired:   p.n,
		Free:      len(p.free),
		Dropped:   p.dropped,
	}
	if p.n > 0 {
		s.OldestRetired = p.ring[p.head].epoch
	}
	return s
}

// popFree takes a node off the free list, or returns nil. p.mu is held.
func (p *Pool[T]) popFree() *T {
	k := len(p.free)
	if k == 0 {
		return nil
	}
	x := p.free[k-1]
	p.free[k-1] = nil
	p.free = p.free[:k-1]
	p.reused++
	return x
}

// drain moves ring entries with epoch < safe that were pushed before upTo to
// the free list, dropping those beyond maxFree. p.mu is held.
func (p *Pool[T]) drain(safe, upTo uint64) {
	for p.n > 0 && p.popped < upTo {
		r := &p.ring[p.head]
		if r.epoch >= safe {
			return
		}
		if len(p.free) < p.maxFree {
			p.free = append(p.free, r.x)
		} else {
			p.dropped++
		}
		*r = retiredNode[T]{}
		p.head = (p.head + 1) % len(p.ring)
		p.n--
		p.popped++
	}
}

// grow doubles the ring (at least 16 slots, at most maxRetired), keeping
// order. p.mu is held and the ring is full.
func (p *Pool[T]) grow() {
	size := min(max(2*len(p.ring), 16), p.maxRetired)
	ring := make([]retiredNode[T], size)
	k := copy(ring, p.ring[p.head:])
	copy(ring[k:], p.ring[:p.head])
	p.ring = ring
	p.head = 0
}
