package mvcc_test

import (
	"fmt"

	"github.com/substrate-lab/substrate/mvcc"
)

// The low-level protocol that package txn automates: a snapshot through a
// slot, and a single-record commit (lock, version, install, unlock).
func Example() {
	d := mvcc.NewDomain()
	s := mvcc.NewStore[string, int](d)

	commit := func(k string, v int) {
		r := s.LoadOrCreate(k)
		for !r.TryLock() {
		}
		ver := d.NextVersion()
		r.SetPending(ver)
		s.Install(r, ver, v, false, 0)
		r.Unlock()
		d.NoteCommit(ver)
	}

	reader := d.NewSlot()
	defer reader.Close()

	// Versions and snapshots are printed as clock ticks (mvcc.Tick): a
	// version is tick<<SeqBits | seq, a snapshot sees whole ticks.
	commit("answer", 41)
	snap := reader.Acquire() // sees tick 1
	commit("answer", 42)     // tick 2, invisible to snap

	v, ver, ok := s.Lookup("answer").Read(snap)
	fmt.Println(v, mvcc.Tick(ver), ok)
	st := d.Stats()
	fmt.Println("oldest snapshot:", mvcc.Tick(st.OldestSnapshot), "age:", st.OldestSnapshotAge)
	reader.Release()

	snap = reader.Acquire() // a fresh snapshot sees tick 2
	v, ver, ok = s.Lookup("answer").Read(snap)
	fmt.Println(v, mvcc.Tick(ver), ok)
	reader.Release()
	// Output:
	// 41 1 true
	// oldest snapshot: 1 age: 1
	// 42 2 true
}

// A store of per-run logs indexed by run and sequence number instead of a
// hash of both (mvcc.WithDenseKeys): records of one run sit in an array.
func ExampleWithDenseKeys() {
	type entry struct {
		run [16]byte
		seq uint64
	}
	d := mvcc.NewDomain()
	s := mvcc.NewStore[entry, string](d, mvcc.WithDenseKeys(
		func(e entry) ([16]byte, uint64) { return e.run, e.seq },
		func(run [16]byte, seq uint64) entry { return entry{run, seq} }))

	run := [16]byte{1}
	for seq, step := range []string{"plan", "search", "answer"} {
		r := s.LoadOrCreate(entry{run, uint64(seq)})
		for !r.TryLock() {
		}
		ver := d.NextVersion()
		r.SetPending(ver)
		s.Install(r, ver, step, false, 0)
		r.Unlock()
		d.NoteCommit(ver)
	}

	reader := d.NewSlot()
	defer reader.Close()
	snap := reader.Acquire()
	for seq := range uint64(4) {
		if r := s.Lookup(entry{run, seq}); r != nil {
			v, _, _ := r.Read(snap)
			fmt.Println(seq, v)
		} else {
			fmt.Println(seq, "no record")
		}
	}
	reader.Release()
	fmt.Println("records:", s.Len())
	// Output:
	// 0 plan
	// 1 search
	// 2 answer
	// 3 no record
	// records: 3
}
