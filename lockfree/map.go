package lockfree

// # Algorithm
//
// Map is an open-addressing hash table of cache-line groups with SWAR tag
// matching, a lock-free read path and per-group writer locks. Its pedigree:
//
//   - CLHT (David, Guerraoui, Trigonakis, "Asynchronized Concurrency",
//     ASPLOS'15): one bucket per 64-byte line holding its own concurrency
//     word, keys and values, so a lookup touches one line and writers lock
//     one bucket. A group here is 8 bytes of metadata plus 7 eight-byte
//     keys: exactly a line for word-sized keys.
//   - Swiss tables (Abseil; Go 1.24's runtime maps) and xsync's MapOf: one
//     metadata byte per slot holding 7 hash bits, matched eight at a time
//     with word-wide bit tricks (SWAR), so a probe compares keys only on a
//     7-bit tag hit (a false hit costs one key compare in 128).
//   - xsync (puzpuzpuz/xsync) and Go's sync.Map: reads are lock-free and
//     write no shared memory. Unlike them, a write to an existing key here
//     allocates nothing: values that fit a machine word are stored inline
//     and replaced with one atomic store, instead of publishing a freshly
//     allocated immutable entry per write (xsync's author names that GC
//     pressure as its main drawback).
//
// Layout. A table has 2^n groups. The hash's low 7 bits are the tag; the bits
// above select the home group. Lookup probes groups linearly from home. Each
// group's metadata word holds 7 tag bytes (empty, deleted, or 0x80|tag) and a
// control byte (lock, frozen). Values live in a parallel array, one word per
// slot: the bits of V when V is pointer-free and at most 8 bytes ("scalar"
// mode), V itself when V is pointer-shaped (pointer, map, chan, func), or a
// pointer to an immutable boxed copy otherwise ("boxed" mode, which
// allocates on every write, like xsync).
//
// Invariants.
//
//  1. A key is written into a slot once, by the writer holding the group's
//     lock, before the slot's tag is published; slots are never reused within
//     a table (Delete leaves a deleted tag). Keys are therefore immutable
//     while visible and may be read with plain loads after an atomic load of
//     the tag.
//  2. Empty slots only ever become full, never the reverse, and an insert
//     takes the first empty slot on its probe sequence. So if k is present,
//     no group before k's group on k's probe sequence had an empty slot when
//     k was inserted, nor has one since: a probe may stop at the first group
//     with an empty slot.
//  3. Inserters of one key serialize on the lock of the key's home group, so a
//     key is present in at most one full slot.
//  4. A table keeps at least an eighth of its slots empty (rebuild at 7/8
//     used), so probes stay short; every probe loop is also bounded by the
//     group count, so even a table overfilled by racing inserters terminates.
//  5. A frozen group is never written again. The resizer freezes every group
//     of the old table before copying it, so the copy misses no write, and
//     writers that meet a frozen group wait for the new table and retry there.
//
// Memory-model argument, per atomic:
//
//   - Map.table (atomic.Pointer): Store by the resizer publishes a fully
//     built table (keys, tags, values written before the Store); Load by
//     every operation acquires it.
//   - group.meta (atomic.Uint64): the Store that sets a full tag (under the
//     lock) publishes the slot's key and value written before it; Load by a
//     reader acquires them (invariant 1 makes the later plain key read
//     race-free). CAS on meta claims the lock or freezes; the unlocking Store
//     releases the holder's writes to the next holder.
//   - value words (sync/atomic on the element): written by Store without a
//     lock (then re-checked against a freeze) and by everything else under
//     the group lock; read by lock-free readers with atomic loads; a scalar value is
//     one word, so a reader sees either the old or the new value, never a
//     mix. Boxed values are immutable once published.
//   - table.used / table.deleted (atomic.Int64): counters only; they publish
//     nothing and are read for Len and for the rebuild decision.
//
// Linearizability. Load takes effect at its metadata load of the slot it
// returns (or of the last group probed). A Store/CompareAndSwap to an
// existing key takes effect at its value write; if the slot was deleted
// between its probe and its write, the write lands in a dead slot and the
// operation is ordered just before that Delete, which is legal because it
// was invoked before it. Deletes and inserts take effect at their metadata
// store. Store to an existing key takes no lock (see upsert, step 1);
// CompareAndSwap does, because a CAS that raced a rebuild's copy could not
// tell whether the copy saw it, and repeating it would report a wrong result.
//
// Progress. Load is lock-free and never waits: it does not even look at the
// lock bit, and a resize leaves the old table intact and readable. Writers
// lock one group (two when the key lives past its home group) for a few
// stores; they spin briefly then yield (see backoff). Writers wait while a
// resize copies the table (resizing is concurrent with reads, not with
// writes; cooperative migration as in xsync v4 is future work).

