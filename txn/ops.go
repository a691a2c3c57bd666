package txn

import (
	"fmt"

	"github.com/substrate-lab/substrate/mvcc"
)

// Get returns k's value in s as tx sees it: tx's own buffered write if it
// wrote k, else the value at tx's snapshot. ok is false if k is absent. In a
// read-write transaction the read joins the read set (validated at commit);
// a read-only Get is untracked, lock-free except while a commit it must see
// is installing, and allocates nothing. On a dead tx, or a store of another
// engine, Get returns the zero value and false (and a later Commit reports
// ErrTxDone or ErrForeignStore).
func Get[K comparable, V any](tx Tx, s *mvcc.Store[K, V], k K) (v V, ok bool) {
	st := tx.live()
	if st == nil {
		return v, false
	}
	if st.readOnly {
		if s.Domain() != st.e.d {
			st.err = ErrForeignStore
			return v, false
		}
		if r := s.Lookup(k); r != nil {
			var hit bool
			if v, ok, hit = r.ReadHead(st.snap); !hit {
				v, _, ok = r.Read(st.snap)
			}
		}
		return v, ok
	}
	p := partOf(st, s)
	if p == nil {
		return v, false
	}
	if i := p.find(k); i >= 0 {
		if w := &p.writes[i]; !w.tomb {
			return w.v, true
		}
		return v, false
	}
	v, ok, _ = p.read(st, k)
	return v, ok
}

// GetSeq calls fn(i, v, ok) with what Get(tx, s, ki) returns, for n
// consecutive keys of a store with dense keys (mvcc.WithDenseKeys): ki has
// k's group and k's sequence number plus i, for i = 0, 1, ..., n-1. It
// stops when fn returns false. A read-only transaction looks the group up
// once for the whole range (mvcc.Store.LookupSeq: about a third of a dense
// point read) instead of once per key; a read-write transaction reads key
// by key, as Get does (its own writes, the read set, the snapshot
// extension that LookupSeq rules out). Errors: ErrTxDone (a dead tx, or
// one that fn ended: GetSeq stops there), ErrForeignStore (a store of
// another engine, or a nil one; the transaction is poisoned as by Get),
// or an error for a store without dense keys or a nil fn (fn is never
// called). n <= 0 reads nothing.
func GetSeq[K comparable, V any](tx Tx, s *mvcc.Store[K, V], k K, n int, fn func(i int, v V, ok bool) bool) error {
	if fn == nil {
		return errNilFunc
	}
	st := tx.live()
	if st == nil {
		return ErrTxDone
	}
	if s.Domain() != st.e.d {
		st.err = ErrForeignStore
		return ErrForeignStore
	}
	var err error
	var dense bool
	if st.readOnly {
		dense = s.LookupSeq(k, n, func(i int, _ K, r *mvcc.Record[V]) bool {
			if tx.live() != st {
				err = ErrTxDone
				return false
			}
			var v V
			ok := false
			if r != nil {
				v, _, ok = r.Read(st.snap)
			}
			return fn(i, v, ok)
		})
	} else {
		dense = s.LookupSeq(k, n, func(i int, ki K, _ *mvcc.Record[V]) bool {
			if tx.live() != st {
				err = ErrTxDone
				return false
			}
			v, ok := Get(tx, s, ki)
			return fn(i, v, ok)
		})
	}
	if !dense {
		return errNotDense
	}
	return err
}

// Put buffers k = v in s; it becomes visible to others when tx commits.
// Reads by tx see it at once. It fails with ErrTxDone on a dead tx,
// ErrReadOnly in a read-only one, ErrForeignStore for a store of another
// engine, and with an error wrapping ErrConflict once tx is doomed (a read
// met a newer version and snapshot extension could not re-validate what tx
// had read: its Commit would fail anyway; Update re-runs it). Put does not read k, so a blind Put never conflicts with
// concurrent writers of k (the later commit wins).
func Put[K comparable, V any](tx Tx, s *mvcc.Store[K, V], k K, v V) error {
	st, err := tx.writable()
	if err != nil {
		return err
	}
	p := partOf(st, s)
	if p == nil {
		return ErrForeignStore
	}
	if i := p.find(k); i >= 0 {
		w := &p.writes[i]
		w.v, w.tomb = v, false
		return nil
	}
	p.addWrite(writeEntry[K, V]{k: k, r: p.record(k), v: v})
	st.nwrites++
	return nil
}

