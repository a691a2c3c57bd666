package prims

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/substrate-lab/substrate/mvcc"
	"github.com/substrate-lab/substrate/txn"
)

// Event is one entry of a run's event log.
type Event[P any] struct {
	// Seq is the event's position in its run's log: 0, 1, 2, ...
	Seq uint64
	// Type is the event's type, chosen by the appender (never empty).
	Type string
	// Payload is the appender's value, stored as given (not copied).
	Payload P
	// Timestamp is the wall-clock time of the Append: the transaction's
	// timestamp (see Tx), without a monotonic reading. The hash covers its
	// UnixNano.
	Timestamp time.Time
	// PrevHash is the previous event's Hash; all zeros for Seq 0.
	PrevHash [32]byte
	// Hash is SHA-256 over the event's canonical encoding (see EventLog).
	Hash [32]byte
}

// storedEvent is an Event as the log stores it:
//
//   - the timestamp as Unix nanoseconds (8 bytes instead of time.Time's
//     24), which is all the hash covers and all a timestamp of this
//     package carries: tx.now is Unix nanoseconds of the package's clock
//     (see wallClock), and the time.Time an Event returns is
//     time.Unix(0, ts), a Local time without a monotonic reading;
//   - no sequence number: it is the record's key (runSeq.n), which every
//     reader has in hand;
//   - no previous hash: it is event seq-1's Hash (zeros for seq 0), which
//     Read, ReadRange and VerifyChain take from that event, read in the
//     same run lookup (txn.GetSeq).
//
// So Read returns the Event that Append built. Each field dropped takes an
// event's record one allocation size class down (with a []byte payload
// 192 -> 176 -> 160 -> 128 bytes): a retained byte costs about 3.2 ns of
// first-touch page faults on the 2-core VM, and every append retains its
// record (docs/BENCHMARKS.md, "Event timestamps", "Event records without
// their sequence number" and "Event records without their previous
// hash"). The previous hash was kept while a Read of it meant a second
// full lookup (+37% on eventlog_read); GetSeq reads the pair with one.
type storedEvent[P any] struct {
	typ     string
	payload P
	ts      int64
	hash    [32]byte
}

// event returns the stored event seq, whose predecessor's Hash is prev
// (zeros for seq 0), as the API's Event.
func (e *storedEvent[P]) event(seq uint64, prev *[32]byte) Event[P] {
	return Event[P]{
		Seq: seq, Type: e.typ, Payload: e.payload,
		Timestamp: time.Unix(0, e.ts), PrevHash: *prev, Hash: e.hash,
	}
}

// ChainResult is the outcome of EventLog.VerifyChain.
type ChainResult struct {
	// Valid reports whether every event of the run re-hashes to its Hash
	// and links to its predecessor.
	Valid bool
	// Length is the run's log length (the number of events checked).
	Length uint64
	// FirstInvalid is the sequence number of the first event that fails a
	// check; meaningful only when Valid is false.
	FirstInvalid uint64
}

// EventLog is a named store of per-run, append-only, hash-chained event
// logs with payloads of type P. Create it with NewEventLog.
//
// Sequence numbers. Each run's log numbers its events 0, 1, 2, ... with no
// gaps or duplicates among committed events, under any concurrency: Append
// reads and writes the run's head record (length and last hash), so two
// transactions appending to one run conflict and one retries. Logs of
// different runs are independent. Len reads the head, so it is phantom-safe
// in read-write transactions.
//
// Hash chain. Event n's Hash is SHA-256 over this canonical encoding
// (integers big-endian):
//
//	seq          8 bytes
//	len(type)    8 bytes, then the type's bytes
//	timestamp    8 bytes, Timestamp.UnixNano() as int64
//	len(payload) 8 bytes, then the payload's bytes
//	prev hash    32 bytes (event n-1's Hash; zeros for event 0)
//
// The payload's bytes are: a []byte or string payload as it is; for a type
// with AppendBinary (encoding.BinaryAppender), its output, else
// MarshalBinary's; otherwise encoding/json, or the codec given with
// WithCodec (which takes precedence over all of these). Payloads are stored
// as Go values; the encoding exists only for the hash. VerifyChain
// re-encodes and re-hashes every event.
//
// Values are not copied (see the package's aliasing rule): mutating a
// payload after Append changes the stored event, and VerifyChain then
// reports the chain broken at that event.
type EventLog[P any] struct {
	db     *DB
	name   string
	heads  *mvcc.Store[RunID, logHead]
	events *mvcc.Store[runSeq, storedEvent[P]]
	enc    payloadEncoder[P]
}

// logHead is a run's log head: its length and the last event's hash.
type logHead struct {
	n    uint64
	last [32]byte
}

// NewEventLog returns the event log named name in db, creating it if
// needed. Naming rules as for NewKVStore; options (WithCodec) apply only
// when the log is created. A codec for another payload type is an error
// wrapping ErrInvalid.
func NewEventLog[P any](db *DB, name string, opts ...EventLogOption) (*EventLog[P], error) {
	var cfg eventLogConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	enc, err := newPayloadEncoder[P](cfg)
	if err != nil {
		return nil, err
	}
	return openNamed(db, name, func() *EventLog[P] {
		return &EventLog[P]{
			db:     db,
			name:   name,
			heads:  newStore[RunID, logHead](db, hashRun),
			events: newStore[runSeq, storedEvent[P]](db, hashRunSeq, denseRunSeq()),
			enc:    enc,
		}
	})
}

