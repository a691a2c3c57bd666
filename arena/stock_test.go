package arena

import (
	"math/rand/v2"
	"testing"
)

// TestStockEpochDeferral: a stocked node comes back only once Safe()
// exceeds the epoch it was retired at, zeroed, and intact until then.
func TestStockEpochDeferral(t *testing.T) {
	ep := newFake(5, 5)
	p := NewPool[node](ep)
	s := p.NewStock(8)
	x := p.Get()
	x.A, x.Next, x.Tags = 1, x, []string{"held"}
	if y := s.RetireAndGet(x); y != nil {
		t.Fatalf("got %p while Safe() = 5 = x's epoch (x is %p)", y, x)
	}
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1", s.Len())
	}
	if x.A != 1 || x.Next != x || len(x.Tags) != 1 {
		t.Fatal("stocked node modified before Safe() passed its epoch")
	}
	ep.safe.Store(6)
	y := s.RetireAndGet(nil)
	if y != x {
		t.Fatalf("got %p, want the stocked node %p once Safe() = 6", y, x)
	}
	if y.A != 0 || y.Next != nil || y.Tags != nil {
		t.Fatalf("reused node not zeroed: %+v", *y)
	}
	if s.Len() != 0 || s.RetireAndGet(nil) != nil {
		t.Fatal("stock not empty after handing its only node out")
	}
}

// TestStockFIFOByEpoch: nodes come back oldest first, each only once Safe
// passes its own tag; a tag read lower than an earlier one is raised to it
// (the FIFO stays sorted; reuse only gets later).
func TestStockFIFOByEpoch(t *testing.T) {
	ep := newFake(1, 0)
	p := NewPool[node](ep)
	s := p.NewStock(16)
	xs := make([]*node, 4)
	for i := range xs {
		xs[i] = new(node)
		ep.cur.Store(uint64(10 * (i + 1))) // tags 10, 20, 30, 40
		if i == 3 {
			ep.cur.Store(25) // read below the newest tag: raised to 30
		}
		if y := s.RetireAndGet(xs[i]); y != nil {
			t.Fatalf("retire %d returned %p with Safe() = 0", i, y)
		}
	}
	for i, safe := range []uint64{11, 21, 31, 31} {
		ep.safe.Store(safe)
		if y := s.RetireAndGet(nil); y != xs[i] {
			t.Fatalf("Safe() = %d: got %p, want node %d (%p)", safe, y, i, xs[i])
		}
		if i < 2 {
			if y := s.RetireAndGet(nil); y != nil {
				t.Fatalf("Safe() = %d: a second node %p came back before its epoch", safe, y)
			}
		}
	}
}

// TestStockSpillKeepsTags: a full stock hands its older half to the pool
// with their own tags (not the current epoch), where the owner's fall-back
// and anyone's TryGet find them once Safe passes those tags.
func TestStockSpillKeepsTags(t *testing.T) {
	ep := newFake(0, 0)
	p := NewPool[node](ep)
	s := p.NewStock(4)
	xs := make([]*node, 5)
	for i := range xs {
		xs[i] = new(node)
		ep.cur.Store(uint64(i + 1)) // tags 1..5
		if y := s.RetireAndGet(xs[i]); y != nil {
			t.Fatalf("retire %d returned %p", i, y)
		}
	}
	if s.Len() != 3 {
		t.Fatalf("Len = %d after a spill of 2 of 4 and one more retire, want 3", s.Len())
	}
	if st := p.Stats(); st.Retired != 2 || st.OldestRetired != 1 {
		t.Fatalf("pool after the spill: %+v, want 2 retired, oldest tag 1", st)
	}
	ep.safe.Store(2) // only the node tagged 1 is safe: in the pool now
	if y := s.RetireAndGet(nil); y != xs[0] {
		t.Fatalf("fall-back to the pool: got %p, want the spilled node tagged 1 (%p)", y, xs[0])
	}
	if y := s.RetireAndGet(nil); y != nil {
		t.Fatalf("got %p with Safe() = 2; every other node is tagged 2 or later", y)
	}
	ep.safe.Store(3)
	if y := p.TryGet(); y != xs[1] {
		t.Fatalf("the pool's TryGet: got %p, want the spilled node tagged 2 (%p)", y, xs[1])
	}
}

