package mvcc

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"reflect"
	"sync/atomic"
	"unsafe"
	"weak"

	"github.com/substrate-lab/substrate/arena"
	"github.com/substrate-lab/substrate/internal/cacheline"
	"github.com/substrate-lab/substrate/internal/chaos"
	"github.com/substrate-lab/substrate/lockfree"
)

// Partitions is the number of phantom partitions (Silo-style structure
// counters) per Store. A key's partition is a hash of the key.
//
// Why partitioned rather than one counter: every insert and delete bumps its
// partition's counter, so one counter would put all inserters of a store on
// one contended cache line, and a point read of an absent key (which watches
// its key's partition) would conflict with every insert anywhere in the
// store. With 64 padded counters inserts of different keys mostly touch
// different lines and an absent-key read conflicts with about 1/64 of the
// inserts. A scan of the whole store watches all 64 (8 KB of counters per
// store, read once per scan).
const Partitions = 64

// poolShards is the number of version-node pools per Store. Pools take a
// mutex per Get and Retire; committers pick a shard by their slot index, so
// up to poolShards concurrent committers (slot indices are handed out
// lowest first) never share one. Each shard keeps at most poolMaxFree free
// nodes unless WithPoolOptions says otherwise.
const (
	poolShards  = 32
	poolMaxFree = 1024
)

// StoreOption configures a Store at construction.
type StoreOption func(*storeConfig)

type storeConfig struct {
	mapOpts     []lockfree.Option
	poolOpts    []arena.PoolOption
	partitioner any // func(K) uint64 for the store's K; checked by NewStore
	dense       any // denseKeys[K] for the store's K; checked by NewStore
}

// WithPresize sizes the store's key map for n keys (lockfree.WithPresize).
func WithPresize(n int) StoreOption {
	return func(c *storeConfig) { c.mapOpts = append(c.mapOpts, lockfree.WithPresize(n)) }
}

// WithMapOptions passes options to the store's lockfree.Map (for example
// lockfree.WithHasher).
func WithMapOptions(opts ...lockfree.Option) StoreOption {
	return func(c *storeConfig) { c.mapOpts = append(c.mapOpts, opts...) }
}

// WithPartitioner replaces the key hash that picks a key's phantom
// partition: the partition is fn(k) % Partitions. Give keys that are
// scanned together the same partition (for example every key of one run),
// so that a scan restricted to that partition (txn.ScanPartition) conflicts
// only with inserts and deletes in it. fn must return equal values for equal
// keys. K must be the store's key type; NewStore panics otherwise (a
// programming error, like lockfree.WithHasher's).
func WithPartitioner[K comparable](fn func(k K) uint64) StoreOption {
	return func(c *storeConfig) {
		if fn != nil {
			c.partitioner = fn
		}
	}
}

// WithDenseKeys makes the store index its records by group and sequence
// number instead of hashing whole keys: split maps a key to a 16-byte group
// (a run) and a sequence number that counts 0, 1, 2, ... within the group
// (an event log's), and join is its inverse (Range rebuilds keys with it).
// Each group's records then sit in a lock-free array indexed by the
// sequence number (see denseIndex): no hashing of the sequence, no table
// that is rebuilt as it grows, consecutive records in consecutive words.
//
// Use it only for keys whose sequence numbers are dense: creating a record
// at sequence n allocates the group's array up to about 2n slots (8 bytes
// each), so a store written at sequence 1<<40 would allocate terabytes.
// Lookups of any sequence number are fine (an absent one costs nothing).
// Records of deleted keys are removed as in a hashed store (see
// [Store.Entomb]), and a group whose records are all removed leaves the
// index with its array.
// join(split(k)) must equal k. K must be the store's key type; NewStore
// panics otherwise (a programming error, like WithPartitioner's). Map
// options (WithPresize, WithMapOptions) do not apply to a dense store.
func WithDenseKeys[K comparable](split func(K) (group [16]byte, seq uint64), join func(group [16]byte, seq uint64) K) StoreOption {
	return func(c *storeConfig) {
		if split != nil && join != nil {
			c.dense = denseKeys[K]{split, join}
		}
	}
}