// Name returns the log's name ("" for a nil log).
func (l *EventLog[P]) Name() string {
	if l == nil {
		return ""
	}
	return l.name
}

// owner returns the store's DB, or nil for a nil store (a pointer left by
// a failed constructor), whose every operation then fails with an error
// wrapping ErrInvalid (or reports nothing found) instead of panicking:
// Tx.check and Tx.readable refuse a nil DB.
func (l *EventLog[P]) owner() *DB {
	if l == nil {
		return nil
	}
	return l.db
}

// hashBufs pools the scratch buffers events are encoded into for hashing.
var hashBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledBuf bounds the buffers returned to hashBufs.
const maxPooledBuf = 64 << 10

// hash returns the event hash of (seq, typ, ts, payload, prev); see
// EventLog for the encoding.
func (l *EventLog[P]) hash(seq uint64, typ string, ts int64, payload P, prev *[32]byte) ([32]byte, error) {
	bp := hashBufs.Get().(*[]byte)
	b := (*bp)[:0]
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint64(b, uint64(len(typ)))
	b = append(b, typ...)
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	at := len(b)
	b = binary.BigEndian.AppendUint64(b, 0) // payload length, patched below
	b, err := l.enc(b, payload)
	var sum [32]byte
	if err == nil {
		binary.BigEndian.PutUint64(b[at:], uint64(len(b)-at-8))
		b = append(b, prev[:]...)
		sum = sha256.Sum256(b)
	}
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		hashBufs.Put(bp)
	}
	if err != nil {
		return sum, fmt.Errorf("%w: encoding the payload of event %d: %v", ErrInvalid, seq, err)
	}
	return sum, nil
}

// Append adds an event of type typ with payload to run's log and returns
// its sequence number. The event's timestamp is the transaction's (the time
// of its first timestamped operation); its hash links it to the run's previous
// event. The payload is stored as
// given: do not mutate it afterwards.
//
// Errors (nothing is written): ErrInvalid (zero run, empty type, nil or
// foreign tx, a payload its encoding rejects), ErrReadOnly, ErrTxDone,
// ErrClosed. Concurrent appends to one run conflict at commit (Update
// retries them).
func (l *EventLog[P]) Append(tx *Tx, run RunID, typ string, payload P) (uint64, error) {
	if err := tx.checkWrite(l.owner()); err != nil {
		return 0, err
	}
	if run.IsZero() {
		return 0, errZeroRun
	}
	if typ == "" {
		return 0, fmt.Errorf("%w: empty event type", ErrInvalid)
	}
	now := tx.now() // before the head read, outside the conflict window (see StateCell.Transition)
	h, _ := txn.Get(tx.tx, l.heads, run)
	e := storedEvent[P]{typ: typ, payload: payload, ts: now}
	sum, err := l.hash(h.n, typ, e.ts, payload, &h.last)
	if err != nil {
		return 0, err
	}
	e.hash = sum
	if err := txn.Put(tx.tx, l.events, seqOf(run, h.n), e); err != nil {
		return 0, err
	}
	return h.n, txn.Put(tx.tx, l.heads, run, logHead{n: h.n + 1, last: sum})
}

// Read returns event seq of run's log as tx sees it, and whether it exists.
// It reports false for the zero run, a nil, ended or foreign transaction,
// or a closed DB. The payload is the one stored: do not mutate it. Events
// after the first also read their predecessor, whose Hash is the PrevHash.
func (l *EventLog[P]) Read(tx *Tx, run RunID, seq uint64) (Event[P], bool) {
	if !tx.readable(l.owner()) || run.IsZero() {
		return Event[P]{}, false
	}
	var prev [32]byte
	if seq == 0 {
		e, ok := txn.Get(tx.tx, l.events, seqOf(run, 0))
		if !ok {
			return Event[P]{}, false
		}
		return e.event(0, &prev), true
	}
	var (
		out   Event[P]
		found bool
	)
	// Events seq-1 and seq in one run lookup. Event seq without event
	// seq-1 is a torn view of a read-write transaction (a concurrent
	// Delete of the run seen in part), which cannot commit: report it
	// absent.
	_ = txn.GetSeq(tx.tx, l.events, seqOf(run, seq-1), 2, func(i int, e storedEvent[P], ok bool) bool {
		if !ok {
			return false
		}
		if i == 0 {
			prev = e.hash
			return true
		}
		out, found = e.event(seq, &prev), true
		return true
	})
	return out, found
}

// Len returns the length of run's log as tx sees it (0 for a run with no
// events, the zero run, a nil, ended or foreign transaction, or a closed
// DB). It reads the run's head, so in a read-write transaction a
// concurrent Append to the run that commits first makes tx fail validation.
func (l *EventLog[P]) Len(tx *Tx, run RunID) uint64 {
	if !tx.readable(l.owner()) || run.IsZero() {
		return 0
	}
	h, _ := txn.Get(tx.tx, l.heads, run)
	return h.n
}

