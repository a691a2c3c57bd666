package mvcc

import (
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/substrate-lab/substrate/internal/cacheline"
)

// alone reports whether the 8-byte word at addr is the only non-padding
// data in its 128-byte aligned block, given the addresses of every other
// word that is written concurrently.
func alone(addr uintptr, others ...uintptr) bool {
	block := addr / cacheline.PadSize
	if (addr+7)/cacheline.PadSize != block {
		return false
	}
	for _, o := range others {
		if o/cacheline.PadSize == block || (o+7)/cacheline.PadSize == block {
			return false
		}
	}
	return true
}

func TestDomainLayout(t *testing.T) {
	var d Domain
	const pad = cacheline.PadSize
	if off := unsafe.Offsetof(d.clock); off < pad {
		t.Errorf("clock at offset %d: nothing may precede it within %d bytes", off, pad)
	}
	if got := unsafe.Sizeof(d.clock); got != pad {
		t.Errorf("Sizeof(clock) = %d, want %d", got, pad)
	}
	if got, want := unsafe.Offsetof(d.wm), unsafe.Offsetof(d.clock)+pad; got != want {
		t.Errorf("wm at %d, want %d (right after the clock's block)", got, want)
	}
	if got, want := unsafe.Offsetof(d.slots), unsafe.Offsetof(d.wm)+pad; got != want {
		t.Errorf("slots at %d, want %d", got, want)
	}
	if got := unsafe.Sizeof(d.slots[0]); got != pad {
		t.Errorf("slot size %d, want %d", got, pad)
	}
	if got, want := unsafe.Offsetof(d.owned), unsafe.Offsetof(d.slots)+NumSlots*pad; got < want {
		t.Errorf("owned at %d overlaps the slots (end %d)", got, want)
	}

	// The same property on real addresses, whatever the allocation's
	// alignment: every hot word (clock, watermark, each slot) alone in its
	// 128-byte block, also apart from the cold words that change only when
	// slots change hands.
	dp := NewDomain()
	hot := []uintptr{
		uintptr(unsafe.Pointer(&dp.clock)),
		uintptr(unsafe.Pointer(&dp.wm)),
	}
	for i := range dp.slots {
		hot = append(hot, uintptr(unsafe.Pointer(&dp.slots[i])))
	}
	cold := []uintptr{
		uintptr(unsafe.Pointer(&dp.owned[0])),
		uintptr(unsafe.Pointer(&dp.overflow)),
	}
	for i, a := range hot {
		others := append(append(append([]uintptr{}, hot[:i]...), hot[i+1:]...), cold...)
		if !alone(a, others...) {
			t.Errorf("hot word %d at %#x shares its 128-byte block", i, a)
		}
	}
}

func TestStoreAndOverflowLayout(t *testing.T) {
	var s Store[uint64, uint64]
	if got := unsafe.Sizeof(s.parts[0]); got != cacheline.PadSize {
		t.Errorf("partition counter size %d, want %d", got, cacheline.PadSize)
	}
	if off := unsafe.Offsetof(s.parts); off < unsafe.Offsetof(s.pools)+unsafe.Sizeof(s.pools)+cacheline.PadSize {
		t.Errorf("parts at %d not padded from the store's other fields", off)
	}
	// The grave fields, written by deleters and sweepers, share no block
	// with the fields every lookup and install reads, nor with avail.
	lo, hi := unsafe.Offsetof(s.graves), unsafe.Offsetof(s.buried)+unsafe.Sizeof(s.buried)
	if lo < unsafe.Offsetof(s.spacers)+unsafe.Sizeof(s.spacers)+cacheline.PadSize || unsafe.Offsetof(s.avail) < hi+cacheline.PadSize {
		t.Errorf("grave fields at [%d, %d) not padded from pools and spacers (end %d) and avail (%d)",
			lo, hi, unsafe.Offsetof(s.spacers)+unsafe.Sizeof(s.spacers), unsafe.Offsetof(s.avail))
	}
	var o overflowSlot
	if unsafe.Offsetof(o.w) != 0 || unsafe.Sizeof(o.w) != cacheline.PadSize {
		t.Errorf("overflow slot word not on its own %d bytes", cacheline.PadSize)
	}
	// Records keep the lock word and head together (one line: the
	// committer writes both, readers read both). A record holding a value
	// of 8 to 16 bytes fits one cache line; larger values make it larger
	// (the inline version node), and every one with a value of 8 bytes or
	// more is at least 56 bytes, size class 64 or more, so that the lock
	// words of two records never share a line.
	var r Record[uint64]
	if unsafe.Offsetof(r.head)-unsafe.Offsetof(r.lock) != 8 {
		t.Errorf("record lock and head not adjacent")
	}
	for _, size := range []uintptr{
		unsafe.Sizeof(Record[uint64]{}), unsafe.Sizeof(Record[*int]{}),
		unsafe.Sizeof(Record[string]{}), unsafe.Sizeof(Record[any]{}),
	} {
		if size < cacheline.Size-8 || size > cacheline.Size {
			t.Errorf("Sizeof(Record) = %d, want %d or %d (size class %[2]d)", size, cacheline.Size-8, cacheline.Size)
		}
	}
	if size := unsafe.Sizeof(Record[[100]byte]{}); size < cacheline.Size {
		t.Errorf("Sizeof(Record[[100]byte]) = %d, want at least %d", size, cacheline.Size)
	}
	if size := unsafe.Sizeof(Record[struct{}]{}); size != 48 {
		t.Errorf("Sizeof(Record[struct{}]) = %d, want the documented 48", size)
	}
	// And heap records are line-aligned (size class 64).
	st := NewStore[int, int](NewDomain())
	for k := range 100 {
		if a := uintptr(unsafe.Pointer(st.LoadOrCreate(k))); a%cacheline.Size != 0 {
			t.Fatalf("record %d at %#x is not line-aligned", k, a)
		}
	}
}

// TestPoolsApart: the store's node pools, written on every commit, never
// share a 128-byte block.
func TestPoolsApart(t *testing.T) {
	s := NewStore[int, int](NewDomain())
	size := unsafe.Sizeof(*s.pools[0])
	for i, p := range s.pools {
		a := uintptr(unsafe.Pointer(p))
		for j, q := range s.pools[:i] {
			b := uintptr(unsafe.Pointer(q))
			if a < b+size+cacheline.PadSize && b < a+size+cacheline.PadSize {
				t.Fatalf("pools %d and %d are %d bytes apart", j, i, int64(a)-int64(b))
			}
		}
	}
	t.Logf("%d pools kept, %d spacers", len(s.pools), len(s.spacers))
}

// TestVersionNextLayout: version.initNext writes next's pointer word
// through a plain pointer, which relies on atomic.Pointer[T] being exactly
// one pointer at offset 0; a node set that way reads back through Load.
func TestVersionNextLayout(t *testing.T) {
	var ap atomic.Pointer[version[int]]
	if unsafe.Sizeof(ap) != unsafe.Sizeof(uintptr(0)) {
		t.Fatalf("atomic.Pointer is %d bytes, not one pointer", unsafe.Sizeof(ap))
	}
	var n, p version[int]
	n.initNext(&p)
	if n.next.Load() != &p {
		t.Fatal("initNext's store does not read back through next.Load")
	}
	n.initNext(nil)
	if n.next.Load() != nil {
		t.Fatal("initNext(nil) left a pointer")
	}
}