import (
	"hash/maphash"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/substrate-lab/substrate/arena"
)

// valueMode is how a Map stores its values; see the Algorithm comment.
type valueMode uint8

const (
	scalarMode  valueMode = iota // pointer-free, <= 8 bytes: inline bits
	pointerMode                  // pointer-shaped: the pointer itself
	boxedMode                    // anything else: pointer to an immutable copy
)

func valueModeOf[V any]() valueMode {
	t := reflect.TypeFor[V]()
	if t.Size() <= 8 && arena.PointerFree[V]() {
		return scalarMode
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.Map, reflect.Chan, reflect.Func:
		return pointerMode
	}
	return boxedMode
}

// Map is a concurrent hash map from K to V. Load is lock-free and writes no
// shared memory; writes lock one cache-line group; Store and CompareAndSwap
// of an existing key allocate nothing when V is at most a machine word and
// pointer-free (integers, floats, small structs) or pointer-shaped (pointers,
// maps, channels, funcs). Other value types (strings, slices, interfaces,
// larger structs) are boxed: each write allocates one immutable copy.
//
// The zero Map is not usable: create one with NewMap. A Map must not be
// copied after first use. All methods are safe for concurrent use.
//
// Keys compare with ==, as in Go maps: a NaN key never equals itself, so
// Store with a NaN key adds an entry that Load can never find, and every
// such Store adds another (Delete cannot remove them; Clear can). Floating
// +0 and -0 are the same key.
//
// The algorithm follows CLHT's cache-line buckets, Swiss-table/xsync SWAR
// tag matching, and xsync/sync.Map's write-free reads; it is described with
// its invariants and memory-model argument at the top of map.go.
type Map[K comparable, V any] struct {
	table    atomic.Pointer[table[K]]
	resizeMu sync.Mutex // held by the one goroutine rebuilding the table

	hasher    func(K, uint64) uint64 // WithHasher, when hkind == hashCustom
	seed      uint64                 // per-map random seed for the built-in hashes
	mseed     maphash.Seed           // seed for hashGeneric
	minGroups int                    // from WithPresize; rebuilds never go below it
	hkind     hashKind
	vmode     valueMode
}

// NewMap returns an empty Map configured by opts. It panics if WithHasher
// was given a function for another key type (a programming error that
// TryNewMap reports as an error instead).
func NewMap[K comparable, V any](opts ...Option) *Map[K, V] {
	m, err := TryNewMap[K, V](opts...)
	if err != nil {
		panic(err)
	}
	return m
}

// TryNewMap is NewMap that reports invalid options as an error wrapping
// ErrHasherType instead of panicking.
func TryNewMap[K comparable, V any](opts ...Option) (*Map[K, V], error) {
	c, h, err := buildConfig[K](opts)
	if err != nil {
		return nil, err
	}
	m := &Map[K, V]{
		hasher:    h,
		seed:      rand.Uint64(),
		mseed:     maphash.MakeSeed(),
		minGroups: groupsFor(c.presize),
		hkind:     hashKindOf[K](),
		vmode:     valueModeOf[V](),
	}
	if h != nil {
		m.hkind = hashCustom
	}
	m.table.Store(newTable[K](m.minGroups, m.vmode))
	return m, nil
}

