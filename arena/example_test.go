package arena_test

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/substrate-lab/substrate/arena"
)

func ExampleArena() {
	a := arena.New(arena.WithSlabSize(4096), arena.WithLimit(8192))

	// Put/Get store length-prefixed byte strings.
	r, err := a.Put([]byte("agent state"))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", a.Get(r))

	// Alloc/Bytes give raw 8-byte-aligned regions; store integers and Refs,
	// never Go pointers.
	rec, _ := a.Alloc(16)
	w := a.Bytes(rec, 16)
	binary.LittleEndian.PutUint64(w[0:], 42)        // a value
	binary.LittleEndian.PutUint64(w[8:], uint64(r)) // a link to the string
	next := arena.Ref(binary.LittleEndian.Uint64(a.Bytes(rec, 16)[8:]))
	fmt.Printf("%d -> %s\n", binary.LittleEndian.Uint64(w), a.Get(next))

	// The arena is bounded to two slabs.
	_, err = a.Alloc(4096)
	fmt.Println(err)
	_, err = a.Alloc(4096)
	fmt.Println(errors.Is(err, arena.ErrFull), a.Cap())
	fmt.Println(arena.PointerFree[arena.Ref](), arena.PointerFree[*int]())
	// Output:
	// agent state
	// 42 -> agent state
	// <nil>
	// true 8192
	// true false
}

// epochs is a stand-in for mvcc's epoch manager.
type epochs struct{ cur, safe uint64 }

func (e *epochs) Epoch() uint64 { return e.cur }
func (e *epochs) Safe() uint64  { return e.safe }

type node struct {
	key  string
	next *node
}

func ExamplePool() {
	ep := &epochs{cur: 7, safe: 7}
	p := arena.NewPool[node](ep)

	n := p.Get()
	n.key = "a"
	p.Retire(n) // unlinked at epoch 7; a reader may still hold it

	fmt.Println(p.Get() == n, p.Stats().Retired) // not reused yet

	ep.cur, ep.safe = 8, 8 // every reader has moved past epoch 7
	m := p.Get()
	fmt.Printf("%v %q\n", m == n, m.key) // reused, zeroed
	// Output:
	// false 1
	// true ""
}

// A writer that replaces a node retires the old one and takes a free one in
// one critical section.
func ExamplePool_RetireAndGet() {
	ep := &epochs{cur: 1, safe: 1}
	p := arena.NewPool[node](ep)
	cur := p.Get()
	cur.key = "v1"

	ep.cur, ep.safe = 2, 2
	next := p.RetireAndGet(cur) // cur retired at epoch 2: not reusable yet
	if next == nil {
		next = p.Alloc()
	}
	next.key = "v2"
	fmt.Println(next == cur, cur.key)

	ep.cur, ep.safe = 3, 3 // readers have left epoch 2
	third := p.RetireAndGet(next)
	fmt.Println(third == cur, third.key == "")
	// Output:
	// false v1
	// true true
}

// A single steady user puts a Stock in front of the pool: it retires and
// takes nodes without the pool's lock, by the same epoch rule.
func ExampleStock() {
	ep := &epochs{cur: 1, safe: 1}
	p := arena.NewPool[node](ep)
	s := p.NewStock(64) // one owner only: not safe for concurrent use

	cur := p.Alloc()
	cur.key = "v1"
	next := s.RetireAndGet(cur) // cur retired at epoch 1, kept in the stock
	if next == nil {
		next = p.Alloc() // nothing reusable yet
	}
	next.key = "v2"
	fmt.Println(next == cur, s.Len())

	ep.cur, ep.safe = 2, 2 // readers have left epoch 1
	third := s.RetireAndGet(next)
	fmt.Println(third == cur, third.key == "", s.Len())
	s.Flush() // count the stock's reuse in the pool's statistics
	fmt.Println(p.Stats().Reused)
	// Output:
	// false 1
	// true true 1
	// 1
}
