package arena

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeEpochs is an Epochs whose current and safe epochs the test sets.
type fakeEpochs struct {
	cur, safe atomic.Uint64
}

func newFake(cur, safe uint64) *fakeEpochs {
	f := &fakeEpochs{}
	f.cur.Store(cur)
	f.safe.Store(safe)
	return f
}

func (f *fakeEpochs) Epoch() uint64 { return f.cur.Load() }
func (f *fakeEpochs) Safe() uint64  { return f.safe.Load() }

type node struct {
	A, B uint64
	Next *node
	Tags []string
}

func TestPoolEpochDeferral(t *testing.T) {
	ep := newFake(5, 5)
	p := NewPool[node](ep)
	x := p.Get()
	x.A, x.B, x.Next, x.Tags = 1, 2, x, []string{"held"}
	p.Retire(x) // tagged with epoch 5

	if y := p.Get(); y == x {
		t.Fatal("Get reused a node retired at epoch 5 while Safe() = 5")
	}
	if s := p.Stats(); s.Retired != 1 || s.Free != 0 || s.OldestRetired != 5 {
		t.Fatalf("stats while waiting: %+v", s)
	}
	// A reader could still be looking at x: it must be intact.
	if x.A != 1 || x.B != 2 || x.Next != x || len(x.Tags) != 1 {
		t.Fatal("retired node modified before Safe() passed its epoch")
	}

	ep.cur.Store(6)
	ep.safe.Store(6)
	y := p.Get()
	if y != x {
		t.Fatal("Get did not reuse the node once Safe() = 6 > 5")
	}
	if y.A != 0 || y.B != 0 || y.Next != nil || y.Tags != nil {
		t.Fatalf("reused node not zeroed: %+v", *y)
	}
	s := p.Stats()
	if s.Allocated != 2 || s.Reused != 1 || s.Retired != 0 || s.Free != 0 {
		t.Fatalf("stats after reuse: %+v", s)
	}
}

func TestPoolRetireNil(t *testing.T) {
	p := NewPool[node](newFake(1, 1))
	p.Retire(nil)
	if s := p.Stats(); s != (PoolStats{}) {
		t.Fatalf("Retire(nil) changed stats: %+v", s)
	}
}

func TestPoolFIFOByEpoch(t *testing.T) {
	ep := newFake(1, 0)
	p := NewPool[node](ep)
	nodes := make([]*node, 10)
	for i := range nodes {
		nodes[i] = new(node)
		ep.cur.Store(uint64(i + 1))
		p.Retire(nodes[i]) // epochs 1..10
	}
	ep.safe.Store(6) // releases epochs 1..5
	if s := p.Stats(); s.Free != 5 || s.Retired != 5 || s.OldestRetired != 6 {
		t.Fatalf("stats: %+v", s)
	}
	got := map[*node]bool{}
	for range 5 {
		got[p.Get()] = true
	}
	for i, n := range nodes {
		if got[n] != (i < 5) {
			t.Fatalf("node retired at epoch %d: reused %v", i+1, got[n])
		}
	}
	if x := p.Get(); got[x] || x == nodes[5] {
		t.Fatal("Get reused a node not yet safe")
	}
}

func TestPoolRingWrapAndGrow(t *testing.T) {
	ep := newFake(0, 0)
	p := NewPool[node](ep)
	retired := map[*node]bool{}
	retire := func(k int) {
		for range k {
			ep.cur.Add(1)
			x := new(node)
			retired[x] = true
			p.Retire(x)
		}
	}
	retire(10)
	ep.safe.Store(6) // 5 leave: head moves to 5
	for range 5 {
		if x := p.Get(); !retired[x] {
			t.Fatal("Get returned a node that was not retired")
		} else {
			delete(retired, x)
		}
	}
	retire(40) // wraps around the 16-slot ring, then grows it
	ep.safe.Store(ep.cur.Load() + 1)
	if s := p.Stats(); s.Retired != 0 || s.Free != 45 {
		t.Fatalf("stats: %+v", s)
	}
	for range 45 {
		x := p.Get()
		if !retired[x] {
			t.Fatal("Get returned a node twice or one never retired")
		}
		delete(retired, x)
	}
	if s := p.Stats(); s.Allocated != 0 || s.Reused != 50 {
		t.Fatalf("stats: %+v", s)
	}
}

