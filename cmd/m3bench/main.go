// Command m3bench runs Substrate's M3 benchmark suite in-process and prints
// the plan-style report: the environment block; Tier A0 with ratios to the
// peers (xsync v4/v3, sync.Map, map+RWMutex); the Tier A1, B, C and D
// tables with the plan's gates; the Facade Tax Report; the latency
// distribution (mean, p50, p95, p99, max from HDR histograms; operations
// under 100 ns timed in batches of 64, and marked so); the Tier B peers
// (buntdb, go-memdb, badger) with issue 4's bars; cache-locality and branch
// assessments; memory overhead; the Redis Competitiveness Report; and,
// with -baseline, a benchstat-style comparison with a saved run.
//
//	go run ./cmd/m3bench                 # full run, 1s per case
//	go run ./cmd/m3bench -quick          # 100ms per case
//	go run ./cmd/m3bench -bench core_ -count 5 -json m3.json
//	go run ./cmd/m3bench -quick -count 6 -save-baseline before   # store in .m3bench/baselines/
//	go run ./cmd/m3bench -quick -count 6 -baseline before        # old, new, delta, p-value
//	go run ./cmd/m3bench -quick -html m3.html                    # one self-contained page with charts
//
// Flags: -quick, -bench REGEXP, -json FILE, -html FILE, -count N,
// -benchtime D|Nx, -latency D|Nx|0, -peers=false, -redis HOST:PORT,
// -save-baseline NAME, -baseline NAME, -gates. Exit code 0 on success, 1 if
// a benchmark failed, an output file could not be written or the baseline
// is corrupt, 2 for bad flags (a bad baseline name or a missing baseline
// included), 3 with -gates when a hard gate fails. The logic lives in
// package bench (bench.Main) so it is testable.
package main

import (
	"os"

	"github.com/substrate-lab/substrate/bench"
)

func main() {
	os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr))
}