// Delete buffers the deletion of k from s and reports whether k existed (as
// tx sees it; that observation joins the read set). Deleting an absent key
// writes nothing. Errors as for Put.
func Delete[K comparable, V any](tx Tx, s *mvcc.Store[K, V], k K) (existed bool, err error) {
	st, err := tx.writable()
	if err != nil {
		return false, err
	}
	p := partOf(st, s)
	if p == nil {
		return false, ErrForeignStore
	}
	if i := p.find(k); i >= 0 {
		w := &p.writes[i]
		existed = !w.tomb
		var zero V
		w.v, w.tomb = zero, true
		return existed, nil
	}
	_, existed, r := p.read(st, k)
	if !existed {
		return false, nil
	}
	p.addWrite(writeEntry[K, V]{k: k, r: r, tomb: true})
	st.nwrites++
	return true, nil
}

// CompareAndSwap sets k to new if its current value (as tx sees it) is
// present and == old, and reports whether it did. The read joins the read
// set, so the swap commits only if k did not change before tx commits.
// Errors as for Put.
func CompareAndSwap[K comparable, V comparable](tx Tx, s *mvcc.Store[K, V], k K, old, new V) (swapped bool, err error) {
	if _, err := tx.writable(); err != nil {
		return false, err
	}
	cur, ok := Get(tx, s, k)
	if !ok || cur != old {
		return false, tx.live().err
	}
	if err := Put(tx, s, k, new); err != nil {
		return false, err // a doomed transaction refuses writes
	}
	return true, nil
}

// Scan calls fn for every key present in s as tx sees it (its snapshot
// merged with its own writes), in no particular order, until fn returns
// false. fn may read and write through tx; keys it inserts into s may or
// may not be visited.
//
// In a read-write transaction the scan is phantom-safe: the partition
// counters of s are recorded before the scan looks at the map and every
// record visited joins the read set, so the commit fails with ErrConflict if
// a concurrent commit that serializes before it inserted, deleted or changed
// any key of s (even when fn stopped early, the whole store counts as
// scanned). In a read-only transaction the scan is an untracked snapshot.
// A nil fn is an error (nothing is scanned).
func Scan[K comparable, V any](tx Tx, s *mvcc.Store[K, V], fn func(k K, v V) bool) error {
	if fn == nil {
		return errNilFunc
	}
	return scan(tx, s, -1, fn)
}

// ScanPartition is Scan restricted to the keys of one phantom partition
// (see mvcc.Store.PartitionOf and mvcc.WithPartitioner): it visits only
// them, and in a read-write transaction it watches only that partition, so
// it conflicts only with commits that insert, delete or change keys of that
// partition. With a partitioner that gives every key of a group (say, a run)
// one partition, a scan of the group is phantom-safe without conflicting
// with writers of other groups (except those that hash to the same of the
// 64 partitions). part must be in [0, mvcc.Partitions).
func ScanPartition[K comparable, V any](tx Tx, s *mvcc.Store[K, V], part int, fn func(k K, v V) bool) error {
	if fn == nil {
		return errNilFunc
	}
	if part < 0 || part >= mvcc.Partitions {
		return fmt.Errorf("txn: partition %d out of range [0, %d)", part, mvcc.Partitions)
	}
	return scan(tx, s, part, fn)
}

// scan is Scan (part < 0) and ScanPartition.
func scan[K comparable, V any](tx Tx, s *mvcc.Store[K, V], part int, fn func(k K, v V) bool) error {
	st := tx.live()
	if st == nil {
		return ErrTxDone
	}
	snap := st.snapshot() // a read-write scan's before its watch
	if st.readOnly {
		if s.Domain() != st.e.d {
			st.err = ErrForeignStore
			return ErrForeignStore
		}
		s.Range(func(k K, r *mvcc.Record[V]) bool {
			if tx.live() == nil { // fn ended tx
				return false
			}
			if part >= 0 && r.Partition() != part {
				return true
			}
			v, _, ok := r.Read(snap)
			return !ok || fn(k, v)
		})
		return nil
	}
	p := partOf(st, s)
	if p == nil {
		return ErrForeignStore
	}
	mask := ^uint64(0)
	if part >= 0 {
		mask = 1 << part
	}
	p.watch(mask) // before looking at the map: see mvcc.Store
	s.Range(func(k K, r *mvcc.Record[V]) bool {
		if tx.live() == nil { // fn ended tx: p may already serve another one
			return false
		}
		if part >= 0 && r.Partition() != part {
			return true
		}
		if i := p.find(k); i >= 0 {
			w := p.writes[i]
			return w.tomb || fn(k, w.v)
		}
		v, ok := p.readRecord(st, r) // may extend st.snap
		return !ok || fn(k, v)
	})
	if tx.live() == nil {
		return ErrTxDone
	}
	// Range visits the keys whose records are in the map. A record this
	// transaction writes through can have been removed from the store
	// (mvcc.Store.Entomb) after the write looked it up: then the scan
	// missed that write, and the commit could not lock the record anyway.
	// A record still there now was there for the whole Range (removal is
	// final), so the scan saw every other write.
	if p.writesRemoved() {
		st.err = errRemoved
		return errRemoved
	}
	return nil
}