// denseKeys is WithDenseKeys' pair of functions.
type denseKeys[K comparable] struct {
	split func(K) ([16]byte, uint64)
	join  func([16]byte, uint64) K
}

// WithPoolOptions passes options to each of the store's version-node pools
// (for example arena.WithMaxFree).
func WithPoolOptions(opts ...arena.PoolOption) StoreOption {
	return func(c *storeConfig) { c.poolOpts = append(c.poolOpts, opts...) }
}

// Store is a versioned keyed collection in a [Domain]: a lockfree.Map from K
// to *[Record] (lock-free lookups), or for keys made of a group and a dense
// sequence number a per-group lock-free array ([WithDenseKeys]); pools that
// recycle the version nodes unlinked by version GC; and [Partitions] padded
// structure counters for phantom protection.
//
// Store itself provides the mechanisms; package txn provides the protocol
// (snapshots, read/write sets, commit). Methods that change records
// (TryLock, Install, Bump) must only be used by a committer following that
// protocol. All methods are safe for concurrent use. Store must not be
// copied; create it with [NewStore].
//
// Phantom protection (Silo's node set, with hash partitions instead of tree
// nodes): a committer bumps a key's partition counter when it inserts a key
// that was absent or deletes one that was present, and it does so at lock
// time, before its clock step ([Domain.CommitVersion], its commit point). A
// scanner records the counters before it looks at the map and re-reads
// them in validation, after its own commit point. Argument: if an inserter's
// commit point precedes the scanner's, it bumped before it, hence before
// the scanner's re-read, which therefore sees the bump unless the scanner
// recorded the counter after it. In that case the record existed before the
// scan started (records are created before their inserter locks them), so
// the scan visited it and recorded a read of its head as the scan saw it,
// which the inserter's installation or lock makes fail validation unless
// the scan saw the installed insert itself. An inserter whose commit point
// follows the scanner's is serialized after it and is no conflict.
//
// Records are created with LoadOrStore, so concurrent inserters of one key
// get the same record and contend on its lock. The record of a deleted key
// is removed from the map once the watermark passes its tombstone (see
// [Store.Entomb]), from a dense store's arrays too.
type Store[K comparable, V any] struct {
	d     *Domain
	id    uint64
	m     *lockfree.Map[K, *Record[V]] // the records; nil for a dense store
	dense *denseIndex[V]               // the records of a WithDenseKeys store, else nil
	keys  denseKeys[K]                 // WithDenseKeys' functions, for a dense store
	seed  maphash.Seed
	part  func(K) uint64 // WithPartitioner, or nil for the seeded hash
	pools [poolShards]*arena.Pool[version[V]]
	// stocks[i] is the private node stock (arena.Stock) of the owner of
	// fixed slot i, for i < poolShards, in front of pools[i]; nil until
	// that owner first installs through InstallOwned. Only the slot's
	// current owner reads or writes its entry (slot ownership passes
	// through the domain's atomic owned bits, which order one owner's
	// writes before the next owner's reads).
	stocks [poolShards]*arena.Stock[version[V]]
	// spacers are pools never used, kept alive only to keep the used ones
	// apart in memory (see allocPools).
	spacers []*arena.Pool[version[V]]

	// The grave fields are written by deleting committers and sweepers;
	// they get their own 128-byte block so that a delete does not write a
	// line that every lookup and install reads (m, pools).
	_ cacheline.Pad128
	// graves is the list of records with a tombstone head waiting for
	// removal (see graves.go): pushed by committers (Entomb), taken whole
	// by sweeps into backlog. backlog is read and written only by the
	// sweeper holding sweeping (its CAS acquires the previous holder's
	// writes, its release store publishes this holder's); backlogN is
	// len(backlog), for the cheap "anything to do?" check. buried counts
	// the records removed.
	graves   atomic.Pointer[grave[K, V]]
	sweeping atomic.Bool
	backlog  []grave[K, V]
	backlogN atomic.Int64
	buried   atomic.Uint64

	_ cacheline.Pad128
	// avail is a hint with bit i set when pools[i] may hold reusable nodes
	// (free, or retired and waiting for the watermark). Install sets a
	// shard's bit when it retires a node there and finds the bit clear (so
	// in steady state it only reads this line), and clears it when a steal
	// from that shard found nothing. A stale bit costs one failed TryGet; a
	// missing one, one allocation: never a correctness question.
	avail cacheline.PaddedUint64
	// parts are the phantom partition counters: bumped (Add 1) by
	// committers at lock time; the Add publishes nothing but its count.
	parts [Partitions]cacheline.PaddedUint64
}