// ReadRange returns the events of run with sequence numbers in [start, end),
// in order; end is clipped to the log's length, so the result may be
// shorter than end-start (empty when start >= Len). It reads the head and
// then each event by a point lookup (O(end-start), never a scan of the
// store). Errors: ErrInvalid (zero run, start > end, nil or foreign tx),
// ErrTxDone, ErrClosed.
func (l *EventLog[P]) ReadRange(tx *Tx, run RunID, start, end uint64) ([]Event[P], error) {
	if err := l.checkRead(tx, run); err != nil {
		return nil, err
	}
	if start > end {
		return nil, errBadRange
	}
	h, _ := txn.Get(tx.tx, l.heads, run)
	end = min(end, h.n)
	if start >= end {
		return nil, nil
	}
	out := make([]Event[P], 0, end-start)
	missing, at := false, uint64(0)
	// From event start-1 when start > 0: its Hash is event start's PrevHash.
	first, skip := start, 0
	if start > 0 {
		first, skip = start-1, 1
	}
	var prev [32]byte
	err := txn.GetSeq(tx.tx, l.events, seqOf(run, first), int(end-first), func(i int, e storedEvent[P], ok bool) bool {
		if !ok {
			missing, at = true, first+uint64(i)
			return false
		}
		if i >= skip {
			out = append(out, e.event(first+uint64(i), &prev))
		}
		prev = e.hash
		return true
	})
	if err != nil {
		return nil, err
	}
	if missing {
		// In a read-write transaction this is a torn view (a concurrent
		// Delete of the run seen in part): report the conflict it is.
		// Only a view still valid is an anomaly.
		if err := tx.tx.Validate(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("prims: event log %q: event %d of run %v missing below length %d", l.name, at, run, h.n)
	}
	return out, nil
}

func (l *EventLog[P]) checkRead(tx *Tx, run RunID) error {
	if err := tx.checkRead(l.owner()); err != nil {
		return err
	}
	if run.IsZero() {
		return errZeroRun
	}
	return nil
}

// VerifyChain re-checks run's whole log as tx sees it: every event 0..Len-1
// must exist and re-hash, with its sequence number and its predecessor's
// Hash (zeros for event 0) as the encoding says, to its Hash; the head's
// last hash must be the last event's. (The log keeps no separate copy of
// an event's PrevHash: it is read from the predecessor, so the re-hash
// checks the link.) The result names the first event that fails. A log
// with no events is valid with Length 0. Cost: O(Len) point reads, payload
// encodings and hashes (in a read-only transaction the run is looked up
// once; see txn.GetSeq). Errors as for ReadRange (a payload that no longer
// encodes is reported as invalid, not as an error), plus ErrConflict when a
// read-write transaction found the chain broken on a view that a concurrent
// commit had made inconsistent (it would not commit anyway): a broken chain
// is reported only on a consistent view.
func (l *EventLog[P]) VerifyChain(tx *Tx, run RunID) (ChainResult, error) {
	if err := l.checkRead(tx, run); err != nil {
		return ChainResult{}, err
	}
	h, _ := txn.Get(tx.tx, l.heads, run)
	res := ChainResult{Valid: true, Length: h.n}
	var prev [32]byte
	broken, at := false, uint64(0)
	err := txn.GetSeq(tx.tx, l.events, seqOf(run, 0), int(h.n), func(i int, e storedEvent[P], ok bool) bool {
		seq := uint64(i)
		if ok {
			if sum, err := l.hash(seq, e.typ, e.ts, e.payload, &prev); err == nil && sum == e.hash {
				prev = e.hash
				return true
			}
		}
		broken, at = true, seq
		return false
	})
	if err != nil {
		return ChainResult{}, err
	}
	if broken {
		return l.invalid(tx, h.n, at)
	}
	if prev != h.last {
		return l.invalid(tx, h.n, max(h.n, 1)-1)
	}
	return res, nil
}

// invalid is VerifyChain's result for a chain found broken at seq. A
// read-write transaction may have seen part of a concurrent commit (a torn
// view, see DB.Update), for example a Delete of the run that had removed
// some events and not yet the head: then the finding is an artefact, and
// the conflict is returned instead (Update re-runs its function), so that
// a broken chain is reported only on a consistent view, never as a false
// alarm.
func (l *EventLog[P]) invalid(tx *Tx, n, seq uint64) (ChainResult, error) {
	if err := tx.tx.Validate(); err != nil {
		return ChainResult{}, err
	}
	return ChainResult{Length: n, FirstInvalid: seq}, nil
}

// deleteRun deletes every event of run and its head.
func (l *EventLog[P]) deleteRun(tx *Tx, run RunID) error {
	h, ok := txn.Get(tx.tx, l.heads, run)
	if !ok {
		return nil
	}
	for seq := range h.n {
		if _, err := txn.Delete(tx.tx, l.events, seqOf(run, seq)); err != nil {
			return err
		}
	}
	_, err := txn.Delete(tx.tx, l.heads, run)
	return err
}
