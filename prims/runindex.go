package prims

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/substrate-lab/substrate/lockfree"
	"github.com/substrate-lab/substrate/mvcc"
	"github.com/substrate-lab/substrate/txn"
)

// Status is a run's lifecycle status. The zero Status is invalid.
//
// Allowed transitions (RunIndex.Transition): Active to any other status;
// Paused to Active, Cancelled or Archived; Completed, Failed and Cancelled
// to Archived only; Archived is terminal. A transition to the same status
// is not allowed.
//
//	Active ──► Paused, Completed, Failed, Cancelled, Archived
//	Paused ──► Active, Cancelled, Archived
//	Completed, Failed, Cancelled ──► Archived
//	Archived (terminal)
type Status uint8

// The run statuses. A run starts Active.
const (
	Active Status = iota + 1
	Paused
	Completed
	Failed
	Cancelled
	Archived
)

var statusNames = [...]string{
	Active:    "active",
	Paused:    "paused",
	Completed: "completed",
	Failed:    "failed",
	Cancelled: "cancelled",
	Archived:  "archived",
}

// String returns the status's name ("active", "paused", "completed",
// "failed", "cancelled", "archived"), or "Status(n)" for an invalid one.
func (s Status) String() string {
	if s.Valid() {
		return statusNames[s]
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Valid reports whether s is one of the six statuses.
func (s Status) Valid() bool { return s >= Active && s <= Archived }

// transitions[from] is the set of statuses from may move to, as a bit mask.
var transitions = [...]uint8{
	Active:    1<<Paused | 1<<Completed | 1<<Failed | 1<<Cancelled | 1<<Archived,
	Paused:    1<<Active | 1<<Cancelled | 1<<Archived,
	Completed: 1 << Archived,
	Failed:    1 << Archived,
	Cancelled: 1 << Archived,
	Archived:  0,
}

// CanTransitionTo reports whether the lifecycle allows a run in status s to
// move to status to (see Status). It is false for invalid statuses and for
// s == to.
func (s Status) CanTransitionTo(to Status) bool {
	return s.Valid() && to.Valid() && transitions[s]&(1<<to) != 0
}

// Terminal reports whether no transition leaves s (Archived).
func (s Status) Terminal() bool { return s.Valid() && transitions[s] == 0 }

// RunOptions describes a run to create (RunIndex.Create).
type RunOptions struct {
	// ID registers an existing run ID (one that may already hold data in
	// the primitives); zero means a fresh NewRunID.
	ID RunID
	// Parent is the run this one was spawned by, or zero. A non-zero Parent
	// must be a run of the RunIndex.
	Parent RunID
	// Tags are free-form labels, each indexed (RunIndex.QueryByTag). Empty
	// tags are invalid; duplicates are dropped. Copied by Create.
	Tags []string
	// Metadata is free-form key-value data, not indexed. Copied by Create.
	Metadata map[string]string
}

// RunInfo is a run as the RunIndex holds it. Tags and Metadata are the
// caller's copies: changing them changes nothing stored.
type RunInfo struct {
	ID        RunID
	Status    Status
	Parent    RunID // zero for a top-level run; may name a deleted run
	Tags      []string
	Metadata  map[string]string
	CreatedAt time.Time // the creating transaction's timestamp (see Tx)
	UpdatedAt time.Time // the timestamp of the last Transition's transaction (CreatedAt before any)
}

// RunIndex registers runs and gives them a lifecycle (Status), queries by
// status, tag and parent, and cascade deletion. Get it with DB.Runs; there
// is one per DB.
//
// Data primitives do not require registration: any non-zero RunID may hold
// KV entries, events, cells and traces. Registering a run (Create, with
// RunOptions.ID to adopt an existing ID) adds the lifecycle, the queries,
// and Delete, which removes the run's data from every primitive.
//
// # Layout
//
// A run is one record: RunID -> status, parent, tags, metadata, times and
// a sequence number, taken from a DB-wide counter outside the transaction
// (aborted attempts leave gaps, which are harmless) and mapped back to the
// RunID by one more record. The status, tag and children indexes are sets
// of sequence numbers kept as bitmaps: chunks of runChunkBits bits (one
// record per set and chunk, present only while the chunk is non-empty) plus
// one record per set holding its number of chunks.
//
// So Create writes three records (the run, its sequence mapping, its
// Active chunk) plus one chunk per tag and one for the parent's children;
// Transition writes three (the run, the old and the new status chunk). A
// chunk changes copy-on-write, 128 bytes whatever the number of runs. A
// query reads the set's chunk count, one record per chunk below it (a set
// whose members were created far apart reads the empty chunks between
// them: about one read per 1024 runs created since its first member) and
// one record per run returned. Results come in creation order.
//
// # Consistency
//
// Transition and Delete read the run's record, so concurrent changes of one
// run conflict and one retries. The status index changes in the same
// transaction as the status. Queries read the chunk records and the chunk
// count of their set, so in a read-write transaction they are phantom-safe:
// a concurrent Create, Transition or Delete that adds or removes a run of the
// queried set and commits first makes the querying transaction fail with
// ErrConflict. Concurrent Creates of Active runs whose sequence numbers share
// a chunk conflict too (one retries).
//
// # Deletion and child runs
//
// Delete removes the run's data in every primitive (KV stores, event logs,
// state cells, traces: the DB's run-delete hooks), its record and its index
// entries, in the caller's transaction. Its child runs are not deleted:
// they keep their status and their Parent, which then names a deleted run
// (Get(child).Parent still returns it; Children of the deleted run is
// ErrNotFound). Delete them first (Children, then Delete each) for a
// cascade down the tree.
//
// All methods are safe for concurrent use with different transactions.
type RunIndex struct {
	db *DB
	// seq numbers runs in creation order (taken per attempt, outside the
	// transaction).
	seq atomic.Uint64
	// runs holds the run records; bySeq maps sequence numbers to RunIDs.
	runs  *mvcc.Store[RunID, runRec]
	bySeq *mvcc.Store[uint64, RunID]
	// sets holds the status, tag and children bitmaps.
	sets runSets
}

// runRec is the stored form of a run. tags and meta are owned by the
// store and never modified (every version shares them). The times are
// the transactions' timestamps (Tx.now, Unix nanoseconds), returned as
// time.Unix(0, ns) (see storedState): 16 bytes instead of two time.Times'
// 48, which takes a run's version node from 152 to 120 bytes (size class
// 160 -> 128) and its record from 176 to 144.
type runRec struct {
	seq              uint64
	status           Status
	parent           RunID
	tags             []string
	meta             []metaEntry // sorted by key; a slice costs a third of a small map
	created, updated int64
}

// metaEntry is one metadata entry of a stored run.
type metaEntry struct{ k, v string }

// Errors of the RunIndex (preallocated).
var (
	errRunNotFound = &wrapErr{"prims: run not found in the RunIndex", ErrNotFound}
	errRunExists   = &wrapErr{"prims: run already registered in the RunIndex", ErrExists}
	errBadStatus   = &wrapErr{"prims: invalid run status", ErrInvalid}
	errEmptyRunTag = &wrapErr{"prims: empty run tag", ErrInvalid}
	errNoParentRun = &wrapErr{"prims: parent run not found in the RunIndex", ErrNotFound}
)

// Runs returns the DB's RunIndex (created on first use). On a nil DB it
// returns an index whose operations fail with ErrInvalid; on a closed DB
// they fail with ErrClosed.
func (db *DB) Runs() *RunIndex {
	if db == nil {
		return &RunIndex{}
	}
	return component(db, "runs", func() *RunIndex {
		return &RunIndex{
			db:    db,
			runs:  newStore[RunID, runRec](db, hashRun),
			bySeq: newStore[uint64, RunID](db, func(n, seed uint64) uint64 { return lockfree.Mix64(n ^ seed) }),
			sets:  newRunSets(db),
		}
	})
}

func (x *RunIndex) checkWrite(tx *Tx) error {
	if x == nil || x.db == nil {
		return errNilDB
	}
	return tx.checkWrite(x.db)
}

func (x *RunIndex) checkRead(tx *Tx) error {
	if x == nil || x.db == nil {
		return errNilDB
	}
	return tx.checkRead(x.db)
}

// Create registers a new run in status Active and returns its ID
// (opts.ID if set, else a fresh NewRunID). Tags and Metadata are copied.
//
// Errors: ErrInvalid (empty tag, nil or foreign tx), ErrExists (opts.ID is
// already registered), ErrNotFound (opts.Parent is not a registered run),
// ErrReadOnly, ErrTxDone, ErrClosed. On error nothing is written.
func (x *RunIndex) Create(tx *Tx, opts RunOptions) (RunID, error) {
	if err := x.checkWrite(tx); err != nil {
		return RunID{}, err
	}
	tags, err := copyTags(opts.Tags)
	if err == errEmptyTag {
		err = errEmptyRunTag
	}
	if err != nil {
		return RunID{}, err
	}
	id := opts.ID
	if id.IsZero() {
		id = NewRunID() // random: a collision is not a concern, so no read
	} else if _, ok := txn.Get(tx.tx, x.runs, id); ok {
		return RunID{}, errRunExists
	}
	if !opts.Parent.IsZero() {
		if _, ok := txn.Get(tx.tx, x.runs, opts.Parent); !ok {
			return RunID{}, errNoParentRun
		}
	}
	seq := x.seq.Add(1) - 1
	t := tx.now()
	rec := runRec{seq: seq, status: Active, parent: opts.Parent, tags: tags, created: t, updated: t}
	if len(opts.Metadata) > 0 {
		rec.meta = make([]metaEntry, 0, len(opts.Metadata))
		for k, v := range opts.Metadata {
			rec.meta = append(rec.meta, metaEntry{k, v})
		}
		slices.SortFunc(rec.meta, func(a, b metaEntry) int { return strings.Compare(a.k, b.k) })
	}
	if err := txn.Put(tx.tx, x.runs, id, rec); err != nil {
		return RunID{}, err
	}
	if err := txn.Put(tx.tx, x.bySeq, seq, id); err != nil {
		return RunID{}, err
	}
	if err := x.sets.add(tx, statusSet(Active), seq); err != nil {
		return RunID{}, err
	}
	for _, tag := range tags {
		if err := x.sets.add(tx, tagSet(tag), seq); err != nil {
			return RunID{}, err
		}
	}
	if !opts.Parent.IsZero() {
		if err := x.sets.add(tx, childSet(opts.Parent), seq); err != nil {
			return RunID{}, err
		}
	}
	return id, nil
}

// Get returns run id as tx sees it, and whether it is registered. It
// reports false for the zero RunID, a nil, ended or foreign tx, or a closed
// DB. Tags and Metadata are the caller's copies.
func (x *RunIndex) Get(tx *Tx, id RunID) (RunInfo, bool) {
	if x == nil || !tx.readable(x.db) || id.IsZero() { // readable refuses a nil db
		return RunInfo{}, false
	}
	rec, ok := txn.Get(tx.tx, x.runs, id)
	if !ok {
		return RunInfo{}, false
	}
	info := RunInfo{
		ID: id, Status: rec.status, Parent: rec.parent,
		CreatedAt: time.Unix(0, rec.created), UpdatedAt: time.Unix(0, rec.updated),
	}
	if len(rec.tags) > 0 {
		info.Tags = append([]string(nil), rec.tags...)
	}
	if rec.meta != nil {
		info.Metadata = make(map[string]string, len(rec.meta))
		for _, e := range rec.meta {
			info.Metadata[e.k] = e.v
		}
	}
	return info, true
}

// Transition moves run id to status to, updating the status index in the
// same transaction, and sets UpdatedAt to the transaction's timestamp
// (the one its events and cell writes carry; see Tx).
//
// Errors: ErrInvalidTransition (the lifecycle does not allow it, same
// status included; an invalid to wraps both ErrInvalidTransition and
// ErrInvalid), ErrNotFound (id is not registered), ErrInvalid (zero id, nil
// or foreign tx), ErrReadOnly, ErrTxDone, ErrClosed. On error nothing is
// written.
func (x *RunIndex) Transition(tx *Tx, id RunID, to Status) error {
	if err := x.checkWrite(tx); err != nil {
		return err
	}
	if id.IsZero() {
		return errZeroRun
	}
	if !to.Valid() {
		return &twoSentinels{
			msg:  fmt.Sprintf("prims: invalid transition: %v is not a run status", to),
			errs: [2]error{ErrInvalidTransition, ErrInvalid},
		}
	}
	rec, ok := txn.Get(tx.tx, x.runs, id)
	if !ok {
		return errRunNotFound
	}
	if !rec.status.CanTransitionTo(to) {
		return fmt.Errorf("%w: run %v from %v to %v", ErrInvalidTransition, id, rec.status, to)
	}
	if err := x.sets.remove(tx, statusSet(rec.status), rec.seq); err != nil {
		return err
	}
	if err := x.sets.add(tx, statusSet(to), rec.seq); err != nil {
		return err
	}
	rec.status, rec.updated = to, tx.now()
	return txn.Put(tx.tx, x.runs, id, rec)
}

// QueryByStatus returns the registered runs in status st, in creation
// order (nil if none). Errors: ErrInvalid (invalid status, nil or foreign
// tx), ErrTxDone, ErrClosed. Phantom-safe in read-write transactions.
func (x *RunIndex) QueryByStatus(tx *Tx, st Status) ([]RunID, error) {
	if err := x.checkRead(tx); err != nil {
		return nil, err
	}
	if !st.Valid() {
		return nil, errBadStatus
	}
	return x.ids(tx, statusSet(st)), nil
}

// QueryByTag returns the registered runs tagged tag, in creation order (nil
// if none). Errors: ErrInvalid (empty tag, nil or foreign tx), ErrTxDone,
// ErrClosed. Phantom-safe in read-write transactions.
func (x *RunIndex) QueryByTag(tx *Tx, tag string) ([]RunID, error) {
	if err := x.checkRead(tx); err != nil {
		return nil, err
	}
	if tag == "" {
		return nil, errEmptyRunTag
	}
	return x.ids(tx, tagSet(tag)), nil
}

// Children returns the registered runs whose Parent is id, in creation
// order (nil if none). Errors: ErrNotFound (id is not registered: never
// created, or deleted), ErrInvalid (zero id, nil or foreign tx), ErrTxDone,
// ErrClosed. Phantom-safe in read-write transactions.
func (x *RunIndex) Children(tx *Tx, id RunID) ([]RunID, error) {
	if err := x.checkRead(tx); err != nil {
		return nil, err
	}
	if id.IsZero() {
		return nil, errZeroRun
	}
	if _, ok := txn.Get(tx.tx, x.runs, id); !ok {
		return nil, errRunNotFound
	}
	return x.ids(tx, childSet(id)), nil
}

// ids returns the RunIDs of set k's members, in sequence order.
func (x *RunIndex) ids(tx *Tx, k runSetKey) []RunID {
	var out []RunID
	x.sets.each(tx, k, func(seq uint64) {
		if id, ok := txn.Get(tx.tx, x.bySeq, seq); ok {
			out = append(out, id)
		}
	})
	return out
}

// Delete removes run id: its data in every primitive of the DB (KV stores,
// event logs, state cells, traces, through the DB's run-delete hooks), its
// record and its entries in the status, tag and children indexes, all in
// tx (atomic: readers see the run whole or not at all). Its child runs stay
// registered, their Parent naming the deleted run (see RunIndex). The
// deleted items' records, events and traces included, leave their stores
// once no snapshot can see them (see Memory in the package doc).
//
// Errors: ErrNotFound (id is not registered: never created or already
// deleted), ErrInvalid (zero id, nil or foreign tx), ErrReadOnly,
// ErrTxDone, ErrClosed. On those errors nothing is written. (The deletion
// itself cannot fail once they are ruled out; if a future hook could, the
// caller must roll tx back, as DB.Update does for an error returned by its
// function.)
func (x *RunIndex) Delete(tx *Tx, id RunID) error {
	if err := x.checkWrite(tx); err != nil {
		return err
	}
	if id.IsZero() {
		return errZeroRun
	}
	rec, ok := txn.Get(tx.tx, x.runs, id)
	if !ok {
		return errRunNotFound
	}
	if err := x.db.deleteRunData(tx, id); err != nil {
		return err
	}
	if err := x.sets.remove(tx, statusSet(rec.status), rec.seq); err != nil {
		return err
	}
	for _, tag := range rec.tags {
		if err := x.sets.remove(tx, tagSet(tag), rec.seq); err != nil {
			return err
		}
	}
	if !rec.parent.IsZero() {
		if err := x.sets.remove(tx, childSet(rec.parent), rec.seq); err != nil {
			return err
		}
	}
	if err := x.sets.clear(tx, childSet(id)); err != nil {
		return err
	}
	if _, err := txn.Delete(tx.tx, x.bySeq, rec.seq); err != nil {
		return err
	}
	_, err := txn.Delete(tx.tx, x.runs, id)
	return err
}

// ---------------------------------------------------------------------------
// runSets: sets of run sequence numbers as chunked bitmaps.

// runChunkBits is the number of sequence numbers per bitmap chunk: 16
// words, 128 bytes, copied whole on the first change of a chunk by a
// transaction.
const runChunkBits = 1024

// runChunk is one chunk of a set's bitmap. Chunks are immutable once
// stored: a change stores a copy (128 bytes, pointer-free).
type runChunk struct {
	words [runChunkBits / 64]uint64
}

// runSetKey names one set (status, tag or children of a run), and with
// chunk one chunk of it.
type runSetKey struct {
	sp     uint8  // setStatus, setTag, setChild
	status Status // setStatus
	run    RunID  // setChild: the parent
	tag    string // setTag
	chunk  uint64
}

const (
	setStatus uint8 = iota + 1
	setTag
	setChild
)

func statusSet(st Status) runSetKey { return runSetKey{sp: setStatus, status: st} }
func tagSet(tag string) runSetKey   { return runSetKey{sp: setTag, tag: tag} }
func childSet(p RunID) runSetKey    { return runSetKey{sp: setChild, run: p} }

func hashRunSetKey(k runSetKey, seed uint64) uint64 {
	h := lockfree.Mix64(seed ^ uint64(k.sp)<<56 ^ uint64(k.status)<<48 ^ k.chunk)
	switch k.sp {
	case setChild:
		lo, hi := runWords(k.run)
		h = lockfree.Mix64(lockfree.Mix64(h^lo) ^ hi)
	case setTag:
		h = lockfree.Mix64(h ^ xxhash.Sum64String(k.tag))
	}
	return h
}

// runSets holds the chunks (key with chunk c -> *runChunk, present only
// while non-empty) and the chunk counts (key with chunk 0 -> one more than
// the highest chunk ever populated; it never decreases except when the
// whole set is cleared). Invariant: every present chunk c has c < count.
type runSets struct {
	chunks *mvcc.Store[runSetKey, *runChunk]
	counts *mvcc.Store[runSetKey, uint64]
}

func newRunSets(db *DB) runSets {
	return runSets{
		chunks: newStore[runSetKey, *runChunk](db, hashRunSetKey),
		counts: newStore[runSetKey, uint64](db, hashRunSetKey),
	}
}

// add inserts seq into set k. A chunk that exists implies the count covers
// it, so the count is read (and raised) only when the chunk is new.
func (s runSets) add(tx *Tx, k runSetKey, seq uint64) error {
	k.chunk = seq / runChunkBits
	w, b := seq%runChunkBits/64, uint64(1)<<(seq%64)
	ch, _ := txn.Get(tx.tx, s.chunks, k)
	n := &runChunk{}
	if ch != nil {
		if ch.words[w]&b != 0 {
			return nil
		}
		n.words = ch.words
	} else {
		ck := k
		ck.chunk = 0
		if c, _ := txn.Get(tx.tx, s.counts, ck); c <= k.chunk {
			if err := txn.Put(tx.tx, s.counts, ck, k.chunk+1); err != nil {
				return err
			}
		}
	}
	n.words[w] |= b
	return txn.Put(tx.tx, s.chunks, k, n)
}

// remove deletes seq from set k (nothing if absent); a chunk left empty is
// deleted.
func (s runSets) remove(tx *Tx, k runSetKey, seq uint64) error {
	k.chunk = seq / runChunkBits
	w, b := seq%runChunkBits/64, uint64(1)<<(seq%64)
	ch, _ := txn.Get(tx.tx, s.chunks, k)
	if ch == nil || ch.words[w]&b == 0 {
		return nil
	}
	n := &runChunk{words: ch.words}
	n.words[w] &^= b
	if n.words == ([runChunkBits / 64]uint64{}) {
		_, err := txn.Delete(tx.tx, s.chunks, k)
		return err
	}
	return txn.Put(tx.tx, s.chunks, k, n)
}

// each calls fn for every member of set k in ascending order. It reads the
// chunk count and every chunk below it (present or not), which is what
// makes it phantom-safe.
func (s runSets) each(tx *Tx, k runSetKey, fn func(seq uint64)) {
	k.chunk = 0
	n, _ := txn.Get(tx.tx, s.counts, k)
	for c := range n {
		k.chunk = c
		ch, _ := txn.Get(tx.tx, s.chunks, k)
		if ch == nil {
			continue
		}
		for w, x := range ch.words {
			for ; x != 0; x &= x - 1 {
				fn(c*runChunkBits + uint64(w)*64 + uint64(bits.TrailingZeros64(x)))
			}
		}
	}
}

// clear deletes set k: every chunk and the count.
func (s runSets) clear(tx *Tx, k runSetKey) error {
	k.chunk = 0
	n, ok := txn.Get(tx.tx, s.counts, k)
	if !ok {
		return nil
	}
	for c := range n {
		k.chunk = c
		if _, err := txn.Delete(tx.tx, s.chunks, k); err != nil {
			return err
		}
	}
	k.chunk = 0
	_, err := txn.Delete(tx.tx, s.counts, k)
	return err
}
