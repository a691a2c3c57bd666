package arena

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"
)

// fill writes a pattern derived from id into b.
func fill(b []byte, id int) {
	for i := range b {
		b[i] = byte(id*31 + i*7 + 1)
	}
}

// check reports whether b holds the pattern fill(b, id) wrote.
func check(b []byte, id int) bool {
	for i := range b {
		if b[i] != byte(id*31+i*7+1) {
			return false
		}
	}
	return true
}

func TestAllocBytesRoundTrip(t *testing.T) {
	a := New(WithSlabSize(MinSlabSize))
	sizes := []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 255, 256, 1000, 4095, 4096}
	for i := 1; i <= 300; i++ {
		sizes = append(sizes, i)
	}
	type alloc struct {
		r Ref
		n int
	}
	var got []alloc
	for id, n := range sizes {
		r, err := a.Alloc(n)
		if err != nil {
			t.Fatalf("Alloc(%d): %v", n, err)
		}
		if r == 0 {
			t.Fatalf("Alloc(%d) returned the nil Ref", n)
		}
		if _, off, _ := r.split(); off%Align != 0 {
			t.Fatalf("Alloc(%d) offset %d not %d-aligned", n, off, Align)
		}
		b := a.Bytes(r, n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("Bytes(%d): len %d cap %d", n, len(b), cap(b))
		}
		for _, c := range b {
			if c != 0 {
				t.Fatalf("fresh region of %d bytes not zero", n)
			}
		}
		fill(b, id)
		got = append(got, alloc{r, n})
	}
	for id, g := range got {
		if !check(a.Bytes(g.r, g.n), id) {
			t.Fatalf("region %d (%d bytes) corrupted", id, g.n)
		}
	}
	if a.Len() <= 0 || a.Len() > a.Cap() {
		t.Fatalf("Len %d Cap %d", a.Len(), a.Cap())
	}
}

func TestAllocationsNeverOverlap(t *testing.T) {
	a := New(WithSlabSize(8 << 10))
	rng := rand.New(rand.NewPCG(1, 2))
	type alloc struct {
		r Ref
		n int
	}
	var all []alloc
	for id := range 5000 {
		n := 1 + rng.IntN(600)
		if id%97 == 0 {
			n = a.SlabSize() // whole slabs too
		}
		r, err := a.Alloc(n)
		if err != nil {
			t.Fatal(err)
		}
		fill(a.Bytes(r, n), id)
		all = append(all, alloc{r, n})
	}
	for id, g := range all {
		if !check(a.Bytes(g.r, g.n), id) {
			t.Fatalf("region %d overwritten by a later allocation", id)
		}
	}
	if want := int64(len(a.dir.Load().slabs)) * int64(a.SlabSize()); a.Cap() != want {
		t.Fatalf("Cap %d, want %d", a.Cap(), want)
	}
}

func TestBytesCapacityLimited(t *testing.T) {
	a := New()
	r1, _ := a.Alloc(8)
	r2, _ := a.Alloc(8)
	fill(a.Bytes(r2, 8), 2)
	b := a.Bytes(r1, 8)
	_ = append(b, 0xff, 0xff, 0xff) // must reallocate, not write into r2
	if !check(a.Bytes(r2, 8), 2) {
		t.Fatal("append to one window spilled into its neighbour")
	}
}

