package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	memdb "github.com/hashicorp/go-memdb"
	"github.com/substrate-lab/substrate/prims"
	"github.com/tidwall/buntdb"
)

// Tier B (M3 plan Category 8 and the kvstore_get_noalloc row of Category 3):
// the primitive facades of package prims, through the DB's transactions
// (db.View for reads, db.Update for writes: closure, pooled *Tx, retry
// loop), so the figures are what a user pays. Same honesty rules as the
// engine_* cases: fixed seeds, keys, runs and payloads pre-generated,
// a warm-up pass before the timer, nothing allocated or formatted in the
// timed loop beyond what the operation itself allocates (reported by
// ReportAllocs), results published to sink, and a miss or a failed
// transaction fails the benchmark.

// tierBGate names the plan's Tier B rule: a warning above the M3 target,
// "investigate" above 50 µs, no hard block (see tierVerdict).
const tierBGate = "warn>M3 target"

// kvRuns x kvKeysPerRun is the KV fixture: 10,000 entries, the key count of
// the core_* and engine_* cases, spread over runs as an agent workload
// would (a run's key set holds 100 keys).
const (
	kvRuns       = 100
	kvKeysPerRun = 100
)

// kvstoreCases lists the KVStore cases in report order.
func kvstoreCases() []Case {
	return []Case{
		{
			Name: "kvstore_get", Tier: "B", Group: "kvstore", Gate: tierBGate,
			PlanGoal: us(5), OurGoal: ns(150), Run: benchKVGet,
		},
		{
			Name: "kvstore_put", Tier: "B", Group: "kvstore", Gate: tierBGate,
			PlanGoal: us(8), OurGoal: ns(400), Run: benchKVPut,
		},
		{
			Name: "kvstore_delete", Tier: "B", Group: "kvstore", Gate: tierBGate,
			PlanGoal: us(8), OurGoal: ns(800), Run: benchKVDelete,
		},
		{
			Name: "kvstore_get_noalloc", Tier: "B", Group: "kvstore", Gate: tierBGate,
			PlanGoal: us(3), OurGoal: ns(150), Run: benchKVGetNoAlloc,
		},
	}
}

// benchRuns returns n distinct RunIDs built from the fixed-seed key stream
// (two keys per run), so every run of the suite uses the same runs.
func benchRuns(n int) []prims.RunID {
	keys := randomKeys(2 * n)
	runs := make([]prims.RunID, n)
	for i := range runs {
		binary.LittleEndian.PutUint64(runs[i][:8], keys[2*i])
		binary.LittleEndian.PutUint64(runs[i][8:], keys[2*i+1])
		runs[i][6] = runs[i][6]&0x0f | 0x40 // a well-formed version 4 UUID
		runs[i][8] = runs[i][8]&0x3f | 0x80
	}
	return runs
}

