#!/usr/bin/env bash
# Scaling and contention figures on a many-core machine (the workplace's
# lent 16-core box). Test binaries are built beforehand on the dev machine
# (GOOS/GOARCH linux/amd64) into devbin/, because the lent machine may have
# no Go toolchain:
#
#   export CGO_ENABLED=0
#   go test -c -ldflags='-s -w' -o devbin/bench.test ./bench
#   go test -c -ldflags='-s -w' -o devbin/stress.test ./stress
#   go build -ldflags='-s -w' -o devbin/m3bench ./cmd/m3bench
#   go build -ldflags='-s -w' -o devbin/scaleprobe ./internal/tools/scaleprobe
#   gzip -9 devbin/*    # the device's carry limit is 64 MiB in all
#
# Results go to $OUT (default ./devout). Takes about 5-6 minutes on 16 cores.
set -euo pipefail
OUT=${OUT:-$PWD/devout}
mkdir -p "$OUT"
root=$PWD
for f in "$root"/devbin/*.gz; do [ -e "$f" ] && gunzip -f "$f"; done
chmod +x "$root"/devbin/*
{
  echo "host: $(hostname) $(nproc) CPUs"; lscpu 2>/dev/null | grep -E 'Model name|Thread|Core|Socket|NUMA node\(s\)|L3' || true
  date -u +%FT%TZ
} > "$OUT/machine.txt"
# 0. The machine's own ceiling: per-worker rate of pinned work that shares
#    nothing, at 1, 2, 4, 8 cores (internal/tools/scaleprobe).
[ -x "$root/devbin/scaleprobe" ] && "$root/devbin/scaleprobe" >> "$OUT/machine.txt" 2>&1
cd "$root/bench"
# 1. Single-thread figures on this machine, for the ratios below.
"$root/devbin/bench.test" -test.run '^$' -test.bench 'M3/(core_(get|put|cas)_hot|engine_(get|put|cas)_direct|engine_snapshot_acquire|engine_txn_empty_commit)$' \
  -test.benchtime 300ms -test.count 3 -test.cpu 1 > "$OUT/single.txt" 2>&1 || true
echo "step 1 done ${SECONDS}s" >> "$OUT/machine.txt"
# 2. RunParallel scaling: ns/op is wall time per operation; perfect scaling halves it per doubling.
"$root/devbin/bench.test" -test.run '^$' -test.bench 'M3/engine_rmw_disjoint_parallel$|^BenchmarkContention' \
  -test.benchtime 400ms -test.count 2 -test.cpu 1,2,4,8,16 > "$OUT/parallel.txt" 2>&1 || true
echo "step 2 done ${SECONDS}s" >> "$OUT/machine.txt"
# 3. The plan's contention protocol (500/2000/500 ms), pinned, every Tier D case.
"$root/devbin/bench.test" -test.run '^$' -test.bench 'M3/contention/' -test.benchtime 2s -test.count 1 -test.v \
  > "$OUT/contention.txt" 2>&1 || true
echo "step 3 done ${SECONDS}s" >> "$OUT/machine.txt"
# 4. The m3bench Tier D table with the plan's gates (disjoint/8 is judged here: a core per worker).
"$root/devbin/m3bench" -bench 'contention/' -gates -json "$OUT/tierd.json" > "$OUT/m3bench-tierd.txt" 2>&1 \
  && echo "m3bench gates: ok" >> "$OUT/m3bench-tierd.txt" || echo "m3bench gates: exit $?" >> "$OUT/m3bench-tierd.txt"
echo "step 4 done ${SECONDS}s" >> "$OUT/machine.txt"
# 5. Repeats of the cases whose ratio depends on the one-worker baseline's
#    spread (docs/BENCHMARKS.md): shorter measure window, several runs.
#    (A -test.bench pattern cannot alternate across '/' levels: two runs.)
for pat in 'M3/contention/disjoint/(2|8)$' 'M3/contention/statecell/4$'; do
  "$root/devbin/bench.test" -test.run '^$' -test.bench "$pat" -test.count 3 \
    -contention.measure 1s >> "$OUT/repeats.txt" 2>&1 || true
done
echo "step 5 done ${SECONDS}s" >> "$OUT/machine.txt"
# 6. The invariant suite at 1..16 procs.
cd "$root/stress"
"$root/devbin/stress.test" -test.count 1 -test.cpu 1,2,4,8,16 > "$OUT/stress.txt" 2>&1 && echo "stress: ok" >> "$OUT/stress.txt" || echo "stress: FAILED" >> "$OUT/stress.txt"
echo "step 6 done ${SECONDS}s" >> "$OUT/machine.txt"
tail -3 "$OUT/stress.txt"
grep -E '^Benchmark' "$OUT/parallel.txt" | head -40
cat "$OUT/m3bench-tierd.txt" | tail -40
