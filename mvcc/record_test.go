package mvcc

import "testing"

// TestReadHeadIsReadsFastPath: ReadHead answers exactly when Read would
// return the newest version without waiting (the record is not locked by a
// committer whose version may be <= snap, and the head is <= snap), with
// Read's value and ok; otherwise it reports no hit.
func TestReadHeadIsReadsFastPath(t *testing.T) {
	d := NewDomain()
	s := NewStore[string, int](d)
	pin := d.NewSlot()
	defer pin.Close()
	pin.Acquire() // snapshot 0: nothing gets pruned

	vers := []uint64{
		commitOne(s, "k", 10, false),
		commitOne(s, "k", 20, false),
		commitOne(s, "k", 0, true),
		commitOne(s, "k", 40, false),
	}
	r := s.Lookup("k")
	check := func(when string, snap uint64, wantHit bool) {
		t.Helper()
		v, ok, hit := r.ReadHead(snap)
		if hit != wantHit {
			t.Fatalf("%s: ReadHead(%d) hit %v, want %v", when, snap, hit, wantHit)
		}
		if hit {
			rv, _, rok := r.Read(snap)
			if v != rv || ok != rok {
				t.Fatalf("%s: ReadHead(%d) = %d, %v; Read = %d, %v", when, snap, v, ok, rv, rok)
			}
		}
	}
	for _, snap := range []uint64{0, vers[0], vers[1], vers[2], vers[3] - 1} {
		check("head above the snapshot", snap, false)
	}
	for _, snap := range []uint64{vers[3], vers[3] + 1, vers[3] + 1000} {
		check("head at or below the snapshot", snap, true)
	}

	// A tombstone at the head: a hit, absent, zero value.
	del := commitOne(s, "k", 0, true)
	if v, ok, hit := r.ReadHead(del); !hit || ok || v != 0 {
		t.Fatalf("ReadHead over a tombstone = %d, %v, hit %v", v, ok, hit)
	}
	live := commitOne(s, "k", 50, false)

	// Locked: no hit while the pending version is unknown or <= snap (Read
	// would wait); a hit below a known pending version.
	if !r.TryLock() {
		t.Fatal("TryLock failed on an unlocked record")
	}
	check("locked, version unknown", live, false)
	check("locked, version unknown", live+1000, false)
	pending := live + 500
	r.SetPending(pending)
	check("locked below the snapshot's view", pending-1, true)
	check("locked at the snapshot", pending, false)
	check("locked below the snapshot", pending+1, false)
	r.Unlock()
	check("unlocked again", pending+1, true)
}