// NewStore returns an empty Store in domain d.
func NewStore[K comparable, V any](d *Domain, opts ...StoreOption) *Store[K, V] {
	var c storeConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	s := &Store[K, V]{
		d:    d,
		id:   d.nextStore.Add(1),
		seed: maphash.MakeSeed(),
	}
	if c.dense != nil {
		dk, ok := c.dense.(denseKeys[K])
		if !ok {
			panic(fmt.Sprintf("mvcc: WithDenseKeys functions %T do not take the store's key type %v",
				c.dense, reflect.TypeFor[K]()))
		}
		s.keys, s.dense = dk, newDenseIndex[V]()
	} else {
		s.m = lockfree.NewMap[K, *Record[V]](c.mapOpts...)
	}
	// The domain sweeps the store's graves while the store lives; it holds
	// it weakly, so a store its users dropped is collected (a strong
	// reference kept every store of a domain, records and all, alive with
	// the domain, which transaction objects' cleanups keep alive for a few
	// GC cycles after its engine is dropped).
	ws := weak.Make(s)
	d.addSweeper(func(wm uint64) {
		if st := ws.Value(); st != nil {
			st.sweep(wm)
		}
	})
	if c.partitioner != nil {
		fn, ok := c.partitioner.(func(K) uint64)
		if !ok {
			panic(fmt.Sprintf("mvcc: WithPartitioner function %T does not take the store's key type %v",
				c.partitioner, reflect.TypeFor[K]()))
		}
		s.part = fn
	}
	s.allocPools(append([]arena.PoolOption{arena.WithMaxFree(poolMaxFree)}, c.poolOpts...))
	return s
}

// allocPools fills s.pools with pools no two of which share a 128-byte
// block of memory.
//
// Why: every commit writes its shard's pool (mutex, free list, counters),
// and arena.Pool is a ~160-byte unpadded struct, so pools allocated one
// after another share cache lines, and committers on different shards would
// false-share (the whole point of the shards is that they do not). Until
// arena.Pool pads itself, pools that land too close to a kept one are kept
// alive as spacers (so no other hot object takes their place) and another
// is allocated. Go's allocator hands out consecutive slots of a size class,
// so about every other pool is kept. The addresses are compared, never
// stored as integers; heap objects do not move.
func (s *Store[K, V]) allocPools(opts []arena.PoolOption) {
	far := func(p *arena.Pool[version[V]], kept []*arena.Pool[version[V]]) bool {
		size := unsafe.Sizeof(*p)
		a := uintptr(unsafe.Pointer(p))
		for _, q := range kept {
			b := uintptr(unsafe.Pointer(q))
			if a < b+size+cacheline.PadSize && b < a+size+cacheline.PadSize {
				return false
			}
		}
		return true
	}
	n := 0
	for tries := 0; n < poolShards; tries++ {
		p := arena.NewPool[version[V]](s.d, opts...)
		if tries >= 8*poolShards || far(p, s.pools[:n]) {
			s.pools[n] = p
			n++
		} else {
			s.spacers = append(s.spacers, p)
		}
	}
}

// Domain returns the store's Domain (nil for a nil store, so that package
// txn's check that a store belongs to the transaction's engine also turns
// away a nil one).
func (s *Store[K, V]) Domain() *Domain {
	if s == nil {
		return nil
	}
	return s.d
}

// ID returns the store's id, unique within its Domain (1, 2, ...).
func (s *Store[K, V]) ID() uint64 { return s.id }

// Lookup returns k's record, or nil if k never had one. Lock-free, no
// allocation.
func (s *Store[K, V]) Lookup(k K) *Record[V] {
	if s.dense != nil {
		g, n := s.keys.split(k)
		return s.dense.lookup(g, n)
	}
	r, _ := s.m.Load(k)
	return r
}