// TestStockAdvancesWhenStuck: with nothing safe, an owner that has retired
// AdvanceEvery nodes since it last asked makes an Advancer advance, once,
// and reuses what that made safe instead of falling back.
func TestStockAdvancesWhenStuck(t *testing.T) {
	a := &advancingEpochs{}
	a.cur.Store(10)
	p := NewPool[node](a)
	s := p.NewStock(4 * AdvanceEvery)
	for range AdvanceEvery - 1 {
		if y := s.RetireAndGet(new(node)); y != nil {
			t.Fatal("a node came back before anything was safe")
		}
	}
	if a.calls.Load() != 0 {
		t.Fatalf("advanced after %d retirements (< AdvanceEvery)", AdvanceEvery-1)
	}
	if y := s.RetireAndGet(new(node)); y == nil || a.calls.Load() != 1 {
		t.Fatalf("after AdvanceEvery retirements: node %v, %d Advance calls; want a node and 1", y, a.calls.Load())
	}
	for i := 1; i < AdvanceEvery; i++ {
		if s.RetireAndGet(nil) == nil {
			t.Fatalf("node %d missing after the advance", i)
		}
	}
	if a.calls.Load() != 1 || s.Len() != 0 {
		t.Fatalf("%d Advance calls (want 1), %d left in the stock (want 0)", a.calls.Load(), s.Len())
	}
}

// TestStockCountsReuse: reuses from a stock reach the pool's
// PoolStats.Reused every stockFlushEvery nodes and at Flush; stocked nodes
// are not in Retired or Free.
func TestStockCountsReuse(t *testing.T) {
	ep := newFake(1, 0)
	p := NewPool[node](ep)
	s := p.NewStock(256)
	const n = stockFlushEvery + 10
	xs := make([]*node, n)
	for i := range xs {
		xs[i] = new(node)
		s.RetireAndGet(xs[i])
	}
	if st := p.Stats(); st.Retired != 0 || st.Free != 0 || st.Reused != 0 {
		t.Fatalf("stocked nodes counted by the pool: %+v", st)
	}
	ep.safe.Store(2)
	for i := range n {
		if y := s.RetireAndGet(nil); y != xs[i] {
			t.Fatalf("reuse %d: got %p, want %p", i, y, xs[i])
		}
	}
	if got := p.Stats().Reused; got != stockFlushEvery {
		t.Fatalf("Reused = %d before Flush, want %d (one automatic flush)", got, stockFlushEvery)
	}
	s.Flush()
	if got := p.Stats().Reused; got != n {
		t.Fatalf("Reused = %d after Flush, want %d", got, n)
	}
}

// TestStockPassThrough: a stock in front of a pool that cannot reuse, or
// whose retired bound is below the stock's size, stocks nothing and acts
// as the pool's RetireAndGet; a stock without a pool returns nil.
func TestStockPassThrough(t *testing.T) {
	for name, p := range map[string]*Pool[node]{
		"nil epochs":      NewPool[node](nil),
		"no free list":    NewPool[node](newFake(1, 0), WithMaxFree(0)),
		"retired bound 4": NewPool[node](newFake(1, 0), WithMaxRetired(4)),
	} {
		s := p.NewStock(8)
		x := new(node)
		if y := s.RetireAndGet(x); y != nil || s.Len() != 0 {
			t.Errorf("%s: got %p, Len %d; want nil and 0", name, y, s.Len())
		}
		st := p.Stats()
		if st.Retired+int(st.Dropped) != 1 {
			t.Errorf("%s: the node did not go to the pool: %+v", name, st)
		}
	}
	var s *Stock[node] = (*Pool[node])(nil).NewStock(8)
	if y := s.RetireAndGet(new(node)); y != nil {
		t.Fatalf("stock without a pool returned %p", y)
	}
}