func TestPoolBounds(t *testing.T) {
	ep := newFake(1, 0)
	p := NewPool[node](ep, WithMaxFree(4), WithMaxRetired(6))
	for range 10 {
		p.Retire(new(node))
	}
	if s := p.Stats(); s.Retired != 6 || s.Dropped != 4 {
		t.Fatalf("retired bound: %+v", s)
	}
	ep.safe.Store(2)
	if s := p.Stats(); s.Retired != 0 || s.Free != 4 || s.Dropped != 6 {
		t.Fatalf("free bound: %+v", s)
	}

	none := NewPool[node](ep, WithMaxFree(-1), WithMaxRetired(-1), nil)
	x := none.Get()
	none.Retire(x)
	if y := none.Get(); y == x {
		t.Fatal("pool with no room reused a node")
	}
	if s := none.Stats(); s.Dropped != 1 || s.Allocated != 2 {
		t.Fatalf("stats: %+v", s)
	}
}

func TestPoolStalledEpochVisible(t *testing.T) {
	ep := newFake(10, 3) // a reader stuck at epoch 3
	p := NewPool[node](ep)
	for i := range 100 {
		ep.cur.Store(uint64(10 + i))
		p.Retire(p.Get())
	}
	s := p.Stats()
	if s.Retired != 100 || s.Reused != 0 || s.OldestRetired != 10 {
		t.Fatalf("stall not visible: %+v", s)
	}
}

func TestPoolNilEpochs(t *testing.T) {
	p := NewPool[node](nil)
	x := p.Get()
	p.Retire(x)
	if y := p.Get(); y == x {
		t.Fatal("pool without Epochs reused a node")
	}
	if s := p.Stats(); s.Dropped != 1 || s.Allocated != 2 || s.Retired != 0 {
		t.Fatalf("stats: %+v", s)
	}
}

func TestPoolZeroAllocs(t *testing.T) {
	ep := newFake(1, 1)
	p := NewPool[node](ep)
	cycle := func() {
		x := p.Get()
		x.A = 1
		p.Retire(x)
		e := ep.cur.Add(1) // Safe passes the epoch x was retired at
		ep.safe.Store(e)
	}
	for range 100 { // warm up: first node, ring and free list storage
		cycle()
	}
	if allocs := testing.AllocsPerRun(1000, cycle); allocs != 0 {
		t.Fatalf("Retire+Get cycle: %v allocs/op, want 0", allocs)
	}
	if s := p.Stats(); s.Allocated != 1 {
		t.Fatalf("steady state allocated new nodes: %+v", s)
	}
}

// readerEpochs is a small, mutex-based epoch scheme: readers announce the
// epoch they entered at; Safe is the oldest announcement, or the next epoch
// when no reader is active.
type readerEpochs struct {
	mu     sync.Mutex
	cur    uint64
	active map[int]uint64
}

func (e *readerEpochs) Epoch() uint64 { e.mu.Lock(); defer e.mu.Unlock(); return e.cur }
func (e *readerEpochs) Safe() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.cur + 1
	for _, r := range e.active {
		s = min(s, r)
	}
	return s
}
func (e *readerEpochs) enter(id int) { e.mu.Lock(); e.active[id] = e.cur; e.mu.Unlock() }
func (e *readerEpochs) exit(id int)  { e.mu.Lock(); delete(e.active, id); e.mu.Unlock() }
func (e *readerEpochs) advance()     { e.mu.Lock(); e.cur++; e.mu.Unlock() }