// LookupSeq calls fn(i, ki, r) for n consecutive keys of a store with
// dense keys ([WithDenseKeys]): ki has k's group and k's sequence number
// plus i, for i = 0, 1, ..., n-1 (ending early at the largest sequence
// number), and r is its record, nil where there is none. It stops when fn
// returns false. It looks the group up once, not n times (Lookup's group
// lookup is most of a dense point lookup). It reports false, calling
// nothing, for a store without dense keys.
//
// A reader at a snapshot acquired before the call gets from each r what
// it would get from Lookup: the group's run is the one Lookup would find,
// or a run that left the index during the call, whose records were all
// removed (the snapshot reads them as absent, as it would read the records
// of a run that replaced it: those were created after the call began, so
// their commits are above the snapshot; see denseIndex). A reader whose
// snapshot moves during the call (a read-write transaction that extends
// it) must use Lookup instead.
func (s *Store[K, V]) LookupSeq(k K, n int, fn func(i int, ki K, r *Record[V]) bool) bool {
	if s.dense == nil {
		return false
	}
	g, first := s.keys.split(k)
	s.dense.seq(g, first, n, func(i int, r *Record[V]) bool {
		return fn(i, s.keys.join(g, first+uint64(i)), r)
	})
	return true
}

// LoadOrCreate returns k's record, creating an empty one (no versions) if
// there is none. Of concurrent creators exactly one record wins.
func (s *Store[K, V]) LoadOrCreate(k K) *Record[V] {
	if s.dense != nil {
		g, n := s.keys.split(k)
		return s.dense.loadOrCreate(g, n, func() *Record[V] { return &Record[V]{part: uint16(s.PartitionOf(k))} })
	}
	if r, ok := s.m.Load(k); ok {
		return r
	}
	r, _ := s.m.LoadOrStore(k, &Record[V]{part: uint16(s.PartitionOf(k))})
	return r
}

// Range calls fn for every record in the store until fn returns false. Like
// lockfree.Map.Range it is not a snapshot of the map: every record created
// before the call is visited exactly once; records created during it may or
// may not be. Values must be read through [Record.Read] at a snapshot.
func (s *Store[K, V]) Range(fn func(k K, r *Record[V]) bool) {
	if s.dense != nil {
		s.dense.rangeAll(func(g [16]byte, n uint64, r *Record[V]) bool { return fn(s.keys.join(g, n), r) })
		return
	}
	s.m.Range(fn)
}

// Len returns the number of records (including those of deleted keys not
// removed yet). It is O(1) for a hash-indexed store and O(records) for a
// dense one (WithDenseKeys).
func (s *Store[K, V]) Len() int {
	if s.dense != nil {
		return s.dense.count()
	}
	return s.m.Len()
}

// PartitionOf returns k's phantom partition, in [0, Partitions): a seeded
// hash of k, or the WithPartitioner function's choice.
func (s *Store[K, V]) PartitionOf(k K) int {
	if s.part != nil {
		return int(s.part(k) % Partitions)
	}
	return int(maphash.Comparable(s.seed, k) % Partitions)
}

// Counter returns partition p's structure counter.
func (s *Store[K, V]) Counter(p int) uint64 { return s.parts[p].Load() }

// Counters copies every partition counter into dst (one load each).
func (s *Store[K, V]) Counters(dst *[Partitions]uint64) {
	for i := range s.parts {
		dst[i] = s.parts[i].Load()
	}
}

// Bump increments partition p's counter. Committers call it at lock time for
// each key whose existence their commit changes.
func (s *Store[K, V]) Bump(p int) { s.parts[p].Add(1) }