// encode returns the word stored for v: its bits (scalar mode), the pointer
// itself (pointer mode) or a fresh box (boxed mode).
func (m *Map[K, V]) encode(v V) (uint64, unsafe.Pointer) {
	switch m.vmode {
	case scalarMode:
		var u uint64
		*(*V)(unsafe.Pointer(&u)) = v
		return u, nil
	case pointerMode:
		return 0, *(*unsafe.Pointer)(unsafe.Pointer(&v))
	default:
		b := new(V)
		*b = v
		return 0, unsafe.Pointer(b)
	}
}

// loadValue atomically reads the value in slot i of t.
func (m *Map[K, V]) loadValue(t *table[K], i uint64) V {
	switch m.vmode {
	case scalarMode:
		u := atomic.LoadUint64(&t.uvals[i])
		return *(*V)(unsafe.Pointer(&u))
	case pointerMode:
		p := atomic.LoadPointer(&t.pvals[i])
		return *(*V)(unsafe.Pointer(&p))
	default:
		return *(*V)(atomic.LoadPointer(&t.pvals[i]))
	}
}

// storeValue atomically writes v into slot i of t. The caller holds the
// slot's group lock, owns t before publication, or is Store's lock-free
// update path, which re-checks the freeze afterwards.
func (m *Map[K, V]) storeValue(t *table[K], i uint64, v V) {
	u, p := m.encode(v)
	if m.vmode == scalarMode {
		atomic.StoreUint64(&t.uvals[i], u)
	} else {
		atomic.StorePointer(&t.pvals[i], p)
	}
}

// find probes t for k without locking. It returns the group index and slot
// of k's full slot, or ok == false if k is absent.
func (m *Map[K, V]) find(t *table[K], k K, h uint64) (gi uint64, s int, ok bool) {
	tag := tagOf(h)
	gi = t.home(h)
	for range len(t.groups) {
		g := &t.groups[gi]
		meta := g.meta.Load() // acquires the keys and values of full slots
		for l := matchTag(meta, tag); l != 0; l &= l - 1 {
			s = laneSlot(l)
			if g.keys[s] == k {
				return gi, s, true
			}
		}
		if emptyLanes(meta) != 0 {
			return 0, 0, false // invariant 2
		}
		gi = (gi + 1) & t.mask
	}
	return 0, 0, false
}

// Load returns the value stored for k and whether it is present. It is
// lock-free, writes no shared memory and never allocates.
//
// Load is find written out by hand with the word-key hash and the scalar
// value read inlined: generic methods are compiled per GC shape and called
// through a dictionary, so each call not inlined here costs about 1.5 ns
// (measured on this project's 2-core EPYC VM, Go 1.26).
func (m *Map[K, V]) Load(k K) (v V, ok bool) {
	var h uint64
	if m.hkind == hashWord64 {
		h = mum(*(*uint64)(unsafe.Pointer(&k)) ^ m.seed)
	} else {
		h = m.hash(k)
	}
	t := m.table.Load()
	tagw := laneLo * uint64(tagOf(h)) // the tag in every lane, hoisted out of the probe
	gi := t.home(h)
	for range len(t.groups) {
		g := t.group(gi)
		meta := g.meta.Load() // acquires the keys and values of full slots
		for l := zeroLanes(meta ^ tagw); l != 0; l &= l - 1 {
			s := laneSlot(l)
			if g.keys[s] == k {
				i := gi*groupSlots + uint64(s)
				if m.vmode == scalarMode {
					u := atomic.LoadUint64(&t.uvals[i])
					return *(*V)(unsafe.Pointer(&u)), true
				}
				return m.loadValue(t, i), true
			}
		}
		if emptyLanes(meta) != 0 {
			return v, false // invariant 2
		}
		gi = (gi + 1) & t.mask
	}
	return v, false
}

// Store sets the value for k. Storing to an existing key allocates nothing
// unless V is boxed (see Map).
func (m *Map[K, V]) Store(k K, v V) { m.upsert(k, v, false) }

