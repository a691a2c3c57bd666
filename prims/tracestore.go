package prims

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/substrate-lab/substrate/mvcc"
	"github.com/substrate-lab/substrate/txn"
)

// TraceStore records the typed traces of agent runs and indexes them by
// kind, by tag, by parent and by time. Get it with DB.Traces; there is one
// per DB.
//
// Every operation takes the transaction first: a trace, all its index
// entries and whatever else the transaction writes (KV, events, state,
// other traces) commit together or not at all.
//
// # Layout
//
// All of it is ordinary mvcc records, read and written in the caller's
// transaction:
//
//   - a head record per run (trace count, maximum time, late count) and one
//     record per trace, keyed by (run, ID): IDs are 1, 2, 3, ... per run
//     and Get is one point read;
//   - the kind, tag and children indexes are append-only lists of TraceIDs
//     (chunkList), keyed by (run, kind), (run, tag) and (run, parent): a
//     tail record holding the list's length and its newest chunk of up to
//     listChunk IDs (filled in place, one slot per append), plus one
//     record per older, full chunk. A query reads
//     the tail and the chunks (1 + n/listChunk point reads), then the
//     traces (one point read each), never a scan of a store;
//   - the time index is the run's trace sequence itself in the common case:
//     each trace record carries the running maximum of the run's trace
//     times up to it. When times arrive non-decreasing that maximum is the
//     trace's own time, and QueryByTime binary-searches the IDs on it
//     (O(log n) point reads) and reads the traces in range. A trace whose
//     time is earlier than the maximum so far ("late") is skipped by that
//     search and entered in a per-run late index instead: sorted chunks of
//     at most lateChunk entries, each binary-searched by QueryByTime.
//     Recording in order writes nothing for the time index; a late trace
//     costs one copy-on-write chunk of at most lateChunk entries (2 KiB).
//
// A minimal Record (no tags, no parent) therefore writes three records: the
// trace, the run's head and the kind list's tail. Each tag adds one (the
// tag list's tail), a parent one, and every listChunk-th entry of a list
// one more (the sealed chunk).
//
// # Consistency
//
// Record reads and writes the run's head, so concurrent Records in one run
// conflict and one of them retries (in DB.Update): IDs are unique and
// contiguous. Every query reads the tail records of the lists it uses (and
// QueryByTime the run's head), so in a read-write transaction it is
// phantom-safe: if a concurrent transaction records a trace that the query
// would have returned and commits first, the querying transaction fails
// with ErrConflict. Runs are independent of one another.
//
// # Results
//
// Queries return traces in recording order (ascending ID) as []Trace, nil
// when there are none. Each Trace's Tags slice is the caller's copy; the
// Body is shared with the store (see Body's aliasing rule).
//
// Deleting a run through RunIndex.Delete removes all of its traces and
// index entries (the TraceStore registers a run-delete hook); recording
// into the run afterwards starts again at ID 1.
//
// All methods are safe for concurrent use with different transactions.
type TraceStore struct {
	db *DB
	// heads holds each run's trace count, time maximum and late count;
	// items holds the traces, keyed by (run, ID).
	heads *mvcc.Store[RunID, traceHead]
	items *mvcc.Store[runSeq, traceRec]
	// lists holds the kind, tag and children lists of TraceIDs.
	lists chunkList[traceIdxKey, TraceID]
	// late holds the run's late traces in chunks of lateChunk, chunk c
	// under seqOf(run, c).
	late setIndex[runSeq, timeEntry]
}

// traceHead is a run's trace bookkeeping: one record per run, read and
// written by every Record in it.
type traceHead struct {
	n     uint64 // number of traces: the last ID
	maxNs int64  // maximum time of the run's traces (Unix nanoseconds)
	late  uint64 // number of late traces
}

// traceRec is the stored form of a trace, keyed by seqOf(run, ID).
type traceRec struct {
	parent TraceID
	time   time.Time
	tags   []string // owned by the store, never modified
	body   Body
	// maxNs is the maximum time (as Unix nanoseconds) of the run's traces
	// up to and including this one: non-decreasing along the run's IDs,
	// which QueryByTime binary-searches on.
	maxNs int64
	// late is set when this trace's time is below its predecessor's maxNs;
	// it is then indexed in the late index, not by maxNs.
	late bool
}

// timeEntry is an entry of the late time index: ordered by time, then ID.
type timeEntry struct {
	ns int64
	id TraceID
}

