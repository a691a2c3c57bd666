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
