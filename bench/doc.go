// Package bench is Substrate's M3 benchmark suite and the report library
// behind cmd/m3bench.
//
// The benchmark bodies live in ordinary (non-test) files so that the same
// code runs under `go test -bench` (see m3_test.go) and in-process under
// cmd/m3bench via [testing.Benchmark]. Each [Case] carries the plan's exact
// name (M3_BENCHMARK_PLAN.md), its tier and group, the plan's goal and ours,
// and the function that measures it.
//
//	go test ./bench -run '^$' -bench 'M3/core_'    # the plan's `cargo bench -- "core_"`
//	go test ./bench -run '^$' -bench 'M3/cache_'
//	go test ./bench -run '^$' -bench 'Peers/op=load' # xsync v4/v3, sync.Map, map+RWMutex
//	go run ./cmd/m3bench -quick                      # the report, in-process
//
// # Honesty rules every body follows
//
//   - Keys are generated before the timer starts, from a fixed-seed PCG
//     stream (math/rand/v2), so every run and every implementation sees the
//     same keys in the same order.
//   - The map is filled and then warmed with one full pass of the measured
//     operation before b.ResetTimer: the figure is steady state, never first
//     touch.
//   - Nothing is allocated, formatted or boxed by the benchmark itself inside
//     the timed loop; allocs/op is therefore the data structure's own.
//     (Peers whose API boxes, such as sync.Map's `any`, pay that boxing: it is
//     what their users pay.)
//   - The loop walks a pre-built key slice with a wrap counter; loaded values
//     are summed and published to a package-level sink after the loop, and a
//     missing key or failed CAS fails the benchmark, so the compiler cannot
//     drop the work and a broken map cannot produce a fast figure.
//   - Every case calls b.ReportAllocs.
//   - Loops measure throughput of independent operations (the CPU may overlap
//     consecutive lookups), exactly as Criterion's b.iter and Go's b.N loops
//     do for the peers; ratios are apples to apples because every
//     implementation runs the identical loop shape.
package bench
