package arena

// Stock is one owner's private front to a [Pool]: a FIFO of the nodes the
// owner retired, tagged with their retire epochs, from which it takes
// nodes back once the pool's [Epochs] scheme makes them safe, without the
// pool's mutex. It is for a pool with one steady user (package mvcc gives
// each of the first fixed epoch slots a Stock per store): the pool's lock
// and unlock are two full fences per node (about 12 ns on the 2-core VM,
// a tenth of a single-key write), which a stock spends only when it spills
// or falls back.
//
// Protocol of RetireAndGet(x):
//  1. Retire x: tag it with Epoch() (raised to the newest tag, so the FIFO
//     stays sorted) and append it. A full stock first spills its older
//     half to the pool (one critical section, tags kept).
//  2. Take: if the oldest node's tag is below Safe(), read after every
//     node in the stock was retired, no reader can hold it: zero it and
//     return it. Epochs apply Safe only to nodes retired before the call,
//     which every stocked node is.
//  3. Otherwise, if the scheme is an [Advancer] and the owner has retired
//     at least [AdvanceEvery] nodes since it last asked, ask it to advance
//     and try step 2 once more (a lazily advancing scheme must not make
//     the owner allocate in steady state, as for Pool.TryGet).
//  4. Otherwise fall back to the pool (Pool.TryGet, which also serves
//     the nodes this stock spilled), and return nil if it has none: the
//     caller allocates (Pool.Alloc) or looks elsewhere.
//
// Counters: nodes a stock hands out again count in the pool's
// PoolStats.Reused, added under the pool's lock every stockFlushEvery
// reuses and at Flush; PoolStats.Retired and Free do not count the nodes
// a stock holds (at most its size). Nodes left in a stock that is
// dropped are collected by the GC, like nodes the pool drops.
//
// A Stock is not safe for concurrent use: one goroutine at a time (its
// owner; handing it to another goroutine needs a happens-before edge, as
// for any plain data). The pool it fronts stays goroutine-safe for
// everyone else. A Stock must not be copied.
type Stock[T any] struct {
	p *Pool[T]
	// ring holds the stocked nodes, oldest at head, n of them; tags never
	// decrease from head to tail. len(ring) is a power of two.
	ring    []retiredNode[T]
	head, n int
	last    uint64 // the newest tag in ring
	// reused counts nodes handed out since the last flush into p.reused;
	// retired counts retirements since the last call of Advance.
	reused, retired uint64
}

// stockFlushEvery is how many reuses a Stock counts before it adds them to
// its pool's PoolStats.Reused (one lock per that many nodes).
const stockFlushEvery = 64

// NewStock returns an empty Stock of up to size nodes (rounded up to a
// power of two, at least 2) in front of p. A stock should hold what its
// owner retires between two advances of the epoch scheme, or its spills
// (and the owner's falls back to the pool) take the lock it exists to
// avoid. The stock passes everything straight to the pool (stocking
// nothing) when the pool cannot reuse nodes (nil Epochs, or WithMaxFree
// of 0) or bounds its retired nodes below size (WithMaxRetired): those
// bounds are the pool's promise about memory, which a stock must not
// widen. A nil p gives a stock whose RetireAndGet always returns nil.
func (p *Pool[T]) NewStock(size int) *Stock[T] {
	s := &Stock[T]{p: p}
	if p == nil || p.ep == nil || p.maxFree == 0 || size > p.maxRetired {
		return s
	}
	n := 2
	for n < size {
		n *= 2
	}
	s.ring = make([]retiredNode[T], n)
	return s
}

// RetireAndGet retires x (nil: nothing), which the caller must already
// have made unreachable for new readers, then returns a zeroed node that
// no reader can still hold, or nil if neither the stock nor the pool has
// one (see the protocol on [Stock]). It allocates nothing. The node
// returned may be x itself, when the scheme's Safe has passed x's tag
// between the two reads (which the Epochs contract allows: Safe covers
// every node retired before it was read).
func (s *Stock[T]) RetireAndGet(x *T) *T {
	p := s.p
	if len(s.ring) == 0 { // a pass-through stock (see NewStock)
		if p == nil {
			return nil
		}
		return p.RetireAndGet(x)
	}
	if x != nil { // (1)
		s.last = max(p.ep.Epoch(), s.last)
		s.put(x, s.last)
	}
	if y := s.take(); y != nil { // (2)
		return y
	}
	if s.n > 0 && p.adv != nil && s.retired >= AdvanceEvery { // (3)
		s.retired = 0
		p.adv.Advance()
		if y := s.take(); y != nil {
			return y
		}
	}
	return p.TryGet() // (4)
}

// RetireAll retires the nodes of xs (nil ones are ignored) into the
// stock, as step 1 of RetireAndGet does one by one, spilling when full; it
// takes nothing. xs itself is not kept. mvcc hands it the versions a hot
// key's prune unlinks at once, which the owner's next installs take back.
// A pass-through stock retires them to the pool (Pool.RetireAll).
func (s *Stock[T]) RetireAll(xs []*T) {
	p := s.p
	if len(s.ring) == 0 {
		if p != nil {
			p.RetireAll(xs)
		}
		return
	}
	s.last = max(p.ep.Epoch(), s.last)
	for _, x := range xs {
		if x != nil {
			s.put(x, s.last)
		}
	}
}

// put appends x with tag e (>= every tag in the ring), spilling first when
// the ring is full.
func (s *Stock[T]) put(x *T, e uint64) {
	if s.n == len(s.ring) {
		s.spill()
	}
	s.ring[(s.head+s.n)&(len(s.ring)-1)] = retiredNode[T]{x: x, epoch: e}
	s.n++
	s.retired++
}

// take is step 2 of RetireAndGet.
func (s *Stock[T]) take() *T {
	if s.n == 0 || s.ring[s.head].epoch >= s.p.ep.Safe() {
		return nil
	}
	r := &s.ring[s.head]
	y := r.x
	*r = retiredNode[T]{}
	s.head = (s.head + 1) & (len(s.ring) - 1)
	s.n--
	var zero T
	*y = zero
	if s.reused++; s.reused == stockFlushEvery {
		s.Flush()
	}
	return y
}

// spill hands the older half of a full stock to the pool, tags kept.
func (s *Stock[T]) spill() {
	k := s.n / 2
	p := s.p
	p.mu.Lock()
	for range k {
		r := &s.ring[s.head]
		p.push(r.x, r.epoch)
		*r = retiredNode[T]{}
		s.head = (s.head + 1) & (len(s.ring) - 1)
		s.n--
	}
	p.mu.Unlock()
}

// Len returns the number of nodes in the stock.
func (s *Stock[T]) Len() int { return s.n }

// Flush adds the stock's uncounted reuses to its pool's PoolStats.Reused.
// RetireAndGet flushes every stockFlushEvery reuses by itself; call Flush
// before reading Stats when exact counts matter.
func (s *Stock[T]) Flush() {
	if s.reused == 0 || s.p == nil {
		return
	}
	s.p.mu.Lock()
	s.p.reused += s.reused
	s.p.mu.Unlock()
	s.reused = 0
}