// LoadOrStore returns the existing value for k if present (loaded == true).
// Otherwise it stores v and returns it (loaded == false). Of concurrent
// LoadOrStore calls for one absent key exactly one stores.
func (m *Map[K, V]) LoadOrStore(k K, v V) (actual V, loaded bool) {
	return m.upsert(k, v, true)
}

// upsert stores v for k, or, if onlyIfAbsent, returns k's existing value.
func (m *Map[K, V]) upsert(k K, v V, onlyIfAbsent bool) (V, bool) {
	h := m.hash(k)
	for attempt := 0; ; attempt++ {
		t := m.table.Load()
		// 1. Lock-free probe. An existing key is updated without any lock:
		//    (a) store the value word; (b) re-load the group's metadata; if
		//    the group is frozen, a rebuild may have copied the slot before
		//    (a), so wait for the new table and store again there. Storing
		//    twice is harmless: a Store that overlaps another may be ordered
		//    after it. If (b) sees the group unfrozen, the freeze comes later
		//    in the metadata word's order, so the rebuild's copy, which reads
		//    after its freeze, sees (a). If the slot was deleted before (a),
		//    the write lands in a dead slot: see Linearizability above.
		if gi, s, ok := m.find(t, k, h); ok {
			i := gi*groupSlots + uint64(s)
			if onlyIfAbsent {
				return m.loadValue(t, i), true
			}
			m.storeValue(t, i, v)
			if t.group(gi).meta.Load()&ctrlFrozen != 0 {
				m.awaitResize()
				continue
			}
			return v, false
		}
		// 2. Absent at probe time: insert under the home group's lock.
		r, done := m.insertLocked(t, k, v, h, onlyIfAbsent)
		switch done {
		case insertDone:
			return r, false
		case insertFound:
			return r, true
		case insertStored:
			return v, false
		case insertFrozen:
			m.awaitResize()
		case insertFull:
			m.rebuild(t)
		case insertBusy:
			backoff(attempt)
		}
	}
}

type insertOutcome uint8

const (
	insertDone   insertOutcome = iota // inserted a new entry
	insertFound                       // onlyIfAbsent and the key was there: value returned
	insertStored                      // the key was there and now holds v
	insertFrozen                      // the table is being replaced: retry on the new one
	insertFull                        // the table needs a rebuild first
	insertBusy                        // a second group was locked by another writer: retry
)

// insertLocked inserts k under its home group's lock (invariant 3). It
// re-probes under that lock because another inserter of k may have won
// between the caller's lock-free probe and now.
//
// Steps:
//  1. Lock the home group (frozen: report insertFrozen).
//  2. Probe from home. A group other than home is examined under its own
//     try-lock (busy: release everything and report insertBusy, so two
//     inserters never wait on each other's groups and cannot deadlock).
//  3. If k is found, store or return its value.
//  4. At the first group with an empty slot, check the rebuild threshold,
//     write the key and value into that slot, count it, then publish it by
//     storing the metadata word with the slot's tag.
//  5. Unlock the groups.
func (m *Map[K, V]) insertLocked(t *table[K], k K, v V, h uint64, onlyIfAbsent bool) (V, insertOutcome) {
	var zero V
	tag := tagOf(h)
	hi := t.home(h)
	home := &t.groups[hi]
	hmeta, ok := home.lock()
	if !ok {
		return zero, insertFrozen
	}
	gi := hi
	for range len(t.groups) {
		g, meta := home, hmeta
		if gi != hi {
			var r lockResult
			meta, r = t.groups[gi].tryLock()
			if r != locked {
				home.unlock(hmeta)
				if r == frozen {
					return zero, insertFrozen
				}
				return zero, insertBusy
			}
			g = &t.groups[gi]
		}
		for l := matchTag(meta, tag); l != 0; l &= l - 1 {
			s := laneSlot(l)
			if g.keys[s] == k {
				i := gi*groupSlots + uint64(s)
				out := insertStored
				var r V
				if onlyIfAbsent {
					r, out = m.loadValue(t, i), insertFound
				} else {
					m.storeValue(t, i, v)
				}
				if g != home {
					g.unlock(meta)
				}
				home.unlock(hmeta)
				return r, out
			}
		}
		if e := emptyLanes(meta); e != 0 {
			if t.used.Load() >= t.maxUsed {
				if g != home {
					g.unlock(meta)
				}
				home.unlock(hmeta)
				return zero, insertFull
			}
			s := laneSlot(e)
			i := gi*groupSlots + uint64(s)
			g.keys[s] = k // write-once (invariant 1): no reader looks before the tag
			m.storeValue(t, i, v)
			t.used.Add(1)
			meta = withTag(meta, s, tag)
			g.meta.Store(meta) // publishes keys[s] and the value (lock still held)
			if g != home {
				g.unlock(meta)
			} else {
				hmeta = meta
			}
			home.unlock(hmeta)
			return v, insertDone
		}
		if g != home {
			g.unlock(meta)
		}
		gi = (gi + 1) & t.mask
	}
	home.unlock(hmeta)
	return zero, insertFull
}