func TestPutGet(t *testing.T) {
	a := New(WithSlabSize(MinSlabSize))
	inputs := [][]byte{nil, {}, []byte("x"), []byte("hello, arena"), bytes.Repeat([]byte{7}, MinSlabSize-PutHeader)}
	refs := make([]Ref, len(inputs))
	for i, in := range inputs {
		r, err := a.Put(in)
		if err != nil {
			t.Fatalf("Put(%d bytes): %v", len(in), err)
		}
		refs[i] = r
	}
	for i, in := range inputs {
		got := a.Get(refs[i])
		if got == nil || !bytes.Equal(got, in) || cap(got) != len(in) {
			t.Fatalf("Get #%d = %q (cap %d), want %q", i, got, cap(got), in)
		}
	}
	if _, err := a.Put(make([]byte, MinSlabSize-PutHeader+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Put too large: %v, want ErrTooLarge", err)
	}
}

func TestBoundedArena(t *testing.T) {
	const slab = MinSlabSize
	a := New(WithSlabSize(slab), WithLimit(3*slab+100))
	for i := range 3 {
		if _, err := a.Alloc(slab); err != nil {
			t.Fatalf("Alloc #%d: %v", i, err)
		}
	}
	len0, cap0 := a.Len(), a.Cap()
	if _, err := a.Alloc(slab); !errors.Is(err, ErrFull) {
		t.Fatalf("Alloc past limit: %v, want ErrFull", err)
	}
	if _, err := a.Alloc(200); err != ErrFull {
		t.Fatalf("Alloc past limit: %v, want the bare ErrFull", err)
	}
	if a.Len() != len0 || a.Cap() != cap0 {
		t.Fatalf("failed Alloc changed Len/Cap: %d/%d -> %d/%d", len0, cap0, a.Len(), a.Cap())
	}
	// 100 bytes remain under the limit: a 96-byte slab (Align-rounded).
	r, err := a.Alloc(60)
	if err != nil {
		t.Fatalf("small Alloc that fits: %v", err)
	}
	fill(a.Bytes(r, 60), 1)
	if r2, err := a.Alloc(32); err != nil || a.Bytes(r2, 32) == nil {
		t.Fatalf("Alloc filling the last slab: %v", err)
	}
	if _, err := a.Alloc(1); !errors.Is(err, ErrFull) {
		t.Fatalf("Alloc in a full arena: %v, want ErrFull", err)
	}
	if a.Cap() > 3*slab+100 || a.Len() > a.Cap() {
		t.Fatalf("Len %d Cap %d exceed limit %d", a.Len(), a.Cap(), 3*slab+100)
	}
	if !check(a.Bytes(r, 60), 1) {
		t.Fatal("region corrupted")
	}

	tiny := New(WithLimit(4))
	if _, err := tiny.Alloc(1); !errors.Is(err, ErrFull) {
		t.Fatalf("arena limited below Align: %v, want ErrFull", err)
	}
}

func TestInvalidInputs(t *testing.T) {
	a := New(WithSlabSize(MinSlabSize))
	for _, n := range []int{0, -1, math.MinInt} {
		if r, err := a.Alloc(n); !errors.Is(err, ErrInvalidSize) || r != 0 {
			t.Fatalf("Alloc(%d) = %v, %v; want 0, ErrInvalidSize", n, r, err)
		}
	}
	for _, n := range []int{MinSlabSize + 1, math.MaxInt} {
		if r, err := a.Alloc(n); !errors.Is(err, ErrTooLarge) || r != 0 {
			t.Fatalf("Alloc(%d) = %v, %v; want 0, ErrTooLarge", n, r, err)
		}
	}
	if a.Cap() != 0 || a.Len() != 0 {
		t.Fatal("failed Allocs reserved memory")
	}
	r, err := a.Alloc(16)
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		r Ref
		n int
	}{
		{0, 8},                         // nil Ref
		{r, 0},                         // empty window
		{r, -5},                        // negative size
		{r, 24},                        // past allocated memory
		{r, math.MaxInt},               // overflow
		{makeRef(1, 0), 8},             // slab that does not exist
		{makeRef(0, 4000), 8},          // unallocated part of a slab
		{makeRef(0, MaxSlabSize-8), 8}, // offset beyond the slab
		{Ref(1<<32 | 0xffffffff), 8},   // offset beyond any slab
		{Ref(math.MaxUint64), 1},
	}
	for _, c := range bad {
		if b := a.Bytes(c.r, c.n); b != nil {
			t.Fatalf("Bytes(%#x, %d) = %d bytes, want nil", uint64(c.r), c.n, len(b))
		}
		if c.n == 8 {
			if g := a.Get(c.r); g != nil {
				t.Fatalf("Get(%#x) = %d bytes, want nil", uint64(c.r), len(g))
			}
		}
	}
	// A Get on a region whose header was not written by Put.
	for _, h := range []uint64{math.MaxUint64, 100} {
		w := a.Bytes(r, 8)
		for i := range w {
			w[i] = byte(h >> (8 * i))
		}
		if g := a.Get(r); g != nil {
			t.Fatalf("Get with corrupt header %d = %d bytes, want nil", h, len(g))
		}
	}
	var nilOpt Option
	if New(nilOpt).SlabSize() != DefaultSlabSize {
		t.Fatal("nil Option not ignored")
	}
}

func TestSlabSizeClamp(t *testing.T) {
	cases := []struct{ in, want int }{
		{-1, MinSlabSize},
		{0, MinSlabSize},
		{1, MinSlabSize},
		{MinSlabSize + 3, MinSlabSize},
		{5000, 5000},
		{5001, 5000},
		{MaxSlabSize, MaxSlabSize},
		{math.MaxInt, MaxSlabSize},
	}
	for _, c := range cases {
		if got := New(WithSlabSize(c.in)).SlabSize(); got != c.want {
			t.Errorf("WithSlabSize(%d): SlabSize %d, want %d", c.in, got, c.want)
		}
	}
	if got := New().SlabSize(); got != DefaultSlabSize {
		t.Errorf("default SlabSize %d, want %d", got, DefaultSlabSize)
	}
}