// TestStockZeroAllocs: the steady state (retire one, take one) allocates
// nothing, spills and flushes included.
func TestStockZeroAllocs(t *testing.T) {
	ep := newFake(1, 0)
	p := NewPool[node](ep)
	s := p.NewStock(64)
	for range 200 {
		s.RetireAndGet(new(node))
	}
	ep.safe.Store(2)
	i := uint64(2)
	x := s.RetireAndGet(nil)
	allocs := testing.AllocsPerRun(1000, func() {
		ep.cur.Store(i)
		ep.safe.Store(i)
		i++
		x = s.RetireAndGet(x)
		if x == nil {
			panic("no node")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per retire-and-take", allocs)
	}
}

// TestStockModel checks a Stock against a trivially correct model over
// random sequences of retirements (single and batched), takes and epoch
// moves (some with a
// tiny stock, so that spills and pool fall-backs are frequent): a node
// comes back only if its retire epoch is below Safe() at that moment, only
// once per retirement, zeroed; and nothing is lost (every retired node is
// in the stock, in the pool, or came back).
func TestStockModel(t *testing.T) {
	for _, size := range []int{2, 4, 64} {
		for seed := range uint64(20) {
			rng := rand.New(rand.NewPCG(seed, uint64(size)))
			ep := newFake(1, 0)
			p := NewPool[node](ep)
			s := p.NewStock(size)
			tag := map[*node]uint64{} // retired, not yet handed back: its tag
			maxTag := uint64(0)
			var held []*node // handed out: may be retired again
			for step := range 2000 {
				switch op := rng.IntN(10); {
				case op < 3: // retire
					var x *node
					if len(held) > 0 && rng.IntN(2) == 0 {
						x, held = held[len(held)-1], held[:len(held)-1]
					} else {
						x = new(node)
					}
					x.A = uint64(step) + 1
					e := max(ep.cur.Load(), maxTag) // the tag it gets (raised to the newest)
					maxTag = e
					tag[x] = e
					if y := s.RetireAndGet(x); y != nil {
						checkTaken(t, y, tag, ep.safe.Load(), step)
						delete(tag, y)
						held = append(held, y)
					}
				case op < 5: // retire a batch (a hot key's prune)
					xs := make([]*node, rng.IntN(6))
					e := max(ep.cur.Load(), maxTag)
					maxTag = e
					for i := range xs {
						if i%3 == 2 {
							continue // nil entries are ignored
						}
						xs[i] = new(node)
						xs[i].A = uint64(step) + 1
						tag[xs[i]] = e
					}
					s.RetireAll(xs)
				case op < 7: // take
					if y := s.RetireAndGet(nil); y != nil {
						checkTaken(t, y, tag, ep.safe.Load(), step)
						delete(tag, y)
						held = append(held, y)
					}
				case op < 9: // the epoch moves
					ep.cur.Add(1)
				default: // Safe catches up with it, or part of the way
					ep.safe.Store(ep.safe.Load() + uint64(rng.IntN(int(ep.cur.Load()-ep.safe.Load())+1)))
				}
			}
			if st := p.Stats(); s.Len()+st.Retired+st.Free != len(tag) || st.Dropped != 0 {
				t.Fatalf("size %d seed %d: %d stocked + %d retired + %d free in the pool, %d dropped; the model has %d retired",
					size, seed, s.Len(), st.Retired, st.Free, st.Dropped, len(tag))
			}
		}
	}
}

func checkTaken(t *testing.T, y *node, tag map[*node]uint64, safe uint64, step int) {
	t.Helper()
	e, ok := tag[y]
	if !ok {
		t.Fatalf("step %d: %p came back but is not retired (handed out twice, or never retired)", step, y)
	}
	if e >= safe {
		t.Fatalf("step %d: %p came back with tag %d while Safe() = %d", step, y, e, safe)
	}
	if y.A != 0 {
		t.Fatalf("step %d: %p came back not zeroed", step, y)
	}
}

// TestStockRetireAll: a batch goes into the stock with one tag, nil
// entries skipped, spilling its older half when full, and comes back in
// order once Safe passes the tag; a pass-through stock hands it to the
// pool.
func TestStockRetireAll(t *testing.T) {
	ep := newFake(7, 0)
	p := NewPool[node](ep)
	s := p.NewStock(4)
	xs := []*node{new(node), nil, new(node), new(node), new(node), new(node)}
	s.RetireAll(xs)
	if s.Len() != 3 || p.Stats().Retired != 2 {
		t.Fatalf("after 5 nodes into a stock of 4: %d stocked, %d in the pool; want 3 and 2", s.Len(), p.Stats().Retired)
	}
	if y := s.RetireAndGet(nil); y != nil {
		t.Fatalf("got %p before Safe passed the batch's tag", y)
	}
	ep.safe.Store(8)
	for i, want := range []*node{xs[3], xs[4], xs[5]} {
		if y := s.RetireAndGet(nil); y != want {
			t.Fatalf("take %d: got %p, want %p", i, y, want)
		}
	}
	if y := s.RetireAndGet(nil); y != xs[0] && y != xs[2] { // the stock is empty: the pool's spilled nodes
		t.Fatalf("fall-back: got %p, want one of the spilled %p, %p", y, xs[0], xs[2])
	}
	none := NewPool[node](newFake(1, 0), WithMaxFree(0)).NewStock(4)
	none.RetireAll([]*node{new(node), nil})
	if none.Len() != 0 || none.p.Stats().Retired+int(none.p.Stats().Dropped) != 1 {
		t.Fatalf("pass-through RetireAll: %d stocked, pool %+v", none.Len(), none.p.Stats())
	}
}