// Install publishes a new head version (ver, val, or a tombstone) on r and
// prunes the chain. The caller must hold r's lock with pending version ver,
// and ver must be above every installed version of r (CommitVersion's floor
// sees to it). hint picks the node pool (pass the committer's slot index;
// any int works).
//
// Steps:
//  1. Prune: with W the cached watermark, find the first version with
//     ver <= W, looking at most pruneWalk versions down from the head
//     (and not at all when W is the watermark of r's last prune: see
//     prune). Every active or future snapshot has S >= W and stops at or before
//     it, so the versions after it are unreachable for new walks: unlink
//     them with one plain store of nil into its next (no reader loads it:
//     see version.cutNext) and retire each: to the pool, which
//     tags it with Domain.Epoch (the watermark again, >= W) and reuses it
//     only after Safe() passes that tag (see Domain.Epoch for why no
//     reader still holds it then), or, for r's inline node, by tagging it
//     in r with that epoch, which step 2 of a later Install checks against
//     Safe() the same way (see Record.inlState). This never waits: the
//     watermark is a cached load of a read-mostly line. The walk is
//     bounded because while a snapshot pins the watermark, the versions
//     above it pile up (they may all be needed) and an unbounded walk
//     would make every install of a hot key slower the longer the pin
//     lasts; pruning less is always safe, and once the watermark catches
//     up the boundary is near the head again and one cut drops the whole
//     tail.
//  2. Take a node: for r's first version, r's inline node; else one from
//     the pool (reused only once no snapshot can hold it) if the pool was
//     ever fed, in the same critical section as the retirement of a pool
//     node unlinked in step 1 (Pool.RetireAndGet: the steady state of a
//     rewritten key, one node out and one in), or, through InstallOwned,
//     from the committer's private stock with no lock at all (the
//     retirement goes there too); else a node stolen from another shard
//     or a new one. Fill it; link it to the current head.
//     The inline node serves first versions only, so that the nodes of
//     keys that are updated over and over circulate through the pool as
//     they did before there was an inline node (letting rewritten keys use
//     it whenever it was free made each key's demand on the pool swing by
//     one node from one write to the next, and a synchronised sweep over
//     10,000 keys, as in engine_put_noalloc, overran the free list's bound
//     and allocated on 29% of its puts; reusing it only while the pool was
//     empty still allocated in 3 of 10 runs, see Record). Append-only
//     stores (events, traces) thus never touch a pool or its mutex. A
//     retired inline node is cleared here once Safe() has passed its tag,
//     so that its dead value's references do not stay alive.
//  3. head.Store(node): publishes the node and its fields.
//
// Pruning before installing (it used to follow) lets step 2 retire and
// take under one lock; it prunes no less in steady state (the new head is
// above the watermark, so the cut point was never the new node but when a
// refresh raced the commit, and pruning less is always safe).
func (s *Store[K, V]) Install(r *Record[V], ver uint64, val V, tomb bool, hint int) {
	s.install(r, ver, val, tomb, uint(hint)%poolShards, nil)
}

// InstallOwned is Install for a committer that owns the slot owner (the
// Slot whose snapshot its transaction held; package txn passes its
// transaction object's). When owner is one of the first poolShards fixed
// slots, the version nodes of step 2 come from and go to a stock private
// to that slot and this store (arena.Stock, stockSize nodes, in front of
// the slot's pool shard), without the pool's mutex; other slots install
// as Install(…, owner.Index()) does. Nodes in a stock count in
// Stats().Pool.Reused (every 64 reuses) but not in Retired or Free. The
// caller must be the slot's owner, as for every Slot method.
//
// Measured on the 2-core VM (10 alternating rounds against Install with
// the slot index as hint, docs/BENCHMARKS.md "A private node stock per
// committer"): engine_put_direct -8.6%, engine_cas_direct -13.6%,
// kvstore_put -8.7%, statecell_cas -11.6%, all still 0 allocs/op: the
// pool's lock and unlock were two full fences per written key.
func (s *Store[K, V]) InstallOwned(r *Record[V], ver uint64, val V, tomb bool, owner *Slot) {
	i := owner.Index()
	if i < 0 || i >= poolShards {
		s.install(r, ver, val, tomb, uint(i)%poolShards, nil)
		return
	}
	st := s.stocks[i]
	if st == nil {
		st = s.pools[i].NewStock(stockSize)
		s.stocks[i] = st
	}
	s.install(r, ver, val, tomb, uint(i), st)
}

