package bench

import "testing"

// BenchmarkM3 runs every registered case under its plan name, so
//
//	go test ./bench -run '^$' -bench 'M3/core_'
//
// mirrors the plan's `cargo bench --bench m3_primitives -- "core_"`. Run the
// mem_ cases with -benchtime 1x: their figure is a size measured once per
// invocation (see reportMemFigure).
func BenchmarkM3(b *testing.B) {
	for _, c := range Cases() {
		b.Run(c.Name, c.Run)
		ReleaseFixtures() // after the case's last round; see uniform1M
	}
}

// BenchmarkPeers runs the peer table as impl=<impl>/op=<op>, e.g.
//
//	go test ./bench -run '^$' -bench 'Peers/.*/op=load'
func BenchmarkPeers(b *testing.B) {
	for _, p := range Peers() {
		b.Run(p.Name(), p.Run)
	}
}