// TestPoolConcurrent has writers replace nodes in shared slots and retire the
// old ones while readers inspect them. If a node were reused while a reader
// held it, the reader would see a torn value and the race detector would
// report the unsynchronised write.
func TestPoolConcurrent(t *testing.T) {
	ep := &readerEpochs{active: map[int]uint64{}}
	p := NewPool[node](ep, WithMaxFree(64))
	const slots, writers, readers, ops = 8, 3, 3, 3000
	var shared [slots]atomic.Pointer[node]
	for i := range shared {
		x := p.Get()
		x.A, x.B = uint64(i), ^uint64(i)
		shared[i].Store(x)
	}
	var stop atomic.Bool
	var wg, rwg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range ops {
				x := p.Get()
				if x.A != 0 || x.B != 0 || x.Next != nil {
					t.Errorf("Get returned a node that is not zero: %+v", *x)
					return
				}
				v := uint64(w*ops + i + 1)
				x.A, x.B = v, ^v
				old := shared[(w+i)%slots].Swap(x)
				p.Retire(old)
				if i%4 == 0 {
					ep.advance()
				}
				if i%64 == 0 {
					_ = p.Stats()
				}
			}
		})
	}
	for r := range readers {
		rwg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				ep.enter(r)
				x := shared[i%slots].Load()
				a := x.A
				runtime.Gosched() // widen the window for a premature reuse
				if b := x.B; b != ^a {
					t.Errorf("reader saw a reused node: A=%d B=%d", a, b)
				}
				ep.exit(r)
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	rwg.Wait()
	t.Logf("stats: %+v", p.Stats()) // how much reuse happened depends on scheduling
	// With no reader left, every retired node is reusable.
	before := p.Stats()
	p.Get()
	if s := p.Stats(); before.Retired != 0 || s.Reused != before.Reused+1 {
		t.Errorf("nodes not reusable once readers left: before %+v, after %+v", before, s)
	}
}

// hookEpochs runs onSafe inside Safe, to interleave a concurrent Retire.
type hookEpochs struct {
	cur, safe uint64
	onSafe    func()
}

func (h *hookEpochs) Epoch() uint64 { return h.cur }
func (h *hookEpochs) Safe() uint64 {
	s := h.safe
	if f := h.onSafe; f != nil {
		h.onSafe = nil
		f()
	}
	return s
}

// TestPoolSafeOnlyCoversEarlierRetires: a Safe value is a statement about the
// moment it was computed. A node retired while Safe ran (here: a reader entered
// at epoch 5, got y, and y was unlinked and retired at epoch 5) must not be
// released by that value, even though it is above y's epoch.
func TestPoolSafeOnlyCoversEarlierRetires(t *testing.T) {
	ep := &hookEpochs{cur: 5, safe: 6} // no reader active: 6 is valid now
	p := NewPool[node](ep)
	x, y := new(node), new(node)
	p.Retire(x)
	ep.onSafe = func() {
		p.Retire(y) // the reader that entered at 5 may still hold y
		ep.safe = 5
	}
	if got := p.Get(); got != x {
		t.Fatalf("Get = %p, want x %p", got, x)
	}
	if got := p.Get(); got == y {
		t.Fatal("Get reused a node retired after Safe() was computed")
	}
	if s := p.Stats(); s.Retired != 1 || s.OldestRetired != 5 {
		t.Fatalf("stats: %+v", s)
	}
}

// advancingEpochs is a fake scheme that implements Advancer: Advance makes
// every epoch retired so far safe and counts its calls.
type advancingEpochs struct {
	fakeEpochs
	calls atomic.Int64
}

func (a *advancingEpochs) Advance() {
	a.calls.Add(1)
	a.safe.Store(a.cur.Load() + 1)
}

