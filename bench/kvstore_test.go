package bench

import "testing"

// BenchmarkPeersB runs the Tier B peer table as impl=<impl>/op=<op>, e.g.
//
//	go test ./bench -run '^$' -bench 'PeersB/.*/op=kv_get' -cpu 1
func BenchmarkPeersB(b *testing.B) {
	for _, p := range PeersB() {
		b.Run(p.Name(), p.Run)
	}
}

func TestPeersBTable(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range PeersB() {
		if p.Run == nil {
			t.Errorf("%s: nil Run", p.Name())
		}
		if seen[p.Name()] {
			t.Errorf("duplicate peer %s", p.Name())
		}
		seen[p.Name()] = true
	}
	for _, impl := range peerBImpls {
		for _, op := range peerBOps {
			if !seen["impl="+impl+"/op="+op] {
				t.Errorf("missing impl=%s/op=%s", impl, op)
			}
		}
	}
	if len(seen) != len(peerBImpls)*len(peerBOps) {
		t.Errorf("%d peers, want %d", len(seen), len(peerBImpls)*len(peerBOps))
	}
}

// TestPeersBRunOnce runs every Tier B peer body once (-benchtime 1x) to
// prove the fixtures are consistent. It measures nothing.
func TestPeersBRunOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every peer body once; skipped under -short")
	}
	setBenchTime(t, "1x")
	for _, p := range PeersB() {
		t.Run(p.Name(), func(t *testing.T) {
			if p.Impl == "badger" && raceEnabled {
				t.Skip("badger's background goroutines are slow under -race")
			}
			if fig := measure(p.Run, 1); fig.Failed {
				t.Fatalf("%s failed (rerun with go test -bench 'PeersB/%s$' -benchtime 1x)", p.Name(), p.Name())
			}
		})
	}
}