// LoadAndDelete deletes k and returns the value it had, if present.
func (m *Map[K, V]) LoadAndDelete(k K) (v V, loaded bool) {
	return m.deleteIf(k, func(V) bool { return true })
}

// Delete deletes k. Deleting an absent key does nothing.
func (m *Map[K, V]) Delete(k K) { m.deleteIf(k, nil) }

// deleteIf deletes k if it is present and cond (nil: always) accepts its
// current value, read under the group lock.
func (m *Map[K, V]) deleteIf(k K, cond func(V) bool) (V, bool) {
	h := m.hash(k)
	tag := tagOf(h)
	for {
		t := m.table.Load()
		gi, s, ok := m.find(t, k, h)
		if !ok {
			var zero V
			return zero, false
		}
		g := &t.groups[gi]
		meta, ok := g.lock()
		if !ok {
			m.awaitResize()
			continue
		}
		if tagAt(meta, s) != tag {
			g.unlock(meta)
			continue // deleted concurrently: probe again
		}
		i := gi*groupSlots + uint64(s)
		v := m.loadValue(t, i)
		if cond != nil && !cond(v) {
			g.unlock(meta)
			var zero V
			return zero, false
		}
		t.deleted.Add(1)
		// The value word is left as it is: a reader that saw the full tag
		// may still read it, and must get the value k had, never a zero.
		// The rebuild that reclaims the slot drops it.
		g.unlock(withTag(meta, s, tagDeleted))
		return v, true
	}
}

// CompareAndSwap stores new for k if k is present and its value == old, and
// reports whether it did. It allocates nothing unless V is boxed.
func CompareAndSwap[K comparable, V comparable](m *Map[K, V], k K, old, new V) (swapped bool) {
	h := m.hash(k)
	tag := tagOf(h)
	for {
		t := m.table.Load()
		gi, s, ok := m.find(t, k, h)
		if !ok {
			return false
		}
		g := &t.groups[gi]
		meta, ok := g.lock()
		if !ok {
			m.awaitResize()
			continue
		}
		if tagAt(meta, s) != tag {
			g.unlock(meta)
			continue
		}
		i := gi*groupSlots + uint64(s)
		if m.loadValue(t, i) != old {
			g.unlock(meta)
			return false
		}
		m.storeValue(t, i, new)
		g.unlock(meta)
		return true
	}
}

// CompareAndDelete deletes k if it is present and its value == old, and
// reports whether it did.
func CompareAndDelete[K comparable, V comparable](m *Map[K, V], k K, old V) (deleted bool) {
	_, deleted = m.deleteIf(k, func(v V) bool { return v == old })
	return deleted
}

// Range calls f for each entry until f returns false. It reads one table
// generation without locking, so, like sync.Map.Range, it is not a
// consistent snapshot: a key present for the whole call is visited exactly
// once, with a value it held during the call; keys stored or deleted
// concurrently may or may not be visited. f may call any method of m. A
// nil f visits nothing.
func (m *Map[K, V]) Range(f func(k K, v V) bool) {
	if f == nil {
		return
	}
	t := m.table.Load()
	for gi := range t.groups {
		g := &t.groups[gi]
		meta := g.meta.Load()
		for l := fullLanes(meta); l != 0; l &= l - 1 {
			s := laneSlot(l)
			if !f(g.keys[s], m.loadValue(t, uint64(gi)*groupSlots+uint64(s))) {
				return
			}
		}
	}
}

