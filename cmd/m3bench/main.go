// Command m3bench runs Substrate's M3 benchmark suite in-process and prints
// the plan-style report: the environment block, Tier A0 with ratios to the
// peers (xsync v4/v3, sync.Map, map+RWMutex), cache-locality and branch
// assessments, and memory overhead.
//
//	go run ./cmd/m3bench                 # full run, 1s per case
//	go run ./cmd/m3bench -quick          # 100ms per case
//	go run ./cmd/m3bench -bench core_ -count 5 -json m3.json
//
// Flags: -quick, -bench REGEXP, -json FILE, -count N, -benchtime D|Nx,
// -peers=false. Exit code 0 on success, 1 if a benchmark failed, 2 for bad
// flags. The logic lives in package bench (bench.Main) so it is testable.
package main

import (
	"os"

	"github.com/substrate-lab/substrate/bench"
)

func main() {
	os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr))
}
