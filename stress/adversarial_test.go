//go:build substrate_adversarial

package stress

import (
	"slices"
	"testing"

	"github.com/substrate-lab/substrate/internal/chaos"
)

// TestAdversarialHooksReached runs under
//
//	go test -race -tags substrate_adversarial ./stress/...
//
// where every other test of the package runs with internal/chaos yielding
// the processor at the commit path's critical points. It checks that those
// points are really on the path the workloads take (a hot StateCell and
// the bank of TestSnapshotInvariant), so that the adversarial run is not
// silently the same as a normal one, and lists the points reached.
func TestAdversarialHooksReached(t *testing.T) {
	if !chaos.Enabled {
		t.Fatal("built with substrate_adversarial but chaos.Enabled is false")
	}
	chaos.Reset()
	h := newHotCell(t)
	r := runStress(t, testProtocol(hotWorkers), invariantLimits, h.transition(committers[1]))
	h.check(t, r.AllSuccesses)

	hits := chaos.Hits()
	points := make([]string, 0, len(hits))
	for p := range hits {
		points = append(points, p)
	}
	slices.Sort(points)
	for _, p := range points {
		t.Logf("chaos point %-40s %d hits", p, hits[p])
	}
	// The points every committing workload must pass: the commit protocol's
	// steps, the snapshot announcement, the reader's window between lock
	// check and head load, and the install's publication.
	for _, p := range []string{
		"txn.commit.locked", "txn.commit.versioned", "txn.commit.validated",
		"txn.commit.installed", "mvcc.slot.announced",
		"mvcc.record.read.checked", "mvcc.install.published",
	} {
		if hits[p] == 0 {
			t.Errorf("chaos point %s was never reached", p)
		}
	}
	if len(points) == 0 {
		t.Fatal("no chaos.Yield point was reached: the commit path has no hooks yet " +
			"(see internal/chaos: txn and mvcc should call chaos.Yield at their critical points), " +
			"so this adversarial run schedules nothing differently from a normal one")
	}
}
