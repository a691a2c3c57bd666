package prims

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/substrate-lab/substrate/mvcc"
)

// canonicalHash is the documented encoding, written out independently.
func canonicalHash(seq uint64, typ string, ts time.Time, payload []byte, prev [32]byte) [32]byte {
	var b []byte
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint64(b, uint64(len(typ)))
	b = append(b, typ...)
	b = binary.BigEndian.AppendUint64(b, uint64(ts.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(len(payload)))
	b = append(b, payload...)
	b = append(b, prev[:]...)
	return sha256.Sum256(b)
}

func TestEventLog(t *testing.T) {
	db := openDB(t)
	log := must[*EventLog[[]byte]](t)(NewEventLog[[]byte](db, "log"))
	run, other := NewRunID(), NewRunID()
	before := time.Now().Add(-time.Second)
	mustUpdate(t, db, func(tx *Tx) error {
		for i := range 5 {
			seq, err := log.Append(tx, run, fmt.Sprintf("type%d", i%2), []byte{byte(i)})
			if err != nil || seq != uint64(i) {
				t.Errorf("Append = %d, %v; want %d", seq, err, i)
			}
		}
		if n := log.Len(tx, run); n != 5 {
			t.Errorf("Len in tx = %d", n)
		}
		seq, err := log.Append(tx, other, "x", nil)
		if err != nil || seq != 0 {
			t.Errorf("other run Append = %d, %v", seq, err)
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		if log.Len(tx, run) != 5 || log.Len(tx, other) != 1 || log.Len(tx, NewRunID()) != 0 {
			t.Error("Len wrong")
		}
		var prev [32]byte
		for i := range uint64(5) {
			e, ok := log.Read(tx, run, i)
			if !ok || e.Seq != i || e.Type != fmt.Sprintf("type%d", i%2) || len(e.Payload) != 1 || e.Payload[0] != byte(i) {
				t.Fatalf("Read(%d) = %+v, %v", i, e, ok)
			}
			if e.Timestamp.Before(before) || e.Timestamp.After(time.Now()) {
				t.Errorf("timestamp %v", e.Timestamp)
			}
			if e.PrevHash != prev {
				t.Errorf("event %d PrevHash does not link", i)
			}
			if want := canonicalHash(i, e.Type, e.Timestamp, e.Payload, prev); e.Hash != want {
				t.Errorf("event %d hash differs from the documented encoding", i)
			}
			prev = e.Hash
		}
		if _, ok := log.Read(tx, run, 5); ok {
			t.Error("Read past the end")
		}
		if _, ok := log.Read(tx, RunID{}, 0); ok {
			t.Error("Read of the zero run")
		}
		for _, c := range []struct{ start, end, want uint64 }{{0, 5, 5}, {1, 3, 2}, {3, 100, 2}, {5, 9, 0}, {7, 9, 0}, {2, 2, 0}} {
			es, err := log.ReadRange(tx, run, c.start, c.end)
			if err != nil || uint64(len(es)) != c.want {
				t.Errorf("ReadRange(%d, %d) = %d events, %v; want %d", c.start, c.end, len(es), err, c.want)
			}
			for j, e := range es {
				if e.Seq != c.start+uint64(j) {
					t.Errorf("ReadRange(%d, %d)[%d].Seq = %d", c.start, c.end, j, e.Seq)
				}
			}
		}
		_, err := log.ReadRange(tx, run, 3, 2)
		wantErr(t, "ReadRange start > end", err, ErrInvalid)
		_, err = log.ReadRange(tx, RunID{}, 0, 1)
		wantErr(t, "ReadRange zero run", err, ErrInvalid)
		res, err := log.VerifyChain(tx, run)
		if err != nil || !res.Valid || res.Length != 5 {
			t.Errorf("VerifyChain = %+v, %v", res, err)
		}
		res, err = log.VerifyChain(tx, NewRunID())
		if err != nil || !res.Valid || res.Length != 0 {
			t.Errorf("VerifyChain(empty) = %+v, %v", res, err)
		}
		_, err = log.VerifyChain(tx, RunID{})
		wantErr(t, "VerifyChain zero run", err, ErrInvalid)
		_, err = log.Append(tx, run, "t", nil)
		wantErr(t, "Append in View", err, ErrReadOnly)
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := log.Append(tx, RunID{}, "t", nil)
		wantErr(t, "Append zero run", err, ErrInvalid)
		_, err = log.Append(tx, run, "", nil)
		wantErr(t, "Append empty type", err, ErrInvalid)
		return nil
	})
}

// The aliasing rule for payloads: mutating one after Append changes the
// stored event, and VerifyChain names it.
func TestEventLogTamperDetected(t *testing.T) {
	db := openDB(t)
	log := must[*EventLog[[]byte]](t)(NewEventLog[[]byte](db, "log"))
	run := NewRunID()
	payloads := make([][]byte, 4)
	mustUpdate(t, db, func(tx *Tx) error {
		for i := range payloads {
			payloads[i] = []byte{'p', byte('0' + i)}
			if _, err := log.Append(tx, run, "t", payloads[i]); err != nil {
				return err
			}
		}
		return nil
	})
	payloads[2][1] = 'X' // violates the aliasing rule
	mustView(t, db, func(tx *Tx) error {
		if e, _ := log.Read(tx, run, 2); string(e.Payload) != "pX" {
			t.Errorf("payload %q: the stored value is a copy", e.Payload)
		}
		res, err := log.VerifyChain(tx, run)
		if err != nil || res.Valid || res.FirstInvalid != 2 || res.Length != 4 {
			t.Errorf("VerifyChain = %+v, %v; want invalid at 2", res, err)
		}
		return nil
	})
}

// Concurrent appends to shared runs: lengths equal successful appends,
// sequences are unique and contiguous, chains stay valid.
func TestEventLogConcurrentAppends(t *testing.T) {
	db := openDB(t)
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "log"))
	runs := []RunID{NewRunID(), NewRunID()}
	const workers, per = 4, 200
	var appended [2]atomic.Int64
	seqs := make([][]map[uint64]bool, workers)
	var wg sync.WaitGroup
	for w := range workers {
		seqs[w] = []map[uint64]bool{{}, {}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				r := (w + i) % 2
				var seq uint64
				err := db.Update(func(tx *Tx) error {
					var err error
					seq, err = log.Append(tx, runs[r], "step", fmt.Sprint(w, i))
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				appended[r].Add(1)
				seqs[w][r][seq] = true
			}
		}()
	}
	wg.Wait()
	for r, run := range runs {
		all := map[uint64]bool{}
		for w := range workers {
			for s := range seqs[w][r] {
				if all[s] {
					t.Fatalf("run %d: sequence %d handed out twice", r, s)
				}
				all[s] = true
			}
		}
		n := uint64(appended[r].Load())
		for s := range n {
			if !all[s] {
				t.Fatalf("run %d: sequence %d missing (gap)", r, s)
			}
		}
		mustView(t, db, func(tx *Tx) error {
			if got := log.Len(tx, run); got != n {
				t.Errorf("run %d: Len %d, want %d successful appends", r, got, n)
			}
			res, err := log.VerifyChain(tx, run)
			if err != nil || !res.Valid || res.Length != n {
				t.Errorf("run %d: VerifyChain %+v, %v", r, res, err)
			}
			return nil
		})
	}
}

// Len and ReadRange in a read-write transaction are phantom-safe.
func TestEventLogPhantom(t *testing.T) {
	db := openDB(t)
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "log"))
	kv := must[*KVStore[uint64]](t)(NewKVStore[uint64](db, "kv"))
	run := NewRunID()
	tx := db.Begin()
	n := log.Len(tx, run)
	mustUpdate(t, db, func(tx *Tx) error { _, err := log.Append(tx, run, "t", "x"); return err })
	if err := kv.Put(tx, run, "seen", n); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Len raced by an append", tx.Commit(), ErrConflict)
}