// Len returns the number of entries. Under concurrent writes it is a
// momentary figure.
func (m *Map[K, V]) Len() int {
	t := m.table.Load()
	return int(t.used.Load() - t.deleted.Load())
}

// Clear removes every entry and shrinks the table back to its presized
// minimum.
func (m *Map[K, V]) Clear() {
	m.resizeMu.Lock()
	defer m.resizeMu.Unlock()
	old := m.table.Load()
	for i := range old.groups {
		old.groups[i].freeze() // in-flight writers finish first; later ones retry
	}
	m.table.Store(newTable[K](m.minGroups, m.vmode))
}

// MemStats reports the bytes held by the current table (groups and value
// words, plus boxed values in boxed mode) and the number of entries.
func (m *Map[K, V]) MemStats() (bytes uintptr, entries int) {
	t := m.table.Load()
	n := m.Len()
	bytes = unsafe.Sizeof(*m) + unsafe.Sizeof(*t) +
		uintptr(len(t.groups))*unsafe.Sizeof(group[K]{}) +
		uintptr(len(t.uvals))*8 + uintptr(len(t.pvals))*8
	if m.vmode == boxedMode {
		var v V
		bytes += uintptr(n) * unsafe.Sizeof(v)
	}
	return bytes, n
}

// awaitResize blocks until the rebuild in progress, if any, has published
// its table. Writers call it when they meet a frozen group.
func (m *Map[K, V]) awaitResize() {
	m.resizeMu.Lock()
	//lint:ignore SA2001 an empty critical section is the point: wait for the resizer
	m.resizeMu.Unlock()
}

// rebuild replaces t with a table sized for its live entries: larger when
// the map grew, the same or smaller when deleted slots filled it.
//
// Steps:
//  1. Take resizeMu; if t is no longer current another writer rebuilt it.
//  2. Freeze every group of t (invariant 5): each waits for its current
//     writer; from then on t is read-only and Loads may keep reading it.
//  3. Copy every full slot into a new, unpublished table.
//  4. Publish the new table with one atomic pointer store.
func (m *Map[K, V]) rebuild(t *table[K]) {
	m.resizeMu.Lock()
	defer m.resizeMu.Unlock()
	if m.table.Load() != t {
		return
	}
	for i := range t.groups {
		t.groups[i].freeze()
	}
	live := int(t.used.Load() - t.deleted.Load())
	n := max(groupsFor(live), m.minGroups)
	nt := newTable[K](n, m.vmode)
	for gi := range t.groups {
		g := &t.groups[gi]
		for l := fullLanes(g.meta.Load()); l != 0; l &= l - 1 {
			s := laneSlot(l)
			i := uint64(gi)*groupSlots + uint64(s)
			m.copyInto(nt, g.keys[s], t, i)
		}
	}
	m.table.Store(nt) // publishes every key, tag and value written above
}

// copyInto inserts k with the value word of slot i of t into nt, which is
// not yet published (no other goroutine can see it, so no locks).
func (m *Map[K, V]) copyInto(nt *table[K], k K, t *table[K], i uint64) {
	h := m.hash(k)
	gi := nt.home(h)
	for {
		g := &nt.groups[gi]
		meta := g.meta.Load()
		if e := emptyLanes(meta); e != 0 {
			s := laneSlot(e)
			j := gi*groupSlots + uint64(s)
			g.keys[s] = k
			if t.uvals != nil {
				atomic.StoreUint64(&nt.uvals[j], atomic.LoadUint64(&t.uvals[i]))
			} else {
				atomic.StorePointer(&nt.pvals[j], atomic.LoadPointer(&t.pvals[i]))
			}
			g.meta.Store(withTag(meta, s, tagOf(h)))
			nt.used.Add(1)
			return
		}
		gi = (gi + 1) & nt.mask
	}
}