func TestReset(t *testing.T) {
	a := New(WithSlabSize(MinSlabSize), WithLimit(2*MinSlabSize))
	for range 2 {
		if _, err := a.Alloc(MinSlabSize); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Alloc(8); !errors.Is(err, ErrFull) {
		t.Fatalf("want ErrFull, got %v", err)
	}
	a.Reset()
	if a.Len() != 0 || a.Cap() != 0 {
		t.Fatalf("after Reset: Len %d Cap %d", a.Len(), a.Cap())
	}
	r, err := a.Put([]byte("again"))
	if err != nil || string(a.Get(r)) != "again" {
		t.Fatalf("arena unusable after Reset: %v", err)
	}
}

func TestAllocZeroAllocs(t *testing.T) {
	a := New()
	if _, err := a.Alloc(8); err != nil { // create the first slab
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		r, err := a.Alloc(16)
		if err != nil {
			panic(err)
		}
		a.Bytes(r, 16)[0] = 1
	})
	if allocs != 0 {
		t.Fatalf("Alloc+Bytes fast path: %v allocs/op, want 0", allocs)
	}
}

func TestConcurrentAlloc(t *testing.T) {
	a := New(WithSlabSize(MinSlabSize)) // small slabs: many slab switches
	const workers, perWorker = 6, 2000
	type alloc struct {
		r  Ref
		n  int
		id int
	}
	results := make([][]alloc, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []alloc
			for i := range perWorker {
				n := 1 + rng.IntN(300)
				r, err := a.Alloc(n)
				if err != nil {
					t.Errorf("Alloc: %v", err)
					return
				}
				id := w*perWorker + i
				fill(a.Bytes(r, n), id)
				mine = append(mine, alloc{r, n, id})
				if i%50 == 0 { // re-read earlier regions while others allocate
					for _, m := range mine {
						if !check(a.Bytes(m.r, m.n), m.id) {
							t.Errorf("region %d corrupted during concurrent Alloc", m.id)
							return
						}
					}
					_, _ = a.Len(), a.Cap()
				}
			}
			results[w] = mine
		})
	}
	wg.Wait()
	seen := map[Ref]bool{}
	for _, rs := range results {
		for _, m := range rs {
			if seen[m.r] {
				t.Fatalf("Ref %#x handed out twice", uint64(m.r))
			}
			seen[m.r] = true
			if !check(a.Bytes(m.r, m.n), m.id) {
				t.Fatalf("region %d overwritten", m.id)
			}
		}
	}
}

// record is a sample arena-resident record: fixed-size, integers and Refs only.
type record struct {
	Key   [16]byte
	Value Ref
	Next  Ref
	Ver   uint64
	Flags uint32
	_     [4]byte
}

func TestResidentTypesArePointerFree(t *testing.T) {
	if !PointerFree[Ref]() {
		t.Error("Ref must be pointer-free")
	}
	if !PointerFree[record]() {
		t.Error("record must be pointer-free")
	}
}

func TestPointerFree(t *testing.T) {
	type flat struct {
		A int64
		B [4]float64
		C struct{ D, E uint16 }
		F complex128
		G bool
		H uintptr // an integer to the GC: the reason a pointer hidden in it dies
	}
	type withString struct {
		A int
		S string
	}
	type nested struct{ In [2]struct{ P *int } }
	type emptyArr struct{ A [0]*int }
	pos := map[string]bool{
		"int":      PointerFree[int](),
		"uint8":    PointerFree[uint8](),
		"uintptr":  PointerFree[uintptr](),
		"array":    PointerFree[[8]uint32](),
		"flat":     PointerFree[flat](),
		"struct{}": PointerFree[struct{}](),
		"[0]*int":  PointerFree[emptyArr](),
	}
	for name, ok := range pos {
		if !ok {
			t.Errorf("%s: PointerFree = false, want true", name)
		}
	}
	neg := map[string]bool{
		"*int":           PointerFree[*int](),
		"[]byte":         PointerFree[[]byte](),
		"string":         PointerFree[string](),
		"map":            PointerFree[map[int]int](),
		"chan":           PointerFree[chan int](),
		"func":           PointerFree[func()](),
		"any":            PointerFree[any](),
		"error":          PointerFree[error](),
		"unsafe.Pointer": PointerFree[unsafe.Pointer](),
		"withString":     PointerFree[withString](),
		"nested":         PointerFree[nested](),
		"[3]string":      PointerFree[[3]string](),
		"Arena":          PointerFree[Arena](),
	}
	for name, ok := range neg {
		if ok {
			t.Errorf("%s: PointerFree = true, want false", name)
		}
	}
}
