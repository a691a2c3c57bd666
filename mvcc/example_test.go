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

	commit("answer", 41)
	snap := reader.Acquire() // sees version 1
	commit("answer", 42)     // version 2, invisible to snap

	v, ver, ok := s.Lookup("answer").Read(snap)
	fmt.Println(v, ver, ok)
	st := d.Stats()
	fmt.Println("oldest snapshot:", st.OldestSnapshot, "age:", st.OldestSnapshotAge)
	reader.Release()

	snap = reader.Acquire() // a fresh snapshot sees version 2
	v, ver, ok = s.Lookup("answer").Read(snap)
	fmt.Println(v, ver, ok)
	reader.Release()
	// Output:
	// 41 1 true
	// oldest snapshot: 1 age: 1
	// 42 2 true
}