// stockSize is the node capacity of an InstallOwned stock: what one
// committer retires in a store between two watermark advances
// (refreshEvery of its commits, more when a transaction writes several
// keys of the store), with room to spare, so that steady-state installs
// neither spill to the pool nor fall back to it.
const stockSize = 512

// install is Install and InstallOwned: shard picks the pool, st is the
// owner's stock or nil.
func (s *Store[K, V]) install(r *Record[V], ver uint64, val V, tomb bool, shard uint, st *arena.Stock[version[V]]) {
	p := s.pools[shard]
	bit := uint64(1) << shard
	fed := s.avail.Load()&bit != 0

	var last *version[V] // a pool node unlinked by (1), retired in (2)
	if cut := s.prune(r); cut != nil {
		switch {
		case cut.next.Load() != nil:
			// Several nodes (a hot key's prune unlinks up to
			// WatermarkEvery): all but the first pool node go to the
			// owner's stock, or to the pool retireBatch at a time, one
			// critical section each. Each node's next is read before the
			// node is retired.
			e := uint32(s.d.Epoch())
			var batch [retireBatch]*version[V]
			k := 0
			for x := cut; x != nil; {
				nx := x.next.Load()
				switch {
				case x == &r.inl:
					r.inlState, r.inlTag = inlRetired, e
				case last == nil:
					last = x
				default:
					batch[k] = x
					if k++; k == len(batch) {
						retireAll(p, st, batch[:k])
						k = 0
					}
				}
				x = nx
			}
			retireAll(p, st, batch[:k])
		case cut == &r.inl:
			r.inlState, r.inlTag = inlRetired, uint32(s.d.Epoch())
		default:
			last = cut
		}
	}

	var n *version[V]
	switch { // (2)
	case r.inlState == inlFree && r.head.Load() == nil:
		n = &r.inl // the record's first version (nothing was pruned)
		r.inlState = inlLinked
	case st != nil:
		n = st.RetireAndGet(last)
		fed = fed || st.Len() > 0
	case fed:
		n = p.RetireAndGet(last)
	case last != nil:
		p.Retire(last)
		s.avail.Or(bit) // publishes nothing but the hint
	}
	if r.inlState == inlRetired && r.inlTag != uint32(s.d.Safe()) {
		// The inline node is unlinked and no reader can hold it any more:
		// drop the references its dead value keeps.
		r.inl = version[V]{}
		r.inlState = inlDead
	}
	if n == nil && !fed {
		// Nothing was ever retired here (or a steal emptied it): a new
		// committer. One whose own retired nodes are only waiting for
		// the watermark allocates instead: stealing from other
		// committers' shards in steady state took their pool locks and
		// cache lines (engine_rmw_disjoint_parallel -cpu 2: +16%).
		n = s.steal(shard)
	}
	if n == nil {
		n = p.Alloc()
	}
	n.ver, n.val, n.tomb = ver, val, tomb
	n.initNext(r.head.Load()) // n is private until step 3
	r.head.Store(n)           // (3) publishes n
	chaos.Yield("mvcc.install.published")
}

// prune is step 1 of Install: it unlinks the versions of r that no
// snapshot can reach and returns the first of them (the rest follow along
// next), or nil. The caller holds r's lock and retires what it returns.
//
// It walks only when the watermark has moved since r's last prune (the
// record keeps the watermark's low 32 bits in inlTag while its inline node
// is not retired, see Record). A walk with watermark W leaves no version
// older than the first one <= W, and installs only add versions at the
// head, so a later walk with the same W could cut at most the versions
// installed since: those <= W, which can be there only in W's own tick.
// Skipping them keeps one tick's versions a little longer, and pruning
// less is always safe; the next install after the watermark moves walks
// and cuts them all. Equal low bits of two different watermarks (bounds
// 2^24 ticks apart: a bound's low 8 bits are all ones) only skip one more
// prune in the same way. A watermark's low 32 bits are never 0 once it
// has been computed, so a new record (tag 0) skips only while the
// watermark is 0, when there is nothing to prune. Without the
// skip a hot key's every install walked the versions of the current tick,
// up to WatermarkEvery of them (measured on the 2-core VM: one worker
// updating one StateCell, 3.58M -> 3.92M transitions/s with the skip).
func (s *Store[K, V]) prune(r *Record[V]) *version[V] {
	w := s.d.wm.Load()
	if r.inlState != inlRetired {
		if r.inlTag == uint32(w) {
			return nil
		}
		r.inlTag = uint32(w)
	}
	for i, v := 0, r.head.Load(); v != nil && i < pruneWalk; i, v = i+1, v.next.Load() {
		if v.ver > w {
			continue
		}
		cut := v.next.Load()
		if cut != nil {
			v.cutNext() // unlinks every version older than v
			chaos.Yield("mvcc.install.unlinked")
		}
		return cut
	}
	return nil
}