// openBenchDB opens a DB closed when the benchmark ends.
func openBenchDB(b *testing.B) *prims.DB {
	db, err := prims.Open()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// kvOp is one (run, key) entry of the KV fixture.
type kvOp struct {
	run prims.RunID
	key string
}

// kvFixture is a DB with one KVStore[uint64] holding kvRuns x kvKeysPerRun
// entries, entry i -> i, filled one run per transaction. ops lists the
// entries in a fixed-seed shuffled order (records are heap objects laid out
// in fill order; see engineFixture for why the order matters).
type kvFixture struct {
	db  *prims.DB
	kv  *prims.KVStore[uint64]
	ops []kvOp
	val []uint64 // val[i] is ops[i]'s value
}

func newKVFixture(b *testing.B) kvFixture {
	db := openBenchDB(b)
	kv, err := prims.NewKVStore[uint64](db, "kv")
	if err != nil {
		b.Fatal(err)
	}
	f := kvFixture{db: db, kv: kv}
	all := kvEntries()
	f.fill(b, all)
	for _, i := range shuffled(denseKeys(len(all))) {
		f.ops = append(f.ops, all[i])
		f.val = append(f.val, i)
	}
	return f
}

// fill puts ops[i] -> i, kvKeysPerRun entries per transaction.
func (f kvFixture) fill(b *testing.B, ops []kvOp) {
	for lo := 0; lo < len(ops); lo += kvKeysPerRun {
		err := f.db.Update(func(tx *prims.Tx) error {
			for i := lo; i < min(lo+kvKeysPerRun, len(ops)); i++ {
				if err := f.kv.Put(tx, ops[i].run, ops[i].key, uint64(i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
}

// checkKeyCount fails b unless every run still lists kvKeysPerRun keys
// (the puts updated entries instead of inserting new ones).
func (f kvFixture) checkKeyCount(b *testing.B) {
	err := f.db.View(func(tx *prims.Tx) error {
		for _, run := range benchRuns(kvRuns) {
			keys, err := f.kv.List(tx, run, "")
			if err != nil {
				return err
			}
			if len(keys) != kvKeysPerRun {
				return fmt.Errorf("run %v lists %d keys, want %d", run, len(keys), kvKeysPerRun)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// runKVGets is the timed read loop of kvstore_get and kvstore_get_noalloc:
// one db.View with one Get per iteration, cycling over the shuffled
// entries, after a warm-up pass. The closure is built once, before the
// timer; a miss or a wrong value fails the benchmark, and so does any
// allocation in the timed loop when noAlloc is set.
func runKVGets(b *testing.B, f kvFixture, noAlloc bool) {
	b.ReportAllocs()
	var (
		op  kvOp
		v   uint64
		ok  bool
		sum uint64
	)
	get := func(tx *prims.Tx) error {
		v, ok = f.kv.Get(tx, op.run, op.key)
		return nil
	}
	bad := 0
	for i := range f.ops {
		op = f.ops[i]
		if f.db.View(get) != nil || !ok || v != f.val[i] {
			bad++
		}
		sum += v
	}
	if bad != 0 {
		b.Fatalf("warm-up: %d of %d reads missed or read a wrong value", bad, len(f.ops))
	}
	var before uint64
	if noAlloc {
		before = mallocs()
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		op = f.ops[i]
		if f.db.View(get) != nil || !ok {
			bad++
		}
		sum += v
		i++
		if i == len(f.ops) {
			i = 0
		}
	}
	b.StopTimer()
	if noAlloc {
		checkNoAlloc(b, before, nil)
	}
	sink = sum
	if bad != 0 {
		b.Fatalf("%d of %d reads missed a present key", bad, b.N)
	}
}

// benchKVGet: db.View + KVStore.Get of a present key (10,000 entries, 100
// runs). Must allocate nothing: the *Tx handed to View is pooled.
func benchKVGet(b *testing.B) { runKVGets(b, newKVFixture(b), false) }

// benchKVGetNoAlloc is kvstore_get with the allocation-free claim enforced
// (plan Category 3: facade overhead only): the same pre-generated entries,
// pointer-free uint64 values, and the benchmark fails if the timed loop
// allocated.
func benchKVGetNoAlloc(b *testing.B) { runKVGets(b, newKVFixture(b), true) }

// benchKVPut: db.Update + KVStore.Put of an existing key (Put reads the key
// to know whether the run's key set changes: it does not here) + commit.
func benchKVPut(b *testing.B) {
	f := newKVFixture(b)
	var (
		op kvOp
		n  int
	)
	runUpdates(b, f.db, f.ops, 2, &op, nil, &n, func(tx *prims.Tx) error { return f.kv.Put(tx, op.run, op.key, uint64(n)) })
	f.checkKeyCount(b)
}

// benchKVRMW: db.Update + Get + Put(v+1) of an existing key: the
// read-modify-write peers are compared on (kv_rmw).
func benchKVRMW(b *testing.B) {
	f := newKVFixture(b)
	var op kvOp
	runUpdates(b, f.db, f.ops, 2, &op, nil, nil, func(tx *prims.Tx) error {
		v, ok := f.kv.Get(tx, op.run, op.key)
		if !ok {
			return fmt.Errorf("missing %v/%s", op.run, op.key)
		}
		return f.kv.Put(tx, op.run, op.key, v+1)
	})
}

// benchKVDelete: db.Update + KVStore.Delete of a present key + commit. The
// fixture's 10,000 entries are deleted in a shuffled order; when all are
// gone the timer stops, they are put back (100 transactions) and it
// restarts, so every timed operation deletes a present key. A delete
// removes the key from its run's sorted key set, a copy-on-write of that
// set (100 keys down to 1, 50 on average; see prims' setIndex): that is part
// of the figure.
func benchKVDelete(b *testing.B) {
	f := newKVFixture(b)
	b.ReportAllocs()
	var (
		op      kvOp
		existed bool
	)
	del := func(tx *prims.Tx) error {
		var err error
		existed, err = f.kv.Delete(tx, op.run, op.key)
		return err
	}
	refill := func() {
		f.fill(b, f.ops)
	}
	bad := 0
	for i := range f.ops { // warm-up pass, then put everything back
		op = f.ops[i]
		if f.db.Update(del) != nil || !existed {
			bad++
		}
	}
	refill()
	if bad != 0 {
		b.Fatalf("warm-up: %d deletes failed or found nothing", bad)
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		op = f.ops[i]
		if f.db.Update(del) != nil || !existed {
			bad++
		}
		i++
		if i == len(f.ops) {
			b.StopTimer()
			refill()
			b.StartTimer()
			i = 0
		}
	}
	b.StopTimer()
	if bad != 0 {
		b.Fatalf("%d of %d deletes failed or found nothing", bad, b.N)
	}
}

// kvPeerValues returns the fixture's values pre-encoded as decimal text,
// for the byte-oriented peers.
func kvPeerValues(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// peerKey returns the byte key the peers store an entry under: the run's 16
// bytes then the key, the composite key prims hashes natively.
func peerKey(op kvOp) string { return string(op.run[:]) + op.key }

// --- Tier B peers: embedded transactional KV stores --------------------
//
// PeersB compares the KV facade with embedded Go stores that have
// transactions, in the same process and run: buntdb (in memory, one
// RWMutex: View/Update), go-memdb (immutable radix trees, one writer at a
// time) and badger v4 in memory (MVCC, serialized commits). Every peer
// holds the same 10,000 entries, keyed by the run's 16 bytes followed by the
// key (the same composite key prims uses), visited in the same shuffled
// order through its own transaction API:
//
//	kv_get  a read transaction with one point read
//	kv_put  a write transaction that overwrites a present key
//	kv_rmw  a write transaction that reads a key and writes it back
//
// Byte-oriented peers (buntdb, badger) get their keys and values encoded
// before the timer; their kv_rmw writes the next pre-encoded value instead
// of parsing and formatting the one read (so they do no serialization work
// that substrate, which stores typed values, does not). go-memdb stores
// objects: each entry has two pre-built objects, and a write fills and
// inserts the one not currently in the tree (never mutating a stored
// object). What each API allocates per call (interface boxing of go-memdb's
// index arguments, badger's transaction objects) is the peer's own cost and
// is reported.

// peerBImpls and peerBOps are the PeersB implementations and operations, in
// report order.
var (
	peerBImpls = []string{"substrate", "buntdb", "go-memdb", "badger"}
	peerBOps   = []string{"kv_get", "kv_put", "kv_rmw"}
)

// PeersB returns the Tier B peer cases, operation-major, substrate first.
// The substrate rows run the bodies of kvstore_get and kvstore_put (and a
// Get+Put read-modify-write through db.Update).
func PeersB() []PeerCase {
	bodies := map[string]map[string]func(*testing.B){
		"substrate": {"kv_get": benchKVGet, "kv_put": benchKVPut, "kv_rmw": benchKVRMW},
		"buntdb":    {"kv_get": benchBuntGet, "kv_put": benchBuntPut, "kv_rmw": benchBuntRMW},
		"go-memdb":  {"kv_get": benchMemdbGet, "kv_put": benchMemdbPut, "kv_rmw": benchMemdbRMW},
		"badger":    {"kv_get": benchBadgerGet, "kv_put": benchBadgerPut, "kv_rmw": benchBadgerRMW},
	}
	var out []PeerCase
	for _, op := range peerBOps {
		for _, impl := range peerBImpls {
			out = append(out, PeerCase{Impl: impl, Op: op, Run: bodies[impl][op]})
		}
	}
	return out
}

// peerKVFixture is the KV fixture's entries as the byte-oriented peers see
// them: keys[i] holds vals[i] (ops in the same shuffled order as
// kvFixture.ops), next[i] is the value a write of entry i stores.
type peerKVFixture struct {
	keys []string
	vals []string
	next []string
}

func newPeerKVFixture() peerKVFixture {
	all := kvEntries()
	vals := kvPeerValues(len(all) + 1)
	var f peerKVFixture
	for _, i := range shuffled(denseKeys(len(all))) {
		f.keys = append(f.keys, peerKey(all[i]))
		f.vals = append(f.vals, vals[i])
		f.next = append(f.next, vals[i+1])
	}
	return f
}

// runPeerLoop runs op(i) for a warm-up pass over n entries, then b.N times
// cycling over them; an error fails the benchmark.
//
// op is called through a func value: one indirect call per operation
// (1-2 ns) that substrate's rows, whose loops call db.View and db.Update
// directly (runKVGets, runUpdates), do not make. Against the peers' 450 ns
// to 10 µs per operation it moves their figures by under 0.5%, in
// substrate's favour; noted rather than written out nine times.
func runPeerLoop(b *testing.B, n int, op func(i int) error) {
	b.ReportAllocs()
	failures := 0
	for i := range n {
		if op(i) != nil {
			failures++
		}
	}
	if failures != 0 {
		b.Fatalf("warm-up: %d of %d operations failed", failures, n)
	}
	b.ResetTimer()
	i := 0
	for range b.N {
		if op(i) != nil {
			failures++
		}
		i++
		if i == n {
			i = 0
		}
	}
	b.StopTimer()
	if failures != 0 {
		b.Fatalf("%d of %d operations failed", failures, b.N)
	}
}

// The PeersB bodies (see PeersB in kvstore.go). Each loop is written out per
// peer, with its transaction closure built once before the timer.

// --- buntdb ---

func newBunt(b *testing.B, f peerKVFixture) *buntdb.DB {
	db, err := buntdb.Open(":memory:")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	for lo := 0; lo < len(f.keys); lo += 100 {
		err := db.Update(func(tx *buntdb.Tx) error {
			for i := lo; i < min(lo+100, len(f.keys)); i++ {
				if _, _, err := tx.Set(f.keys[i], f.vals[i], nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return db
}

func benchBuntGet(b *testing.B) {
	f := newPeerKVFixture()
	db := newBunt(b, f)
	var (
		k   string
		v   string
		sum int
	)
	get := func(tx *buntdb.Tx) error {
		var err error
		v, err = tx.Get(k)
		return err
	}
	runPeerLoop(b, len(f.keys), func(i int) error {
		k = f.keys[i]
		err := db.View(get)
		sum += len(v)
		return err
	})
	sink = uint64(sum)
}

func benchBuntPut(b *testing.B) {
	f := newPeerKVFixture()
	db := newBunt(b, f)
	var k, v string
	put := func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(k, v, nil)
		return err
	}
	runPeerLoop(b, len(f.keys), func(i int) error {
		k, v = f.keys[i], f.next[i]
		return db.Update(put)
	})
}

func benchBuntRMW(b *testing.B) {
	f := newPeerKVFixture()
	db := newBunt(b, f)
	var k, v string
	sum := 0
	rmw := func(tx *buntdb.Tx) error {
		old, err := tx.Get(k)
		if err != nil {
			return err
		}
		sum += len(old)
		_, _, err = tx.Set(k, v, nil)
		return err
	}
	runPeerLoop(b, len(f.keys), func(i int) error {
		k, v = f.keys[i], f.next[i]
		return db.Update(rmw)
	})
	sink = uint64(sum)
}

// --- go-memdb ---

// memdbEntry is go-memdb's object for one entry.
type memdbEntry struct {
	Key string
	Val uint64
}

// memdbFixture holds two objects per entry (see PeersB): cur[i] says which
// one is in the tree.
type memdbFixture struct {
	db   *memdb.MemDB
	keys []string
	objs [][2]memdbEntry
	cur  []uint8
}

func newMemdb(b *testing.B, f peerKVFixture) *memdbFixture {
	schema := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		"kv": {Name: "kv", Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
		}},
	}}
	db, err := memdb.NewMemDB(schema)
	if err != nil {
		b.Fatal(err)
	}
	m := &memdbFixture{db: db, keys: f.keys, objs: make([][2]memdbEntry, len(f.keys)), cur: make([]uint8, len(f.keys))}
	for lo := 0; lo < len(f.keys); lo += 100 {
		txn := db.Txn(true)
		for i := lo; i < min(lo+100, len(f.keys)); i++ {
			m.objs[i][0] = memdbEntry{Key: f.keys[i], Val: uint64(i)}
			m.objs[i][1].Key = f.keys[i]
			if err := txn.Insert("kv", &m.objs[i][0]); err != nil {
				b.Fatal(err)
			}
		}
		txn.Commit()
	}
	return m
}

var errMissing = errors.New("bench: key missing")

func benchMemdbGet(b *testing.B) {
	m := newMemdb(b, newPeerKVFixture())
	var sum uint64
	runPeerLoop(b, len(m.keys), func(i int) error {
		txn := m.db.Txn(false)
		raw, err := txn.First("kv", "id", m.keys[i])
		txn.Abort()
		if err != nil {
			return err
		}
		if raw == nil {
			return errMissing
		}
		sum += raw.(*memdbEntry).Val
		return nil
	})
	sink = sum
}

// write inserts entry i's spare object with value v.
func (m *memdbFixture) write(txn *memdb.Txn, i int, v uint64) error {
	o := &m.objs[i][1-m.cur[i]]
	o.Val = v
	if err := txn.Insert("kv", o); err != nil {
		return err
	}
	m.cur[i] = 1 - m.cur[i]
	return nil
}

func benchMemdbPut(b *testing.B) {
	m := newMemdb(b, newPeerKVFixture())
	n := uint64(0)
	runPeerLoop(b, len(m.keys), func(i int) error {
		txn := m.db.Txn(true)
		n++
		if err := m.write(txn, i, n); err != nil {
			txn.Abort()
			return err
		}
		txn.Commit()
		return nil
	})
}

func benchMemdbRMW(b *testing.B) {
	m := newMemdb(b, newPeerKVFixture())
	runPeerLoop(b, len(m.keys), func(i int) error {
		txn := m.db.Txn(true)
		raw, err := txn.First("kv", "id", m.keys[i])
		if err != nil || raw == nil {
			txn.Abort()
			return errors.Join(err, errMissing)
		}
		if err := m.write(txn, i, raw.(*memdbEntry).Val+1); err != nil {
			txn.Abort()
			return err
		}
		txn.Commit()
		return nil
	})
}

// --- badger v4, in memory ---

// badgerFixture holds the byte keys and values, encoded before the timer.
type badgerFixture struct {
	db               *badger.DB
	keys, vals, next [][]byte
}

func newBadger(b *testing.B, f peerKVFixture) *badgerFixture {
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	bf := &badgerFixture{db: db}
	for i := range f.keys {
		bf.keys = append(bf.keys, []byte(f.keys[i]))
		bf.vals = append(bf.vals, []byte(f.vals[i]))
		bf.next = append(bf.next, []byte(f.next[i]))
	}
	for lo := 0; lo < len(bf.keys); lo += 100 {
		err := db.Update(func(txn *badger.Txn) error {
			for i := lo; i < min(lo+100, len(bf.keys)); i++ {
				if err := txn.Set(bf.keys[i], bf.vals[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return bf
}

func benchBadgerGet(b *testing.B) {
	bf := newBadger(b, newPeerKVFixture())
	var (
		k   []byte
		sum int
	)
	read := func(v []byte) error { sum += len(v); return nil }
	get := func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		return item.Value(read)
	}
	runPeerLoop(b, len(bf.keys), func(i int) error {
		k = bf.keys[i]
		return bf.db.View(get)
	})
	sink = uint64(sum)
}

func benchBadgerPut(b *testing.B) {
	bf := newBadger(b, newPeerKVFixture())
	var k, v []byte
	put := func(txn *badger.Txn) error { return txn.Set(k, v) }
	runPeerLoop(b, len(bf.keys), func(i int) error {
		k, v = bf.keys[i], bf.next[i]
		return bf.db.Update(put)
	})
}

func benchBadgerRMW(b *testing.B) {
	bf := newBadger(b, newPeerKVFixture())
	var (
		k, v []byte
		sum  int
	)
	read := func(old []byte) error { sum += len(old); return nil }
	rmw := func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		if err != nil {
			return err
		}
		if err := item.Value(read); err != nil {
			return err
		}
		return txn.Set(k, v)
	}
	runPeerLoop(b, len(bf.keys), func(i int) error {
		k, v = bf.keys[i], bf.next[i]
		return bf.db.Update(rmw)
	})
	sink = uint64(sum)
}
