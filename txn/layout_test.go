package txn

import (
	"testing"
	"unsafe"

	"github.com/substrate-lab/substrate/internal/cacheline"
)

// TestTxObjectsPadded: the fields a transaction object and its participants
// write every transaction are kept at least cacheline.PadSize bytes from
// either end of the object, so that two goroutines' objects never share a
// 128-byte block however the allocator places them (see storeTx).
func TestTxObjectsPadded(t *testing.T) {
	var st txState
	first, last := unsafe.Offsetof(st.e), unsafe.Offsetof(st.cache)+unsafe.Sizeof(st.cache)
	if first < cacheline.PadSize || unsafe.Sizeof(st)-last < cacheline.PadSize {
		t.Errorf("txState hot fields at [%d, %d) of %d bytes", first, last, unsafe.Sizeof(st))
	}
	var p storeTx[uint64, uint64]
	first, last = unsafe.Offsetof(p.s), unsafe.Offsetof(p.scan)+unsafe.Sizeof(p.scan)
	if first < cacheline.PadSize || unsafe.Sizeof(p)-last < cacheline.PadSize {
		t.Errorf("storeTx fields at [%d, %d) of %d bytes", first, last, unsafe.Sizeof(p))
	}
	q := newStoreTx[uint64, uint64](nil)
	if cap(q.writes) != inlineWrites || &q.writes[:1][0] != &q.wbuf[0] || &q.reads[:1][0] != &q.rbuf[0] {
		t.Error("a new participant's sets do not start in its inline buffers")
	}
}

// TestEngineWordsPadded: the right-of-way flag (read by every commit) and
// the first-retry score (written by same-key retries) each have at least
// cacheline.PadSize bytes to themselves on either side, so that writing one
// never takes the other's line, nor that of the engine's read-only fields.
func TestEngineWordsPadded(t *testing.T) {
	var e Engine
	readersEnd := unsafe.Offsetof(e.readers) + unsafe.Sizeof(e.readers)
	urgent, atOnce := unsafe.Offsetof(e.urgent), unsafe.Offsetof(e.atOnce)
	if urgent-readersEnd < cacheline.PadSize ||
		atOnce-(urgent+unsafe.Sizeof(e.urgent)) < cacheline.PadSize ||
		unsafe.Sizeof(e)-(atOnce+unsafe.Sizeof(e.atOnce)) < cacheline.PadSize {
		t.Errorf("Engine: readers end at %d, urgent at %d, atOnce at %d, size %d", readersEnd, urgent, atOnce, unsafe.Sizeof(e))
	}
}