// steal takes a reusable node from another shard than own, for a committer
// whose own shard has none: a transaction object that is new (package txn
// pools them per P, so a goroutine that moves to another processor may get
// a fresh one, with a fresh slot and an empty shard) would otherwise
// allocate until its own retired nodes mature. It tries the shards whose
// avail bit is set, clearing the bit of each that had nothing; nil if none
// had a node. Measured on the 2-core VM before it: engine_put_noalloc
// allocated 19-194 times in about 400,000 puts in 8 of 30 runs.
func (s *Store[K, V]) steal(own uint) *version[V] {
	m := s.avail.Load() &^ (1 << own)
	for m != 0 {
		i := uint(bits.TrailingZeros64(m))
		m &= m - 1
		if n := s.pools[i].TryGet(); n != nil {
			return n
		}
		s.avail.And(^(uint64(1) << i)) // publishes nothing but the hint
	}
	return nil
}

// retireAll retires xs to the owner's stock st, or to the pool p when
// there is none.
func retireAll[V any](p *arena.Pool[version[V]], st *arena.Stock[version[V]], xs []*version[V]) {
	if st != nil {
		st.RetireAll(xs)
	} else {
		p.RetireAll(xs)
	}
}

// retireBatch is how many pruned nodes Install hands to the pool per
// critical section (Pool.RetireAll): a stack array of this many pointers.
const retireBatch = 32

// pruneWalk bounds the versions Install looks at to find the prune point.
// Between two watermark refreshes a hot key gets up to about WatermarkEvery
// versions (the seq trigger of Slot.NoteCommit refreshes at that count), so
// twice that finds the boundary whenever the watermark is current.
const pruneWalk = 2 * WatermarkEvery

// StoreStats is a momentary picture of a Store, for metrics and tests.
type StoreStats struct {
	// Records is the number of records (keys written, including deleted
	// ones whose records have not been removed yet: see Store.Entomb).
	Records int
	// Removed is the number of records of deleted keys removed so far.
	Removed uint64
	// Groups is, for a dense store (WithDenseKeys), the number of groups
	// (runs) in its index: each holds its records' arrays, and leaves with
	// its last record. 0 for a hashed store.
	Groups int
	// Pool sums the version-node pools' counters. Pool.Retired is the
	// number of unlinked versions waiting for the watermark to pass them
	// (a forgotten snapshot makes it grow); Pool.Reused counts versions
	// served from recycled nodes. Committers' private stocks (see
	// InstallOwned) hold up to stockSize nodes each outside these counts,
	// and add their reuses to Reused every 64.
	Pool arena.PoolStats
}

// Stats returns the store's figures.
func (s *Store[K, V]) Stats() StoreStats {
	st := StoreStats{Records: s.Len(), Removed: s.buried.Load()}
	if s.dense != nil {
		st.Groups = s.dense.groups()
	}
	for _, p := range s.pools {
		ps := p.Stats()
		st.Pool.Allocated += ps.Allocated
		st.Pool.Reused += ps.Reused
		st.Pool.Free += ps.Free
		st.Pool.Dropped += ps.Dropped
		if ps.Retired > 0 && (st.Pool.Retired == 0 || ps.OldestRetired < st.Pool.OldestRetired) {
			st.Pool.OldestRetired = ps.OldestRetired
		}
		st.Pool.Retired += ps.Retired
	}
	return st
}