// TestEventLogNoFalseAlarmUnderDelete: a read-write transaction may see part
// of a concurrent Delete of the run (a torn view: some events gone, the head
// not yet). VerifyChain and ReadRange must then report the conflict, never
// a broken chain or a missing event: the chains here are never broken, so
// every "invalid" result without an error is a false alarm. Explicit
// transactions (Begin) and Update closures both read while runs are
// created, filled and deleted.
func TestEventLogNoFalseAlarmUnderDelete(t *testing.T) {
	db := openDB(t)
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "log"))
	runs := db.Runs()
	var cur atomic.Pointer[RunID]
	var stop atomic.Bool
	var falseAlarms, checks atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // create a run with 8 events, publish it, delete it, again
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			var id RunID
			err := db.Update(func(tx *Tx) error {
				var err error
				if id, err = runs.Create(tx, RunOptions{}); err != nil {
					return err
				}
				for j := range 8 {
					if _, err := log.Append(tx, id, "step", fmt.Sprint(i, j)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			cur.Store(&id)
			if err := db.Update(func(tx *Tx) error { return runs.Delete(tx, id) }); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	check := func(tx *Tx, id RunID) error {
		checks.Add(1)
		res, err := log.VerifyChain(tx, id)
		if err == nil && !res.Valid {
			falseAlarms.Add(1)
			t.Errorf("VerifyChain reported a broken chain without a conflict: %+v", res)
		}
		if err != nil {
			return err
		}
		if _, err := log.ReadRange(tx, id, 0, 100); err != nil && !errors.Is(err, ErrConflict) {
			falseAlarms.Add(1)
			t.Errorf("ReadRange: %v, want nil or a conflict", err)
		}
		return err
	}
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				p := cur.Load()
				if p == nil {
					runtime.Gosched()
					continue
				}
				if r == 0 {
					tx := db.Begin()
					_ = check(tx, *p)
					_ = tx.Rollback()
				} else {
					err := db.Update(func(tx *Tx) error { return check(tx, *p) })
					if err != nil && !errors.Is(err, ErrConflict) {
						t.Error(err)
					}
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if checks.Load() == 0 {
		t.Fatal("no check ran")
	}
	t.Logf("%d checks, %d false alarms", checks.Load(), falseAlarms.Load())
}

// The log stores a timestamp as Unix nanoseconds; Read rebuilds the very
// time.Time the transaction stamped (== holds: same instant, same
// location, no monotonic reading), and the hash still verifies.
func TestEventTimestampRoundTrip(t *testing.T) {
	db := openDB(t)
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "ts"))
	run := NewRunID()
	var stamped time.Time
	mustUpdate(t, db, func(tx *Tx) error {
		if _, err := log.Append(tx, run, "t", "p"); err != nil {
			return err
		}
		stamped = time.Unix(0, tx.now())
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		e, ok := log.Read(tx, run, 0)
		if !ok || e.Timestamp != stamped || e.Timestamp.Location() != time.Local {
			t.Fatalf("read timestamp %#v (ok=%v), stamped %#v", e.Timestamp, ok, stamped)
		}
		r, err := log.ReadRange(tx, run, 0, 1)
		if err != nil || len(r) != 1 || r[0] != e {
			t.Fatalf("ReadRange %+v, %v; Read %+v", r, err, e)
		}
		if res, err := log.VerifyChain(tx, run); err != nil || !res.Valid {
			t.Fatalf("VerifyChain %+v, %v", res, err)
		}
		return nil
	})
}

// Event records store neither the sequence number nor the previous hash
// (storedEvent): Read and ReadRange take the one from the key and the other
// from the predecessor's record. Every way of reading an event must
// return the Event whose Hash Append computed, linked to its predecessor:
// from a snapshot, from the transaction's own writes, with the predecessor
// in the snapshot and the event in the write set, and from a range that
// starts mid-log.
func TestEventDerivedFieldsMatchAppend(t *testing.T) {
	db := openDB(t)
	log := must[*EventLog[string]](t)(NewEventLog[string](db, "derived"))
	run := NewRunID()
	var hashes [][32]byte // hashes[i] is event i's Hash, recomputed from the documented encoding
	check := func(e Event[string], seq uint64) {
		t.Helper()
		var prev [32]byte
		if seq > 0 {
			prev = hashes[seq-1]
		}
		if e.Seq != seq || e.PrevHash != prev || e.Hash != hashes[seq] ||
			e.Hash != canonicalHash(seq, e.Type, e.Timestamp, []byte(e.Payload), prev) {
			t.Errorf("event %d = %+v; want seq %d linked to %x", seq, e, seq, prev[:4])
		}
	}
	appendOne := func(tx *Tx, i int) {
		t.Helper()
		seq, err := log.Append(tx, run, "t", fmt.Sprint("p", i))
		if err != nil || seq != uint64(i) {
			t.Fatalf("Append %d = %d, %v", i, seq, err)
		}
		e, ok := log.Read(tx, run, seq) // own write; predecessor own or committed
		if !ok {
			t.Fatalf("Read own event %d: missing", seq)
		}
		var prev [32]byte
		if seq > 0 {
			prev = hashes[seq-1]
		}
		hashes = append(hashes, canonicalHash(seq, e.Type, e.Timestamp, []byte(e.Payload), prev))
		check(e, seq)
	}
	mustUpdate(t, db, func(tx *Tx) error {
		for i := range 3 {
			appendOne(tx, i)
		}
		return nil
	})
	mustUpdate(t, db, func(tx *Tx) error { // event 3's predecessor is in the snapshot
		appendOne(tx, 3)
		appendOne(tx, 4)
		if r, err := log.ReadRange(tx, run, 2, 5); err != nil || len(r) != 3 {
			t.Fatalf("ReadRange(2, 5) in the writer = %d events, %v", len(r), err)
		} else {
			for j, e := range r {
				check(e, uint64(2+j))
			}
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		for seq := range uint64(5) {
			e, ok := log.Read(tx, run, seq)
			if !ok {
				t.Fatalf("Read(%d): missing", seq)
			}
			check(e, seq)
			for end := seq + 1; end <= 6; end++ {
				r, err := log.ReadRange(tx, run, seq, end)
				if err != nil || len(r) != int(min(end, 5)-seq) {
					t.Fatalf("ReadRange(%d, %d) = %d events, %v", seq, end, len(r), err)
				}
				for j, e := range r {
					check(e, seq+uint64(j))
				}
			}
		}
		if res, err := log.VerifyChain(tx, run); err != nil || !res.Valid || res.Length != 5 {
			t.Fatalf("VerifyChain = %+v, %v", res, err)
		}
		return nil
	})
}

// An event's record (mvcc.Record of storedEvent) with a []byte payload is
// 128 bytes, an allocation size class of its own: every append retains one,
// and each field dropped from storedEvent was chosen to reach this class.
func TestStoredEventRecordSize(t *testing.T) {
	if got := unsafe.Sizeof(mvcc.Record[storedEvent[[]byte]]{}); got != 128 {
		t.Errorf("Sizeof(mvcc.Record[storedEvent[[]byte]]) = %d, want 128", got)
	}
}