// TestTryGetAndAlloc: TryGet never allocates (nil from an empty pool, and
// nil while retired nodes are not yet safe), Alloc counts its nodes, and
// Get is TryGet else Alloc.
func TestTryGetAndAlloc(t *testing.T) {
	f := newFake(5, 0)
	p := NewPool[node](f)
	if x := p.TryGet(); x != nil {
		t.Fatal("TryGet on an empty pool returned a node")
	}
	x := p.Alloc()
	if x == nil || p.Stats().Allocated != 1 {
		t.Fatalf("Alloc: %v, allocated %d", x, p.Stats().Allocated)
	}
	x.A = 7
	p.Retire(x) // epoch 5, safe 0: waits
	if y := p.TryGet(); y != nil {
		t.Fatal("TryGet handed out a node before its epoch was safe")
	}
	f.safe.Store(6)
	y := p.TryGet()
	if y != x || y.A != 0 {
		t.Fatalf("TryGet after the epoch passed: %p (A=%d), want %p zeroed", y, y.A, x)
	}
	if st := p.Stats(); st.Allocated != 1 || st.Reused != 1 {
		t.Fatalf("stats %+v", st)
	}
	if z := p.Get(); z == nil || p.Stats().Allocated != 2 {
		t.Fatal("Get on an empty pool did not allocate")
	}
}

// TestAdvancerCalledWhenStuck: a pool whose scheme is an Advancer asks it to
// advance when nothing is reusable but nodes wait, at most once per
// AdvanceEvery retirements, and reuses what the advance made safe; with no
// retired node it never asks.
func TestAdvancerCalledWhenStuck(t *testing.T) {
	a := &advancingEpochs{}
	a.cur.Store(10)
	p := NewPool[node](a)
	_ = p.Get() // empty ring: allocates, no Advance
	if a.calls.Load() != 0 {
		t.Fatal("Advance called with nothing retired")
	}
	for range AdvanceEvery - 1 {
		p.Retire(new(node))
	}
	if x := p.TryGet(); x != nil || a.calls.Load() != 0 {
		t.Fatalf("advanced after %d retirements (< AdvanceEvery)", AdvanceEvery-1)
	}
	p.Retire(new(node))
	if x := p.TryGet(); x == nil || a.calls.Load() != 1 {
		t.Fatalf("after AdvanceEvery retirements: node %v, %d Advance calls; want a node and 1", x, a.calls.Load())
	}
	// The advance made all of them safe: the rest come without advancing.
	for i := 1; i < AdvanceEvery; i++ {
		if p.TryGet() == nil {
			t.Fatalf("node %d missing after the advance", i)
		}
	}
	if a.calls.Load() != 1 {
		t.Fatalf("%d Advance calls, want 1", a.calls.Load())
	}
}

// RetireAndGet retires its argument (not reusable until Safe passes the
// epoch it was retired at, never the node returned) and returns a free node
// as TryGet would; with nil it is TryGet, and without Epochs it drops.
func TestPoolRetireAndGet(t *testing.T) {
	ep := newFake(5, 5)
	p := NewPool[node](ep)
	a, b := p.Get(), p.Get()
	p.Retire(a) // epoch 5
	if y := p.RetireAndGet(nil); y != nil {
		t.Fatal("RetireAndGet(nil) returned a node while Safe() = 5")
	}
	ep.cur.Store(6)
	ep.safe.Store(6)
	b.A = 7
	y := p.RetireAndGet(b) // b at epoch 6; a is reusable now
	if y != a {
		t.Fatalf("RetireAndGet returned %p, want the matured node %p", y, a)
	}
	if y2 := p.RetireAndGet(nil); y2 != nil {
		t.Fatal("the node retired by RetireAndGet was reusable at once")
	}
	if b.A != 7 {
		t.Fatal("a retired node was modified before Safe() passed its epoch")
	}
	if s := p.Stats(); s.Retired != 1 || s.OldestRetired != 6 || s.Reused != 1 {
		t.Fatalf("stats: %+v", s)
	}
	ep.cur.Store(7)
	ep.safe.Store(7)
	c := p.Alloc() // (Get would return b)
	if y := p.RetireAndGet(c); y != b || y.A != 0 {
		t.Fatalf("RetireAndGet with an empty free list: %p (A=%d), want the zeroed %p", y, y.A, b)
	}

	q := NewPool[node](nil)
	x := q.Get()
	if y := q.RetireAndGet(x); y != nil {
		t.Fatal("pool without Epochs reused a node")
	}
	if s := q.Stats(); s.Dropped != 1 {
		t.Fatalf("stats without Epochs: %+v", s)
	}
}