func cmpTimeEntry(a, b timeEntry) int {
	if c := cmp.Compare(a.ns, b.ns); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// lateChunk is the number of late entries per chunk of the late index.
const lateChunk = 128

// traceIdxKey names one secondary list of a run: the traces of a kind, of
// a tag, or the children of a trace.
type traceIdxKey struct {
	run RunID
	sp  uint8  // idxKind, idxTag, idxChild
	n   uint64 // the kind (idxKind) or the parent ID (idxChild)
	s   string // the tag (idxTag)
}

const (
	idxKind uint8 = iota + 1
	idxTag
	idxChild
)

func hashTraceIdxKey(k traceIdxKey, seed uint64) uint64 {
	h := mum(hashRun(k.run, seed)^wyp2, k.n^uint64(k.sp)<<56^seed^wyp3)
	if k.s != "" {
		h = mum(h^wyp0, xxhash.Sum64String(k.s)^seed^wyp1)
	}
	return h
}

// Errors of the TraceStore's input checks (preallocated: rejecting bad
// input allocates nothing).
var (
	errNilBody     = &wrapErr{"prims: trace has no body", ErrInvalid}
	errEmptyTag    = &wrapErr{"prims: empty trace tag", ErrInvalid}
	errEmptyTool   = &wrapErr{"prims: tool call trace with an empty tool name", ErrInvalid}
	errEmptyCustom = &wrapErr{"prims: custom trace with an empty name", ErrInvalid}
	errBadKind     = &wrapErr{"prims: invalid trace kind", ErrInvalid}
	errTraceTime   = &wrapErr{"prims: trace time outside the years 1678 to 2262 (not representable as Unix nanoseconds)", ErrInvalid}
	errZeroTrace   = &wrapErr{"prims: TraceID 0 names no trace", ErrInvalid}
	errNoTrace     = &wrapErr{"prims: trace not found", ErrNotFound}
)

// Traces returns the DB's TraceStore (created on first use, with its
// run-delete hook). On a nil DB it returns a store whose operations fail
// with ErrInvalid; on a closed DB they fail with ErrClosed.
func (db *DB) Traces() *TraceStore {
	if db == nil {
		return &TraceStore{}
	}
	return component(db, "traces", func() *TraceStore {
		s := &TraceStore{
			db:    db,
			heads: newStore[RunID, traceHead](db, hashRun),
			items: newStore[runSeq, traceRec](db, hashRunSeq, denseRunSeq()),
			lists: newChunkList[traceIdxKey, TraceID](db, hashTraceIdxKey),
			late:  newSetIndex[runSeq](db, hashRunSeq, cmpTimeEntry),
		}
		db.addHookLocked(s.deleteRun)
		return s
	})
}

// check validates tx for a read that returns an error.
func (s *TraceStore) check(tx *Tx, run RunID) error {
	if s == nil || s.db == nil {
		return errNilDB
	}
	if err := tx.checkRead(s.db); err != nil {
		return err
	}
	if run.IsZero() {
		return errZeroRun
	}
	return nil
}

// readable reports whether a read that returns only ok may proceed.
func (s *TraceStore) readable(tx *Tx, run RunID) bool {
	return s != nil && tx.readable(s.db) && !run.IsZero() // readable refuses a nil db
}

var (
	minTraceTime = time.Unix(0, math.MinInt64)
	maxTraceTime = time.Unix(0, math.MaxInt64)
)

// clampNs returns t as Unix nanoseconds, clamped to the int64 range (so
// the zero time.Time is math.MinInt64: "since forever").
func clampNs(t time.Time) int64 {
	switch {
	case t.Before(minTraceTime):
		return math.MinInt64
	case t.After(maxTraceTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// normalizeBody returns b as a value of one of the six body types (a
// pointer is dereferenced) after checking it.
func normalizeBody(b Body) (Body, error) {
	switch x := b.(type) {
	case nil:
		return nil, errNilBody
	case ToolCall:
		if x.Tool == "" {
			return nil, errEmptyTool
		}
	case *ToolCall:
		if x == nil {
			return nil, errNilBody
		}
		return normalizeBody(*x)
	case Custom:
		if x.Name == "" {
			return nil, errEmptyCustom
		}
	case *Custom:
		if x == nil {
			return nil, errNilBody
		}
		return normalizeBody(*x)
	case *Decision:
		if x == nil {
			return nil, errNilBody
		}
		return *x, nil
	case *Query:
		if x == nil {
			return nil, errNilBody
		}
		return *x, nil
	case *Thought:
		if x == nil {
			return nil, errNilBody
		}
		return *x, nil
	case *ErrorTrace:
		if x == nil {
			return nil, errNilBody
		}
		return *x, nil
	}
	return b, nil
}

// copyTags returns the distinct non-empty tags of tags in first-occurrence
// order, in a new slice (nil for none); an empty tag is an error.
func copyTags(tags []string) ([]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(tags))
	var seen map[string]bool // for long tag lists only
	if len(tags) > 16 {
		seen = make(map[string]bool, len(tags))
	}
	for _, t := range tags {
		switch {
		case t == "":
			return nil, errEmptyTag
		case seen != nil:
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		case !slices.Contains(out, t):
			out = append(out, t)
		}
	}
	return slices.Clip(out), nil
}

// Record appends trace t to run and returns its ID (1 for the run's first
// trace, then 2, 3, ...). t.ID is ignored. t.Parent is 0 for a root or the
// ID of an existing trace of the same run (else an error wrapping
// ErrNotFound). A zero t.Time means now. Times are stored without their
// monotonic clock reading (as time.Time.Round(0) does) and must lie between
// the years 1678 and 2262. Tags are copied; duplicates are dropped. The
// trace and all its index entries (kind, each tag, parent's children, time)
// are written in tx.
//
// Errors: ErrInvalid (zero run, nil Body or nil pointer Body, empty tag,
// ToolCall without Tool, Custom without Name, time out of range, nil or
// foreign tx), ErrNotFound (missing parent), ErrReadOnly, ErrTxDone,
// ErrClosed. On error nothing is written and tx stays usable.
func (s *TraceStore) Record(tx *Tx, run RunID, t Trace) (TraceID, error) {
	if s == nil || s.db == nil {
		return 0, errNilDB
	}
	if err := tx.checkWrite(s.db); err != nil {
		return 0, err
	}
	if run.IsZero() {
		return 0, errZeroRun
	}
	body, err := normalizeBody(t.Body)
	if err != nil {
		return 0, err
	}
	tags, err := copyTags(t.Tags)
	if err != nil {
		return 0, err
	}
	when := t.Time.Round(0) // wall clock only: a monotonic reading means nothing stored
	if when.IsZero() {
		when = now()
	} else if when.Before(minTraceTime) || when.After(maxTraceTime) {
		return 0, errTraceTime
	}
	ns := when.UnixNano()

	h, _ := txn.Get(tx.tx, s.heads, run)
	if t.Parent > TraceID(h.n) {
		return 0, fmt.Errorf("%w: parent trace %d of run %v (the run has %d traces)", ErrNotFound, t.Parent, run, h.n)
	}
	id := TraceID(h.n + 1)
	rec := traceRec{parent: t.Parent, time: when, tags: tags, body: body, maxNs: ns}
	if h.n > 0 && ns < h.maxNs {
		rec.maxNs, rec.late = h.maxNs, true
	}

	// Writes: none of them can fail once checkWrite passed (the stores
	// are the DB's), so nothing is ever half-written.
	if err := txn.Put(tx.tx, s.items, seqOf(run, uint64(id)), rec); err != nil {
		return 0, err
	}
	if err := s.lists.Append(tx, traceIdxKey{run: run, sp: idxKind, n: uint64(body.TraceKind())}, id); err != nil {
		return 0, err
	}
	for _, tag := range tags {
		if err := s.lists.Append(tx, traceIdxKey{run: run, sp: idxTag, s: tag}, id); err != nil {
			return 0, err
		}
	}
	if t.Parent != 0 {
		if err := s.lists.Append(tx, traceIdxKey{run: run, sp: idxChild, n: uint64(t.Parent)}, id); err != nil {
			return 0, err
		}
	}
	if rec.late {
		if _, err := s.late.Add(tx, seqOf(run, h.late/lateChunk), timeEntry{ns, id}); err != nil {
			return 0, err
		}
		h.late++
	}
	h.n, h.maxNs = uint64(id), rec.maxNs
	return id, txn.Put(tx.tx, s.heads, run, h)
}

// Len returns the number of traces of run as tx sees them (0 for bad
// input). In a read-write transaction it conflicts with concurrent Records
// in the run.
func (s *TraceStore) Len(tx *Tx, run RunID) int {
	if !s.readable(tx, run) {
		return 0
	}
	h, _ := txn.Get(tx.tx, s.heads, run)
	return int(h.n)
}

// Get returns trace id of run as tx sees it, and whether it exists. It
// reports false for bad input (zero run or ID, nil, ended or foreign tx,
// closed DB). The Tags slice is the caller's copy.
func (s *TraceStore) Get(tx *Tx, run RunID, id TraceID) (Trace, bool) {
	if !s.readable(tx, run) || id == 0 {
		return Trace{}, false
	}
	rec, ok := txn.Get(tx.tx, s.items, seqOf(run, uint64(id)))
	if !ok {
		return Trace{}, false
	}
	t := rec.trace(id)
	t.Tags = slices.Clone(t.Tags)
	return t, true
}

// trace returns the Trace of rec with ID id, its Tags shared with rec.
func (rec *traceRec) trace(id TraceID) Trace {
	return Trace{ID: id, Parent: rec.parent, Time: rec.time, Tags: rec.tags, Body: rec.body}
}

// QueryByType returns run's traces of kind kind, in recording order.
// Errors: ErrInvalid (zero run, invalid kind, nil or foreign tx),
// ErrTxDone, ErrClosed. Phantom-safe in read-write transactions.
func (s *TraceStore) QueryByType(tx *Tx, run RunID, kind Kind) ([]Trace, error) {
	if err := s.check(tx, run); err != nil {
		return nil, err
	}
	if !kind.Valid() {
		return nil, errBadKind
	}
	return s.list(tx, traceIdxKey{run: run, sp: idxKind, n: uint64(kind)}), nil
}

// QueryByTag returns run's traces tagged tag, in recording order. Errors:
// ErrInvalid (zero run, empty tag, nil or foreign tx), ErrTxDone,
// ErrClosed. Phantom-safe in read-write transactions.
func (s *TraceStore) QueryByTag(tx *Tx, run RunID, tag string) ([]Trace, error) {
	if err := s.check(tx, run); err != nil {
		return nil, err
	}
	if tag == "" {
		return nil, errEmptyTag
	}
	return s.list(tx, traceIdxKey{run: run, sp: idxTag, s: tag}), nil
}

// Children returns the direct children of trace id of run, in recording
// order (nil if it has none). Errors: ErrInvalid (zero run, ID 0: roots
// are not indexed as children of anything; nil or foreign tx), ErrNotFound
// (no trace id in run), ErrTxDone, ErrClosed. Phantom-safe in read-write
// transactions.
func (s *TraceStore) Children(tx *Tx, run RunID, id TraceID) ([]Trace, error) {
	if err := s.check(tx, run); err != nil {
		return nil, err
	}
	if id == 0 {
		return nil, errZeroTrace
	}
	if _, ok := txn.Get(tx.tx, s.items, seqOf(run, uint64(id))); !ok {
		return nil, errNoTrace
	}
	return s.list(tx, traceIdxKey{run: run, sp: idxChild, n: uint64(id)}), nil
}

// list returns the traces whose IDs list k holds, Tags copied.
func (s *TraceStore) list(tx *Tx, k traceIdxKey) []Trace {
	var out []Trace
	ntags := 0
	s.lists.Each(tx, k, func(n int) { out = make([]Trace, 0, n) }, func(id TraceID) {
		if rec, ok := txn.Get(tx.tx, s.items, seqOf(k.run, uint64(id))); ok {
			out = append(out, rec.trace(id))
			ntags += len(rec.tags)
		}
	})
	copyOutTags(out, ntags)
	return out
}

// copyOutTags replaces the Tags of ts (shared with the store) with copies,
// all carved from one allocation of ntags strings, each clipped to its
// length so that an append by the caller cannot spill into the next.
func copyOutTags(ts []Trace, ntags int) {
	if ntags == 0 {
		return
	}
	buf := make([]string, ntags)
	for i := range ts {
		k := copy(buf, ts[i].Tags)
		if k > 0 {
			ts[i].Tags = buf[:k:k]
			buf = buf[k:]
		}
	}
}

// QueryByTime returns run's traces whose Time lies in [from, to), in
// recording order (not time order). Times before 1678 or after 2262 are
// clamped, so a zero from means "from the beginning". Errors: ErrInvalid
// (zero run, from after to, nil or foreign tx), ErrTxDone, ErrClosed.
// Phantom-safe in read-write transactions (it reads the run's trace head,
// so any concurrent Record in the run that commits first makes tx fail).
//
// Cost: O(log n) point reads to find the range in the run's traces, one
// read per trace in the range, and a binary search of each chunk of the
// late index (traces recorded with a time earlier than a previous trace's).
func (s *TraceStore) QueryByTime(tx *Tx, run RunID, from, to time.Time) ([]Trace, error) {
	if err := s.check(tx, run); err != nil {
		return nil, err
	}
	if from.After(to) {
		return nil, errBadRange
	}
	lo, hi := clampNs(from), clampNs(to)
	h, _ := txn.Get(tx.tx, s.heads, run)
	if h.n == 0 || lo >= hi {
		return nil, nil
	}
	// IDs whose running maximum lies in [lo, hi): a contiguous range,
	// since the running maximum does not decrease along the IDs.
	search := func(ns int64) uint64 {
		i, j := uint64(1), h.n+1
		for i < j {
			m := i + (j-i)/2
			rec, _ := txn.Get(tx.tx, s.items, seqOf(run, m))
			if rec.maxNs < ns {
				i = m + 1
			} else {
				j = m
			}
		}
		return i
	}
	first, end := search(lo), search(hi)
	var out []Trace
	if end > first {
		out = make([]Trace, 0, end-first)
	}
	ntags := 0
	for id := first; id < end; id++ {
		rec, ok := txn.Get(tx.tx, s.items, seqOf(run, id))
		if ok && !rec.late {
			out = append(out, rec.trace(TraceID(id)))
			ntags += len(rec.tags)
		}
	}
	// Late traces: each chunk is sorted by time.
	if h.late > 0 {
		var ids []TraceID
		for c := range (h.late + lateChunk - 1) / lateChunk {
			for e := range s.late.From(tx, seqOf(run, c), timeEntry{lo, 0}) {
				if e.ns >= hi {
					break
				}
				ids = append(ids, e.id)
			}
		}
		if len(ids) > 0 {
			slices.Sort(ids)
			merged := make([]Trace, 0, len(out)+len(ids))
			k := 0
			for _, id := range ids {
				for k < len(out) && out[k].ID < id {
					merged = append(merged, out[k])
					k++
				}
				if rec, ok := txn.Get(tx.tx, s.items, seqOf(run, uint64(id))); ok {
					merged = append(merged, rec.trace(id))
					ntags += len(rec.tags)
				}
			}
			out = append(merged, out[k:]...)
		}
	}
	copyOutTags(out, ntags)
	return out, nil
}

// Tree returns trace root of run with all its descendants (children in
// recording order, recursively), and whether root exists. It reports false
// for bad input as Get does. In a read-write transaction it is phantom-safe:
// it reads every children list of the tree. It walks the tree breadth-first
// without recursion, so a deep chain of traces costs no stack.
func (s *TraceStore) Tree(tx *Tx, run RunID, root TraceID) (TraceTree, bool) {
	if !s.readable(tx, run) || root == 0 {
		return TraceTree{}, false
	}
	rec, ok := txn.Get(tx.tx, s.items, seqOf(run, uint64(root)))
	if !ok {
		return TraceTree{}, false
	}
	t := TraceTree{Trace: rec.trace(root)}
	ntags := len(rec.tags)
	// Breadth-first: every node's Children slice is allocated with its
	// exact length before anything is appended, so pointers into it stay
	// valid.
	queue := make([]*TraceTree, 1, 16)
	queue[0] = &t
	for i := 0; i < len(queue); i++ {
		node := queue[i]
		s.lists.Each(tx, traceIdxKey{run: run, sp: idxChild, n: uint64(node.ID)},
			func(n int) { node.Children = make([]TraceTree, 0, n) },
			func(id TraceID) {
				if rec, ok := txn.Get(tx.tx, s.items, seqOf(run, uint64(id))); ok {
					node.Children = append(node.Children, TraceTree{Trace: rec.trace(id)})
					ntags += len(rec.tags)
				}
			})
		for j := range node.Children {
			queue = append(queue, &node.Children[j])
		}
	}
	if ntags > 0 {
		buf := make([]string, ntags)
		for _, node := range queue {
			if k := copy(buf, node.Tags); k > 0 {
				node.Tags = buf[:k:k]
				buf = buf[k:]
			}
		}
	}
	return t, true
}

// deleteRun is the TraceStore's run-delete hook: it deletes every trace of
// run and every index entry (kind, tag, children and late lists), reading
// the run's traces to find them (O(traces + index chunks), no scan of a
// store). It reads the run's trace head, so a concurrent Record in the run
// makes tx fail validation rather than leave an orphan.
func (s *TraceStore) deleteRun(tx *Tx, run RunID) error {
	h, ok := txn.Get(tx.tx, s.heads, run)
	if !ok {
		return nil
	}
	var kinds uint32
	tags := map[string]struct{}{}
	var parents []TraceID
	for id := uint64(1); id <= h.n; id++ {
		k := seqOf(run, id)
		rec, _ := txn.Get(tx.tx, s.items, k)
		kinds |= 1 << rec.body.TraceKind()
		for _, tag := range rec.tags {
			tags[tag] = struct{}{}
		}
		if rec.parent != 0 {
			parents = append(parents, rec.parent)
		}
		if _, err := txn.Delete(tx.tx, s.items, k); err != nil {
			return err
		}
	}
	slices.Sort(parents)
	parents = slices.Compact(parents)
	clr := func(k traceIdxKey) error { return s.lists.Clear(tx, k) }
	for k := Kind(1); k.Valid(); k++ {
		if kinds&(1<<k) != 0 {
			if err := clr(traceIdxKey{run: run, sp: idxKind, n: uint64(k)}); err != nil {
				return err
			}
		}
	}
	for tag := range tags {
		if err := clr(traceIdxKey{run: run, sp: idxTag, s: tag}); err != nil {
			return err
		}
	}
	for _, p := range parents {
		if err := clr(traceIdxKey{run: run, sp: idxChild, n: uint64(p)}); err != nil {
			return err
		}
	}
	for c := range (h.late + lateChunk - 1) / lateChunk {
		if err := s.late.Clear(tx, seqOf(run, c)); err != nil {
			return err
		}
	}
	_, err := txn.Delete(tx.tx, s.heads, run)
	return err
}

// ---------------------------------------------------------------------------
// chunkList: an append-only list per key, in chunks.

// listChunk is the number of items per chunk of a chunkList.
const listChunk = 16

// listBuf holds the items of one chunk of a chunkList (up to listChunk).
// The successive tails of a list that fill one chunk share its listBuf and
// append in place; a sealed chunk is its full listBuf. Item slots are
// handed out once: an appender owns items[k] by moving claimed from k to
// k+1 (CAS), writes the item, and publishes it only through the tail it
// commits; items below a committed tail's count are never written again.
// listBuf is pointer-free when T is, so the GC does not scan it.
type listBuf[T any] struct {
	// claimed is the number of slots handed out (>= every committed
	// tail's count of this chunk; slots claimed by transactions that
	// then failed stay unused). The CAS publishes nothing: the item is
	// published by the claimer's commit of the tail that counts it.
	claimed atomic.Uint32
	items   [listChunk]T
}

// listTail is a list's state as of one version: its length n and the
// chunk buffer holding its newest items, positions [n-k, n) in
// buf.items[:k] with k = tailLen(n). Stored by value (16 bytes), so a
// tail record is one cache line with its version inline.
type listTail[T any] struct {
	buf *listBuf[T]
	n   uint64
}

// tailLen returns how many of the newest items of a list of length n are
// in its tail chunk: chunks are sealed exactly when full, so it is
// n mod listChunk, or listChunk for a non-empty list whose tail is full.
func tailLen(n uint64) int {
	if n == 0 {
		return 0
	}
	return int((n-1)%listChunk) + 1
}

// chunkKey names sealed chunk c of list l.
type chunkKey[L comparable] struct {
	l L
	c uint64
}

// chunkList maps a key L to an append-only list of T, stored as a tail
// record per list (L -> listTail: the length and the newest chunk's
// buffer) plus one record per sealed (full, older) chunk.
//
// Why not listIndex (one record per item and a count record): an append
// there writes two records, one of them a new key (a record, a version and
// a map slot allocated), and reading n items takes n point reads. Here an
// append writes one record, the tail, plus a new sealed-chunk key once
// every listChunk appends; reading n items takes 1 + n/listChunk point
// reads.
//
// Append in place (a claim, see listBuf) rather than copy on write: every
// append used to copy the tail chunk (one 144-byte allocation for 8-byte
// items, four per trace with three tags, 576 of tracestore_record_3_tags'
// ~650 B/op); now a chunk is allocated once per listChunk appends. An
// append whose slot was already claimed (by a concurrent appender, which
// then conflicts with it anyway, or by an attempt that failed) copies the
// chunk's committed items into a fresh buffer instead, so a slot is
// written by one transaction only and a committed item never changes.
//
// Phantom safety and conflicts: every read starts with the tail, and every
// append writes it, so in a read-write transaction a concurrent append to
// the same list makes the reader fail validation, and two concurrent
// appends to one list conflict (one retries). Lists of different keys are
// independent.
type chunkList[L comparable, T any] struct {
	tails  *mvcc.Store[L, listTail[T]]
	chunks *mvcc.Store[chunkKey[L], *listBuf[T]]
}

// newChunkList returns an empty chunk list of db, hashing list keys with
// hash.
func newChunkList[L comparable, T any](db *DB, hash func(L, uint64) uint64) chunkList[L, T] {
	return chunkList[L, T]{
		tails: newStore[L, listTail[T]](db, hash),
		chunks: newStore[chunkKey[L], *listBuf[T]](db, func(k chunkKey[L], seed uint64) uint64 {
			return mum(hash(k.l, seed)^wyp2, k.c^seed^wyp3)
		}),
	}
}

// Len returns the length of list l as tx sees it.
func (x chunkList[L, T]) Len(tx *Tx, l L) uint64 {
	t, _ := txn.Get(tx.tx, x.tails, l)
	return t.n
}

// Append adds item at the end of list l. tx must be a live read-write
// transaction (callers check first).
//
// Steps:
//  1. Read the tail (zero if the list is empty or absent).
//  2. If its chunk is full (or there is none), seal the full chunk under
//     its chunk key and start a new buffer with item in slot 0.
//  3. Otherwise claim slot k (CAS claimed k -> k+1) and write item there;
//     if the slot was taken, copy the k committed items into a new
//     buffer with item after them.
//  4. Write the tail {buffer, n+1}; the commit publishes the item.
func (x chunkList[L, T]) Append(tx *Tx, l L, item T) error {
	t, _ := txn.Get(tx.tx, x.tails, l) // (1)
	k := tailLen(t.n)
	var buf *listBuf[T]
	switch {
	case t.buf == nil || k == listChunk: // (2)
		if t.buf != nil {
			if err := txn.Put(tx.tx, x.chunks, chunkKey[L]{l, (t.n - 1) / listChunk}, t.buf); err != nil {
				return err
			}
		}
		buf = &listBuf[T]{}
		buf.claimed.Store(1) // buf is private until the tail is committed
		buf.items[0] = item
	case t.buf.claimed.CompareAndSwap(uint32(k), uint32(k+1)): // (3)
		buf = t.buf
		buf.items[k] = item
	default:
		buf = &listBuf[T]{}
		copy(buf.items[:k], t.buf.items[:k])
		buf.items[k] = item
		buf.claimed.Store(uint32(k + 1))
	}
	return txn.Put(tx.tx, x.tails, l, listTail[T]{buf: buf, n: t.n + 1}) // (4)
}

// Each calls size with the list's length, then fn for every item in order
// (nothing for an empty list).
func (x chunkList[L, T]) Each(tx *Tx, l L, size func(n int), fn func(item T)) {
	t, _ := txn.Get(tx.tx, x.tails, l)
	if t.buf == nil {
		return
	}
	size(int(t.n))
	k := tailLen(t.n)
	sealed := (t.n - uint64(k)) / listChunk
	for c := range sealed {
		ch, _ := txn.Get(tx.tx, x.chunks, chunkKey[L]{l, c})
		if ch == nil {
			continue // impossible: sealed chunks live as long as their tail
		}
		for _, item := range ch.items {
			fn(item)
		}
	}
	for _, item := range t.buf.items[:k] {
		fn(item)
	}
}

// Clear deletes list l: its tail and every sealed chunk.
func (x chunkList[L, T]) Clear(tx *Tx, l L) error {
	t, ok := txn.Get(tx.tx, x.tails, l)
	if !ok {
		return nil
	}
	for c := range (t.n - uint64(tailLen(t.n))) / listChunk {
		if _, err := txn.Delete(tx.tx, x.chunks, chunkKey[L]{l, c}); err != nil {
			return err
		}
	}
	_, err := txn.Delete(tx.tx, x.tails, l)
	return err
}