func TestPoolRetireAndGetZeroAllocs(t *testing.T) {
	ep := newFake(1, 1)
	p := NewPool[node](ep)
	held := p.Get()
	cycle := func() {
		y := p.RetireAndGet(held)
		if y == nil {
			y = p.Alloc()
		}
		held = y
		e := ep.cur.Add(1)
		ep.safe.Store(e)
	}
	for range 100 {
		cycle()
	}
	if allocs := testing.AllocsPerRun(1000, cycle); allocs != 0 {
		t.Fatalf("RetireAndGet cycle: %v allocs/op, want 0", allocs)
	}
}

// RetireAll is Retire for each node of a slice: nodes wait for Safe() to
// pass the epoch read once at the call, nils are skipped, and a pool
// without Epochs drops what it is given.
func TestPoolRetireAll(t *testing.T) {
	ep := newFake(5, 5)
	p := NewPool[node](ep)
	xs := []*node{p.Get(), nil, p.Get(), p.Get()}
	for i, x := range xs {
		if x != nil {
			x.A = uint64(i + 1)
		}
	}
	if n := p.RetireAll(xs); n != 3 {
		t.Fatalf("RetireAll retired %d nodes, want 3", n)
	}
	if n := p.RetireAll(nil); n != 0 {
		t.Fatalf("RetireAll(nil) retired %d nodes", n)
	}
	if s := p.Stats(); s.Retired != 3 || s.Free != 0 || s.OldestRetired != 5 {
		t.Fatalf("stats while waiting: %+v", s)
	}
	if y := p.TryGet(); y != nil {
		t.Fatal("a node retired at epoch 5 was reused while Safe() = 5")
	}
	for i, x := range xs {
		if x != nil && x.A != uint64(i+1) {
			t.Fatalf("node %d modified before Safe() passed its epoch", i)
		}
	}
	ep.cur.Store(6)
	ep.safe.Store(6)
	got := map[*node]bool{}
	for range 3 {
		y := p.TryGet()
		if y == nil || y.A != 0 {
			t.Fatalf("TryGet after Safe() passed: %v", y)
		}
		got[y] = true
	}
	if !got[xs[0]] || !got[xs[2]] || !got[xs[3]] {
		t.Fatal("the nodes handed out are not the ones retired")
	}

	q := NewPool[node](nil)
	if n := q.RetireAll(xs); n != 3 {
		t.Fatalf("RetireAll without Epochs counted %d, want 3", n)
	}
	if s := q.Stats(); s.Dropped != 3 || s.Retired != 0 {
		t.Fatalf("stats without Epochs: %+v", s)
	}
}

func TestPoolRetireAllZeroAllocs(t *testing.T) {
	ep := newFake(1, 1)
	p := NewPool[node](ep)
	batch := make([]*node, 8)
	for i := range batch {
		batch[i] = p.Get()
	}
	cycle := func() {
		p.RetireAll(batch)
		e := ep.cur.Add(1)
		ep.safe.Store(e)
		for i := range batch {
			if batch[i] = p.TryGet(); batch[i] == nil {
				batch[i] = p.Alloc()
			}
		}
	}
	for range 100 {
		cycle()
	}
	if allocs := testing.AllocsPerRun(1000, cycle); allocs != 0 {
		t.Fatalf("RetireAll cycle: %v allocs/op, want 0", allocs)
	}
}
